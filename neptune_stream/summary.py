"""Prints what a synthesized stack holds: `python -m neptune_stream.summary cdk.out`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from neptune_capture.contract import STACK_NAME


def summarize(template: dict[str, object]) -> str:
    resources = template.get("Resources", {})
    assert isinstance(resources, dict)
    counts = Counter(str(r["Type"]) for r in resources.values())
    lines = [f"{n:3d}  {t}" for t, n in sorted(counts.items())]
    outputs = template.get("Outputs", {})
    assert isinstance(outputs, dict)
    return "\n".join(["Resources:", *lines, "Outputs: " + ", ".join(sorted(outputs))])


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    print(summarize(template))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
