"""The local run plays the deployed start schedule: created from the template in moto's EventBridge
Scheduler, fired at once and then every period while its State (read from moto each time) is ENABLED, so
disabling it through the scheduler API pauses it, as `neptune-stream stop` does in AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from neptune_local.runtime import LocalOptions, LocalPipeline
from tests.conftest import Synth

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

BOUND_S = 60.0  # generous: on a busy machine a 0.5 s period still ticks many times within it


def _set_state(pipeline: LocalPipeline, state: Literal["ENABLED", "DISABLED"]) -> None:
    """UpdateSchedule replaces the whole definition: send it back with the new State."""
    current: Any = pipeline.scheduler.get_schedule(Name=pipeline.schedule_name)
    keep = ("ScheduleExpression", "FlexibleTimeWindow", "Target")
    pipeline.scheduler.update_schedule(Name=pipeline.schedule_name, State=state, **{k: current[k] for k in keep})


def test_the_schedule_comes_from_the_template_and_fires_only_while_enabled(synth: Synth, tmp_path: Path) -> None:
    options = LocalOptions(data_dir=tmp_path, time_budget_seconds=0.5, start_schedule_period_seconds=0.5)
    with LocalPipeline(synth.stack, options) as pipeline:
        schedule = pipeline.scheduler.get_schedule(Name=pipeline.schedule_name)
        assert schedule["ScheduleExpression"] == "rate(5 minutes)" and schedule["State"] == "ENABLED"
        assert schedule["Target"]["Arn"] == pipeline.state_machine_arn
        assert pipeline.wait_for_schedule_ticks(2, BOUND_S), "the schedule did not fire"
        assert len(pipeline.scheduled_starts) >= 2, "enabled: every firing starts an execution"
        _set_state(pipeline, "DISABLED")
        ticks, starts = pipeline.schedule_ticks, len(pipeline.scheduled_starts)
        # One tick may have read the state just before the update: from the next one on, none starts.
        assert pipeline.wait_for_schedule_ticks(ticks + 4, BOUND_S)
        paused = len(pipeline.scheduled_starts)
        assert paused <= starts + 1
        assert pipeline.wait_for_schedule_ticks(pipeline.schedule_ticks + 3, BOUND_S)
        assert len(pipeline.scheduled_starts) == paused, "disabled: no firing starts anything"
        _set_state(pipeline, "ENABLED")
        assert pipeline.wait_for_schedule_ticks(pipeline.schedule_ticks + 2, BOUND_S)
        assert len(pipeline.scheduled_starts) > paused, "enabled again: it starts executions again"
