"""The chart `make bench` draws into the docs: modelled records/s by transactions in flight, beside the
serial bound (one writer waiting for each transaction) and the records table's quota ceiling.

`in_flight_chart` is pure (figures in, SVG text out: standard library only, no plotting package);
`write_chart` and `main` do the I/O. `python -m bench.chart FIGURES.json [OUT.svg]` redraws a chart from
the JSON line `make bench` prints, or from a file of recorded figures (bench/recorded/).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

DEFAULT_CHART = Path("docs/images/bench-in-flight.svg")

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 80, 200, 50, 80


@dataclass(frozen=True)
class InFlightFigures:
    """What the chart shows, each figure from one `make bench` run (bench/pipeline.py)."""

    by_in_flight: dict[int, float]  # modelled records/s for each transactions-in-flight setting
    serial_bound: float  # records/s of a writer that waits for each transaction, under the same model
    quota_ceiling: float  # records/s at which the records table reaches its write-unit quota
    deployed: int  # the deployed in-flight setting, marked on the chart
    machine: str
    commit: str

    @classmethod
    def from_results(cls, results: dict[str, Any]) -> InFlightFigures:
        """From the JSON line `make bench` prints (or a recorded copy of it). A record without the quota
        ceiling gives what it is computed from: the table's quota (`table_wcu`), and the deployed setting's
        records/s and write units per second on the records table."""
        needed = ["modelled_records_per_s_by_in_flight", "modelled_serial_bound_records_per_s", "in_flight", "machine", "commit"]
        if "modelled_quota_ceiling_records_per_s" not in results:
            needed += ["table_wcu", "modelled_records_table_wcu_per_s", "modelled_records_per_s"]
        missing = [k for k in needed if k not in results]
        if missing:
            raise ValueError(f"the bench figures lack {', '.join(missing)}: give the JSON line `make bench` prints last")
        ceiling = results.get("modelled_quota_ceiling_records_per_s") or quota_ceiling_records_per_s(
            float(results["table_wcu"]),
            float(results["modelled_records_table_wcu_per_s"]) / float(results["modelled_records_per_s"]),
        )
        return cls(
            by_in_flight={int(k): float(v) for k, v in results["modelled_records_per_s_by_in_flight"].items()},
            serial_bound=float(results["modelled_serial_bound_records_per_s"]),
            quota_ceiling=float(ceiling),
            deployed=int(results["in_flight"]),
            machine=str(results["machine"]),
            commit=str(results["commit"]),
        )


def quota_ceiling_records_per_s(table_write_units_per_s: float, write_units_per_record: float) -> float:
    """The records/s at which one table's write units per second reach its quota."""
    if write_units_per_record <= 0:
        raise ValueError(f"write units per record must be positive, not {write_units_per_record}")
    return table_write_units_per_s / write_units_per_record


def in_flight_chart(figures: InFlightFigures) -> str:
    """An SVG line chart: x is the transactions in flight (a log2 axis: the bench's settings double), y the
    records/s from 0 to above the highest figure, two dashed horizontal lines for the bounds."""
    if not figures.by_in_flight:
        raise ValueError("no modelled figure to draw: the bench measured no in-flight setting")
    if any(k < 1 for k in figures.by_in_flight) or any(v < 0 or not math.isfinite(v) for v in figures.by_in_flight.values()):
        raise ValueError(f"in-flight settings must be >= 1 and figures finite and >= 0: {figures.by_in_flight}")
    settings = sorted(figures.by_in_flight)
    highest = max([*figures.by_in_flight.values(), figures.serial_bound, figures.quota_ceiling]) * 1.08
    step = _nice_ceiling(highest / 5)
    ticks = math.ceil(highest / step)
    top = step * ticks
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    lo, hi = math.log2(settings[0]), math.log2(settings[-1])

    def x(k: int) -> float:
        return LEFT + (plot_w / 2 if hi == lo else (math.log2(k) - lo) / (hi - lo) * plot_w)

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        "<title>Modelled records/s by transactions in flight</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="28" font-size="15" font-weight="bold">Modelled records/s by transactions in flight</text>',
    ]
    for i in range(ticks + 1):  # y grid and labels
        v = step * i
        parts.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + plot_w}" y2="{y(v):.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    for k in settings:  # x ticks
        parts.append(f'<text x="{x(k):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{k}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h + 38}" text-anchor="middle">transactions in flight</text>')
    parts.append(
        f'<text x="18" y="{TOP + plot_h / 2}" text-anchor="middle" transform="rotate(-90 18 {TOP + plot_h / 2})">records/s</text>'
    )
    for value, label, colour in (
        (figures.quota_ceiling, "records table quota", "#c62828"),
        (figures.serial_bound, "serial bound", "#6d6d6d"),
    ):
        parts.append(
            f'<line class="bound" data-value="{value:.0f}" x1="{LEFT}" y1="{y(value):.1f}" x2="{LEFT + plot_w}" '
            f'y2="{y(value):.1f}" stroke="{colour}" stroke-dasharray="6 4"/>'
        )
        parts.append(f'<text x="{LEFT + plot_w + 6}" y="{y(value) + 4:.1f}" fill="{colour}">{label} {value:,.0f}</text>')
    points = " ".join(f"{x(k):.1f},{y(figures.by_in_flight[k]):.1f}" for k in settings)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for k in settings:
        v = figures.by_in_flight[k]
        radius = 6 if k == figures.deployed else 4
        parts.append(
            f'<circle class="figure" data-in-flight="{k}" data-value="{v:.0f}" cx="{x(k):.1f}" cy="{y(v):.1f}" '
            f'r="{radius}" fill="#1565c0"/>'
        )
        parts.append(f'<text x="{x(k):.1f}" y="{y(v) - 10:.1f}" text-anchor="middle">{v:,.0f}</text>')
    parts.append(
        f'<text x="{LEFT + plot_w + 6}" y="{TOP + 12}" fill="#1565c0">modelled records/s</text>'
        f'<text x="{LEFT + plot_w + 6}" y="{TOP + 28}" fill="#1565c0">(large dot: deployed {figures.deployed})</text>'
    )
    parts.append(
        f'<text class="stamp" x="{LEFT}" y="{HEIGHT - 14}" font-size="11" fill="#444">'
        f"{escape(figures.machine)} · commit {escape(figures.commit)}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above value: round axis labels."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def machine_stamp() -> str:
    """What the figures were measured on: CPU count and model, OS, Python."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")), model
        )
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.machine()}, {python}"


def commit_stamp(repo: Path = Path()) -> str:
    """The commit the figures were measured at; `-dirty` when the work tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def write_chart(figures: InFlightFigures, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(in_flight_chart(figures))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chart", description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, help="a file holding the JSON line `make bench` prints last")
    parser.add_argument("out", type=Path, nargs="?", default=DEFAULT_CHART)
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.figures.read_text().strip().splitlines()[-1])
        figures = InFlightFigures.from_results(results)
    except (OSError, ValueError, IndexError) as error:
        print(f"error: {args.figures}: {error}\n  next: pass the file `make bench` wrote its last line to", file=sys.stderr)
        return 2
    print(write_chart(figures, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
