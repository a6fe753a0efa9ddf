"""The stack's CDK context keys are single-sourced (`neptune_capture.contract.ContextKey`): cdk.json sets only
keys the stack reads, the settings page documents each one, each one changes what the stack is configured
with, and a mistyped key stops the synth naming it instead of leaving the default in place in silence."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from neptune_capture.contract import CONTEXT_PREFIX, ContextKey
from neptune_stream.config import StackConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cdk_json", ["cdk.json", "examples/own-app/cdk.json"])
def test_cdk_json_sets_only_keys_the_stack_reads(cdk_json: str) -> None:
    context: dict[str, Any] = json.loads((ROOT / cdk_json).read_text()).get("context", {})
    ours = {k for k in context if k.startswith(CONTEXT_PREFIX)}
    assert ours <= {k.qualified for k in ContextKey}
    StackConfig.from_context(App(context=context))  # and the stack accepts every one of them


def test_every_key_is_documented_on_the_settings_page() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    rows = set(re.findall(r"^\| `(neptune-stream:[A-Za-z]+)` \|", page, flags=re.MULTILINE))
    assert rows == {k.qualified for k in ContextKey}


# A value of each key other than its default, and how the config then shows it.
CHANGED: dict[ContextKey, tuple[Any, str, Any]] = {
    ContextKey.MODE: ("production", "mode", "production"),
    ContextKey.INSTANCE_CLASS: ("db.r6g.xlarge", "instance_class", "db.r6g.xlarge"),
    ContextKey.STREAMS_EXPIRY_DAYS: ("30", "streams_expiry_days", 30),
    ContextKey.LOG_RETENTION_DAYS: ("90", "log_retention_days", 90),
    ContextKey.PAGE_LIMIT: ("500", "page_limit", 500),
    ContextKey.IN_FLIGHT: ("4", "in_flight", 4),
    ContextKey.IDLE_BASE_SECONDS: ("0.5", "idle_base_seconds", 0.5),
    ContextKey.MAX_IDLE_WAIT_SECONDS: ("8", "max_idle_wait_seconds", 8.0),
    ContextKey.ITERATIONS_PER_EXECUTION: ("50", "iterations_per_execution", 50),
    ContextKey.START_SCHEDULE_MINUTES: ("10", "start_schedule_minutes", 10),
    ContextKey.LAG_ALARM_SECONDS: ("60", "lag_alarm_seconds", 60),
    ContextKey.AUTO_START: ("false", "auto_start", False),
    ContextKey.POWERTOOLS: ("public-layer", "powertools", "public-layer"),
    ContextKey.EXISTING_CLUSTER: ("examples/existing-cluster.json", "existing_cluster", None),
    ContextKey.ALLOW_RESET: ("false", "allow_reset", False),
    ContextKey.START_FROM: ("LATEST", "start_from", "LATEST"),
    ContextKey.GRAPH_MODEL: ("rdf", "graph_model", "rdf"),
}


def test_every_key_changes_the_configuration() -> None:
    assert set(CHANGED) == set(ContextKey), "a key was added: give it a row here"
    default = StackConfig()
    for key, (value, field, expected) in CHANGED.items():
        given = str(ROOT / value) if key == ContextKey.EXISTING_CLUSTER else value
        config = StackConfig.from_context(App(context={key.qualified: given}))
        got = getattr(config, field)
        assert got != getattr(default, field), key
        if expected is not None:
            assert got == expected, key


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("neptune-stream:inflight", "did you mean neptune-stream:inFlight?"), ("neptune-stream:colour", None)],
)
def test_a_mistyped_key_stops_the_synth_naming_it(key: str, suggestion: str | None) -> None:
    with pytest.raises(ValueError, match="is not a setting of the stack") as refused:
        StackConfig.from_context(App(context={key: "8"}))
    assert str(refused.value).startswith(key)
    if suggestion is None:  # nothing alike: no guess
        assert "did you mean" not in str(refused.value)
    else:
        assert suggestion in str(refused.value)
    assert "docs/configuration.md" in str(refused.value)
    # Keys of other libraries (the CDK's feature flags) are none of the stack's business.
    StackConfig.from_context(App(context={"@aws-cdk/core:checkSecretUsage": True}))
