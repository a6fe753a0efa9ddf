"""The chart `make bench` draws into the docs (bench/chart.py): modelled records/s by transactions in flight
beside the serial bound and the records table's quota ceiling, stamped with machine and commit."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.chart import DEFAULT_CHART, InFlightFigures, commit_stamp, in_flight_chart, quota_ceiling_records_per_s
from tests.cli_entry import refusal_of_module

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "bench" / "recorded" / "7332c31.json"
SVG = "{http://www.w3.org/2000/svg}"


def _figures(**changes: object) -> InFlightFigures:
    base: dict[str, object] = {
        "by_in_flight": {1: 1000.0, 4: 3000.0, 16: 9000.0, 32: 7000.0},
        "serial_bound": 1200.0,
        "quota_ceiling": 20000.0,
        "deployed": 16,
        "machine": "2 CPUs (test)",
        "commit": "abc1234",
    }
    return InFlightFigures(**{**base, **changes})  # type: ignore[arg-type]


def test_each_figure_is_a_point_placed_by_its_value_and_the_bounds_are_lines_at_theirs() -> None:
    root = ET.fromstring(in_flight_chart(_figures()))
    points = {int(c.get("data-in-flight", "")): float(c.get("cy", "")) for c in root.iter(f"{SVG}circle")}
    assert set(points) == {1, 4, 16, 32}
    # Higher records/s is higher on the chart (smaller y): the order of the values is the order of the ys.
    assert sorted(points, key=lambda k: points[k]) == [16, 32, 4, 1]
    bounds = {
        float(line.get("data-value", "")): float(line.get("y1", ""))
        for line in root.iter(f"{SVG}line")
        if line.get("class") == "bound"
    }
    assert set(bounds) == {1200.0, 20000.0}
    assert bounds[20000.0] < points[16] < bounds[1200.0] < points[1]  # 20,000 > 9,000 > 1,200 > 1,000
    # The deployed setting is marked; the stamp names the machine and the commit.
    radius = {int(c.get("data-in-flight", "")): float(c.get("r", "")) for c in root.iter(f"{SVG}circle")}
    assert radius[16] > radius[1]
    stamp = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "stamp")
    assert "2 CPUs (test)" in (stamp.text or "") and "abc1234" in (stamp.text or "")


def test_bench_figures_are_read_from_its_json_line_and_the_ceiling_computed_when_absent() -> None:
    recorded = json.loads(RECORDED.read_text())
    figures = InFlightFigures.from_results(recorded)
    assert figures.by_in_flight[16] == recorded["modelled_records_per_s"]
    assert figures.quota_ceiling == pytest.approx(
        recorded["table_wcu"] / (recorded["modelled_records_table_wcu_per_s"] / recorded["modelled_records_per_s"])
    )
    assert quota_ceiling_records_per_s(40_000, 2.0) == 20_000


def test_the_committed_chart_is_drawn_from_the_recorded_figures() -> None:
    drawn = in_flight_chart(InFlightFigures.from_results(json.loads(RECORDED.read_text())))
    assert (ROOT / DEFAULT_CHART).read_text() == drawn, "redraw it: python -m bench.chart bench/recorded/7332c31.json"


def test_figures_that_cannot_be_drawn_are_refused_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="no modelled figure"):
        in_flight_chart(_figures(by_in_flight={}))
    with pytest.raises(ValueError, match="finite"):
        in_flight_chart(_figures(by_in_flight={1: float("nan")}))
    with pytest.raises(ValueError, match=r"lack .*commit"):
        InFlightFigures.from_results({"modelled_records_per_s_by_in_flight": {"1": 5}})
    with pytest.raises(ValueError, match="positive"):
        quota_ceiling_records_per_s(40_000, 0)


def test_the_command_says_what_is_wrong_and_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "bench.json"
    bad.write_text('{"records_per_s": 3524}\n')
    problem, _ = refusal_of_module("bench.chart", str(bad), str(tmp_path / "c.svg"))
    assert "lack" in problem
    assert not (tmp_path / "c.svg").exists()


def test_the_commit_stamp_says_when_the_work_tree_differs(tmp_path: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    run("init", "-q")
    (tmp_path / "f").write_text("1")
    run("add", "f")
    run("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    clean = commit_stamp(tmp_path)
    assert len(clean) >= 7 and not clean.endswith("-dirty")
    (tmp_path / "f").write_text("2")
    assert commit_stamp(tmp_path) == clean + "-dirty"
    assert commit_stamp(tmp_path / "absent").startswith("unknown")
