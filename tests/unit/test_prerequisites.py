"""`make env`'s check of the machine: what is missing is named with the Debian package that provides it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from neptune_local import prerequisites
from neptune_local.dynamodb_local import java_feature_version

SCRIPT = Path(prerequisites.__file__)


def _run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The interpreter by its full path; PATH holds only `path`.
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env={"PATH": str(path)}, check=False
    )


def test_a_machine_without_java_and_node_is_told_what_to_install(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "sudo apt-get install -y openjdk-17-jdk-headless" in result.stderr
    assert "sudo apt-get install -y nodejs npm" in result.stderr
    assert "next: " in result.stderr
    listed = _run(tmp_path, "--debian-packages")
    assert listed.returncode == 0 and listed.stdout.split() == ["nodejs", "npm", "openjdk-17-jdk-headless"]


def _fake(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_a_java_older_than_17_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "jdk11"
    (home / "bin").mkdir(parents=True)
    (home / "release").write_text('JAVA_VERSION="11.0.22"\n')
    _fake(home / "bin", "java", "exit 0")
    _fake(home / "bin", "javac", "exit 0")
    _fake(home / "bin", "node", "echo v20.11.1")
    _fake(home / "bin", "npm", "exit 0")
    result = _run(home / "bin")
    assert result.returncode == 1
    assert "is Java 11; DynamoDB Local needs 17+" in result.stderr
    assert "node" not in result.stderr.replace(str(home), ""), "node 20 is enough"


def test_the_java_version_is_read_from_the_jdks_release_file(tmp_path: Path) -> None:
    (tmp_path / "release").write_text('IMPLEMENTOR="Debian"\nJAVA_VERSION="17.0.15"\n')
    assert java_feature_version(tmp_path) == 17
    (tmp_path / "release").write_text('JAVA_VERSION="1.8.0_402"\n')
    assert java_feature_version(tmp_path) == 8
    (tmp_path / "release").unlink()
    assert java_feature_version(tmp_path) is None
