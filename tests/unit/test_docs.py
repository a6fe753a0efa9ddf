"""The README is a front door of at most 15,000 bytes; the rest is the mkdocs site in docs/, which
`make docs` builds with `mkdocs build --strict` (a warning, such as a broken link or a page left out of the
nav, fails it). The exactly-once invariants are cited by the tests that show them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 15_000


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """What `make docs` runs (its recipe is checked below), with the site written elsewhere."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_make_docs_builds_the_site_strictly(tmp_path: Path) -> None:
    recipe = (ROOT / "Makefile").read_text().split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "mkdocs build --strict" in recipe
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "exactly-once" / "index.html").exists()


def test_the_strict_build_fails_on_a_broken_link_and_on_a_page_left_out_of_the_nav(tmp_path: Path) -> None:
    for name, page in (("broken.md", "# Broken\n\nSee [nothing](no-such-page.md).\n"), ("orphan.md", "# Orphan\n")):
        project = tmp_path / name
        shutil.copytree(DOCS, project / "docs")
        shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
        (project / "docs" / name).write_text(page)
        if name == "broken.md":  # in the nav, so only its link is wrong
            config = (
                (project / "mkdocs.yml")
                .read_text()
                .replace("  - Home: index.md\n", "  - Home: index.md\n  - Broken: broken.md\n")
            )
            (project / "mkdocs.yml").write_text(config)
        done = _build(project, tmp_path / f"site-{name}")
        assert done.returncode != 0, name
        assert ("no-such-page.md" if name == "broken.md" else "orphan.md") in done.stderr


def test_the_readme_is_a_front_door_of_at_most_15000_bytes() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size:,} bytes: move detail into docs/ (at most {README_LIMIT:,})"


def _nav_pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_nav_pages(v) for v in nav.values()))
    return set().union(*(_nav_pages(v) for v in nav)) if nav else set()


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    nav = _nav_pages(load_config(str(ROOT / "mkdocs.yml"))["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - nav == set(), "pages missing from mkdocs.yml's nav"
    assert nav - pages == set(), "nav entries without a page"


def test_the_readme_links_only_to_files_that_exist() -> None:
    targets = re.findall(r"\]\(((?!https?://)[^)#\s]+)", README.read_text())
    assert targets, "the README links to the docs"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, missing


def test_every_invariant_is_cited_by_a_test_name_and_every_citation_names_an_invariant() -> None:
    page = (DOCS / "exactly-once.md").read_text()
    invariants = {int(n) for n in re.findall(r"^## I(\d+)\. .* \{#i\1\}$", page, re.MULTILINE)}
    assert invariants == set(range(1, max(invariants) + 1)), "invariants are numbered I1..In without a hole"
    cited: set[int] = set()
    for test_file in (ROOT / "tests").rglob("test_*.py"):
        for name in re.findall(r"^def (test_i\d+(?:_i\d+)*)_", test_file.read_text(), re.MULTILINE):
            cited |= {int(n) for n in re.findall(r"i(\d+)", name)}
    assert invariants - cited == set(), "invariants no test name cites"
    assert cited - invariants == set(), "test names citing an invariant that does not exist"
    # Each "Shown by" names a test that exists where it says.
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", page):
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.MULTILINE), f"{path}::{name}"
