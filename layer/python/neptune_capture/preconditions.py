"""What a cluster must offer before capture can begin, read from Neptune's own status answer (GET /status,
neptunedata GetEngineStatus): whether Streams is on, the engine version, whether IAM authentication is
on. Pure: the status Lambda reports these facts, the stream handler refuses to capture without Streams,
and the CLI shows them, all from the same answer. Standard library only.

The status answer's `features` object carries "Streams" and "IAMAuthentication", each "enabled" or
"disabled" (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-status.html; a cluster with
both off answers as in https://docs.aws.amazon.com/neptune/latest/userguide/neptune-public-endpoints.html,
tests/fixtures/status_streams_disabled.json). Engines from before Streams left lab mode reported it in
`labMode` instead (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html: "Using
Lab Mode to enable Streams is now deprecated"), which is read too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import StreamsDisabledError

ENABLED = "enabled"
# What the owner of the cluster must do, in the words of the user guide: "Setting the parameter to 1 enables
# Streams" and "After changing the neptune_streams DB cluster parameter, you must reboot all DB instances in
# the cluster for the change to take effect" (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html).
ENABLE_STREAMS = (
    "set neptune_streams=1 in the cluster's DB cluster parameter group, then reboot every DB instance of the cluster "
    "(the parameter takes effect only after a reboot): "
    "https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html"
)


@dataclass(frozen=True)
class EngineFacts:
    status: str | None
    role: str | None
    engine_version: str | None
    streams: str | None  # "enabled", "disabled", or None when the answer does not say
    iam_authentication: str | None

    @property
    def streams_enabled(self) -> bool | None:
        """True or False as Neptune says; None when its answer does not say (then the stream itself decides)."""
        return None if self.streams is None else self.streams == ENABLED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"streamsEnabled": self.streams_enabled, "problem": streams_problem(self)}


def engine_facts(status: Mapping[str, Any]) -> EngineFacts:
    features = status.get("features") if isinstance(status.get("features"), Mapping) else {}
    lab = status.get("labMode") if isinstance(status.get("labMode"), Mapping) else {}
    assert isinstance(features, Mapping) and isinstance(lab, Mapping)
    return EngineFacts(
        status=_text(status.get("status")),
        role=_text(status.get("role")),
        engine_version=_text(status.get("dbEngineVersion")),
        streams=_lower(features.get("Streams", lab.get("Streams"))),
        iam_authentication=_lower(features.get("IAMAuthentication")),
    )


def streams_problem(facts: EngineFacts) -> str | None:
    """What stops capture, in words an operator acts on; None when nothing does."""
    if facts.streams_enabled is False:
        return f"Neptune Streams is {facts.streams} on this cluster (engine {facts.engine_version}): {ENABLE_STREAMS}"
    return None


def require_streams(status: Mapping[str, Any]) -> EngineFacts:
    """The facts, or StreamsDisabledError when Neptune says Streams is off: reading the stream then could
    only fail, or look idle forever, for a reason nobody would see."""
    facts = engine_facts(status)
    problem = streams_problem(facts)
    if problem is not None:
        raise StreamsDisabledError(problem)
    return facts


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _lower(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text is not None else None


__all__ = ["ENABLE_STREAMS", "EngineFacts", "engine_facts", "require_streams", "streams_problem"]
