"""The import rules that keep the house easy to move in, each checked on the sources (or, for what a module
loads at run time, in a fresh interpreter): the capture core loads no AWS SDK, the top-level packages
import each other without a cycle, the entry-point plumbing is standard library only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "neptune_capture": ROOT / "layer" / "python" / "neptune_capture",
    "neptune_stream": ROOT / "neptune_stream",
    "neptune_emulator": ROOT / "neptune_emulator",
    "neptune_local": ROOT / "neptune_local",
    "neptune_cli": ROOT / "neptune_cli",
    "neptune_entry": ROOT / "neptune_entry",
    "neptune_ops": ROOT / "neptune_ops",
    "lambdas": ROOT / "lambdas",
    "bench": ROOT / "bench",
}
CORE = ("plan", "pipeline", "poller", "events", "items", "ports")
SDK = ("boto3", "botocore")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (a lazy import is a dependency too),
    but not under `if TYPE_CHECKING:`; relative imports resolved against the file's package."""
    root = PACKAGES["neptune_capture"].parent if "layer" in path.relative_to(ROOT).parts else ROOT
    package = path.parent.relative_to(root).as_posix().replace("/", ".")
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def package_graph() -> dict[str, set[str]]:
    """Top-level package -> the other project packages it imports."""
    graph: dict[str, set[str]] = {}
    for name, folder in PACKAGES.items():
        targets: set[str] = set()
        for path in folder.rglob("*.py"):
            targets |= {m.split(".")[0] for m in imported_modules(path)}
        graph[name] = (targets & set(PACKAGES)) - {name}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every elementary cycle's smallest rotation, found by depth-first search (a handful of nodes)."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for target in graph.get(node, ()):
            if target == start:
                smallest = min(range(len(path)), key=lambda i: path[i])
                found.add(tuple(path[smallest:] + path[:smallest]))
            elif target not in path:
                walk(start, target, [*path, target])

    for start in graph:
        walk(start, start, [start])
    return sorted(list(c) for c in found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_top_level_packages() -> None:
    assert cycles(package_graph()) == []


def loaded_after_import(modules: Iterable[str]) -> list[str]:
    probe = f"import sys, json; import {', '.join(modules)}; print(json.dumps(sorted(m for m in {SDK!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_capture_core_loads_neither_boto3_nor_botocore() -> None:
    assert loaded_after_import(f"neptune_capture.{m}" for m in CORE) == []
    # The probe sees the SDK where it is loaded: the DynamoDB adapter imports botocore.
    assert "botocore" in loaded_after_import(["neptune_capture.store"])


def test_the_entry_point_plumbing_imports_only_the_standard_library() -> None:
    """And the project's shared names (neptune_capture.contract, itself standard library only)."""
    modules = list(PACKAGES["neptune_entry"].glob("*.py"))
    assert len(modules) >= 4
    allowed = {*sys.stdlib_module_names, "neptune_entry", "__future__"}
    for path in modules:
        outside = {m for m in imported_modules(path) if m.split(".")[0] not in allowed} - {"neptune_capture.contract"}
        assert outside == set(), f"{path.relative_to(ROOT)} imports {outside}"
    # What importing it adds to a fresh interpreter: nothing outside the standard library but itself and contract.
    probe = (
        "import sys, json; before = set(sys.modules); import neptune_entry.runner, neptune_entry.arguments; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    added = {m.split(".")[0] for m in json.loads(result.stdout)}
    assert added - set(sys.stdlib_module_names) == {"neptune_entry", "neptune_capture"}


def test_the_emulator_does_not_use_the_capture_nquads_code() -> None:
    """The emulator writes the stream the capture reads: sharing the capture's N-Quads code would let one
    mistake pass on both sides."""
    modules = sorted(PACKAGES["neptune_emulator"].rglob("*.py"))
    assert len(modules) > 5
    users = [
        str(p.relative_to(ROOT)) for p in modules if any(m.startswith("neptune_capture.nquads") for m in imported_modules(p))
    ]
    assert users == []
