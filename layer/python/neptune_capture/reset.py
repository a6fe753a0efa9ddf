"""A reset through neptune-stream: the graph is reset and capture generation N+1 opened, only once capture
has stored everything the stream holds and while capture is stopped, so nothing of generation N is lost and
generation N+1 is captured from its first change. Used by the reset Lambda and by the local run's CLI alike;
the invariants are in docs/reset-and-generations.md."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from .contract import ResetReply
from .errors import CaptureError
from .events import EventId, StreamEvent
from .generations import restart_evidence
from .plan import BatchContext, Checkpoint
from .schema import GenerationReason

log = logging.getLogger(__name__)


class ResetRefusedError(CaptureError):
    """The reset was not made (nothing changed): the message says why, `next_step` what to do."""

    def __init__(self, message: str, next_step: str) -> None:
        super().__init__(f"{message}; next: {next_step}")
        self.problem, self.next_step = message, next_step


class StreamReader(Protocol):
    def latest(self) -> StreamEvent | None: ...
    def at(self, position: EventId) -> StreamEvent | None: ...


class GenerationStore(Protocol):
    def read_checkpoint(self) -> Checkpoint: ...
    def open_generation(
        self, checkpoint: Checkpoint, reason: GenerationReason, detail: str, context: BatchContext | None
    ) -> Checkpoint: ...


def reset_with_new_generation(
    reset_graph: Callable[[], dict[str, Any]],
    store: GenerationStore,
    source: StreamReader,
    *,
    discard_uncaptured: bool = False,
) -> dict[str, Any]:
    """Refuses while capture holds the lease, or while the stream holds a change capture has not stored
    (unless `discard_uncaptured`); otherwise Neptune's fast reset, then generation N+1 (plan.generation_items).
    If the reset succeeds and opening the generation does not, the stream handler finds the stream restarted
    under its checkpoint and opens it itself (generations.restart_evidence)."""
    checkpoint = store.read_checkpoint()
    if checkpoint.lease_owner:
        raise ResetRefusedError(
            f"capture is running (execution {checkpoint.lease_owner.rsplit(':', 1)[-1]} holds the stream's lease)",
            "stop it first: `./neptune-stream stop` (`./neptune-stream reset` does that itself)",
        )
    latest = source.latest()
    uncaptured = ""
    if latest is not None:
        position = checkpoint.position
        if position is None:
            uncaptured = (
                f"nothing of generation {checkpoint.generation} is captured yet, the stream holds changes up to {latest.event_id}"
            )
        elif (evidence := restart_evidence(position, checkpoint.commit_timestamp, source.at(position))) is not None:
            uncaptured = f"the stream restarted after the checkpoint ({evidence}) and holds changes up to {latest.event_id}"
        elif latest.event_id > position:
            uncaptured = f"capture stored changes up to {position}, the stream holds changes up to {latest.event_id}"
    if uncaptured and not discard_uncaptured:
        raise ResetRefusedError(
            f"a reset now would erase changes capture has not stored: {uncaptured}",
            "start capture (`./neptune-stream start`), wait until `./neptune-stream status` shows no lag, stop the "
            "graph's writers, then reset again; or reset with --discard-uncaptured to lose them on purpose",
        )
    if uncaptured:
        log.warning("reset discards changes capture has not stored: %s", uncaptured)
    result = reset_graph()
    detail = "Neptune fast reset through neptune-stream" + (
        f", discarding uncaptured changes: {uncaptured}" if uncaptured else ""
    )
    opened = store.open_generation(checkpoint, GenerationReason.RESET_BY_PROJECT, detail, None)
    return result | {
        ResetReply.GENERATION: opened.generation,
        ResetReply.GENERATION_STARTED_AT: opened.generation_started_at,
        ResetReply.PREVIOUS_GENERATION: checkpoint.generation,
        ResetReply.LAST_CAPTURED: checkpoint.position.as_dict() if checkpoint.position else None,
        ResetReply.DISCARDED: uncaptured or None,
    }
