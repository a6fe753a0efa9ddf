"""How the project is packaged: deploying needs only the CDK libraries, each Lambda imports only what the
layer, the Powertools layer and the runtime ship, the layer asset holds the same files the project
installs, and no module reaches into sys.path."""

from __future__ import annotations

import ast
import filecmp
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Synth

ROOT = Path(__file__).resolve().parents[2]
LAYER_PACKAGE = ROOT / "layer" / "python" / "neptune_capture"
PROJECT_MODULES = [
    p for folder in ("neptune_stream", "neptune_capture", "neptune_emulator", "neptune_local", "neptune_cli", "neptune_entry",
                     "neptune_ops", "lambdas", "bench")
    for p in ((LAYER_PACKAGE if folder == "neptune_capture" else ROOT / folder).rglob("*.py"))
]  # fmt: skip
# What a Lambda execution environment offers besides the standard library: the runtime's AWS SDK and
# the Powertools layer (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html).
LAMBDA_PROVIDED = {"boto3", "botocore", "aws_lambda_powertools"}
NOT_FOR_DEPLOYING = ("boto3", "botocore", "aws_lambda_powertools", "moto", "aiohttp", "gremlin_python", "rich")


def top_level_imports(path: Path) -> set[str]:
    """The packages a module imports at run time (not those under `if TYPE_CHECKING:`)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found - {"__future__"}


def test_synthesizing_imports_nothing_but_the_cdk_libraries() -> None:
    probe = f"import sys, neptune_stream.app; print([m for m in {NOT_FOR_DEPLOYING!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    assert json.loads(result.stdout.replace("'", '"')) == []


def test_handlers_and_the_layer_import_only_what_lambda_provides() -> None:
    allowed = set(sys.stdlib_module_names) | LAMBDA_PROVIDED | {"neptune_capture"}
    modules = [*(ROOT / "lambdas").rglob("index.py"), *LAYER_PACKAGE.glob("*.py")]
    assert len(modules) > 10
    for path in modules:
        assert top_level_imports(path) <= allowed, f"{path.relative_to(ROOT)} imports {top_level_imports(path) - allowed}"


def test_the_layer_asset_ships_the_installed_package(synth: Synth) -> None:
    (layer,) = [r for r in synth.resources("AWS::Lambda::LayerVersion").values()]
    asset = synth.outdir / layer["Metadata"]["aws:asset:path"]
    shipped = asset / "python" / "neptune_capture"
    comparison = filecmp.dircmp(shipped, LAYER_PACKAGE, ignore=["__pycache__"])
    assert comparison.left_only == comparison.right_only == comparison.diff_files == []
    assert sorted(p.name for p in shipped.glob("*.py")) == sorted(p.name for p in LAYER_PACKAGE.glob("*.py"))
    import neptune_capture

    assert Path(neptune_capture.__file__).parent == LAYER_PACKAGE, "the project installs the layer's own folder"


def test_no_module_edits_sys_path() -> None:
    offenders = []
    for path in PROJECT_MODULES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
