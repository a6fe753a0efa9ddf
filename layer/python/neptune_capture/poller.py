"""The capture loop of one invocation: take the lease, then read pages and write them as fenced
transactions until the time budget is spent. The next page is fetched while the current one is written;
when the stream is idle the loop backs off (0.1, 0.2, 0.4 ... s up to a max) instead of returning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from . import metrics as m
from .backoff import idle_waits
from .clock import Clock
from .contract import Key, StartFrom, Status
from .errors import FencedError, StreamExpiredError
from .events import EventId, StreamEvent, StreamPage
from .metrics import MetricsSink
from .plan import BatchContext, Checkpoint, Lease, Transaction, plan_lazily
from .settings import DEFAULT_IDLE_BASE_SECONDS, DEFAULT_LEASE_TTL_SECONDS, DEFAULT_MAX_IDLE_WAIT_SECONDS

log = logging.getLogger(__name__)


class StreamSource(Protocol):
    def fetch(self, after: EventId | None) -> StreamPage: ...
    def latest(self) -> StreamEvent | None: ...


class Store(Protocol):
    def acquire_lease(
        self, owner: str, parent: str | None, ttl_ms: int, *, force: bool = False, take_over_from: str | None = None
    ) -> tuple[Checkpoint, Lease]: ...
    def write(self, txn: Transaction, lease: Lease) -> None: ...
    def record_gap(self, checkpoint: Checkpoint, context: BatchContext, reason: str) -> Checkpoint: ...
    def record_start_from_latest(
        self, checkpoint: Checkpoint, context: BatchContext, latest: StreamEvent | None
    ) -> Checkpoint: ...


@dataclass(frozen=True)
class PollSettings:
    stream_id: str
    idle_base_seconds: float = DEFAULT_IDLE_BASE_SECONDS
    max_idle_wait_seconds: float = DEFAULT_MAX_IDLE_WAIT_SECONDS
    lease_ttl_ms: int = DEFAULT_LEASE_TTL_SECONDS * 1000
    # Where the first capture on the stream begins when the execution does not say (the deployed default).
    start_from: StartFrom = StartFrom.TRIM_HORIZON


@dataclass
class PollResult:
    status: Status
    checkpoint: EventId | None
    records: int = 0
    transactions: int = 0
    pages: int = 0
    lag_ms: int | None = None
    message: str = ""
    gap_recorded: bool = False
    # False when the lease could not be taken at all; then `lease_holder` names who holds it, if known.
    lease_taken: bool = True
    lease_holder: str | None = None
    # Set by the invocation that started the stream from LATEST: the record it started after (None: the
    # stream was empty).
    started_from_latest: bool = False
    started_after: EventId | None = None


class Poller:
    def __init__(
        self,
        source: StreamSource,
        store: Store,
        settings: PollSettings,
        clock: Clock,
        metrics: MetricsSink,
        *,
        preflight: Callable[[], object] | None = None,
    ) -> None:
        self.source, self.store, self.settings, self.clock, self.metrics = source, store, settings, clock, metrics
        # Run once the lease is taken, before anything is read: raises when the cluster cannot be captured
        # (Neptune Streams off), so the execution fails saying why instead of polling a stream that is not there.
        self.preflight = preflight

    def run(
        self,
        owner: str,
        *,
        deadline: float,
        parent: str | None = None,
        resume_from_trim_horizon: bool = False,
        force_lease: bool = False,
        take_over_from: str | None = None,
        start_from: StartFrom | None = None,
    ) -> PollResult:
        """`deadline` is on the clock's monotonic scale. `start_from` (else the settings' default) applies to
        the first capture on the stream only: a checkpoint that has never moved."""
        try:
            checkpoint, lease = self.store.acquire_lease(
                owner, parent, self.settings.lease_ttl_ms, force=force_lease, take_over_from=take_over_from
            )
        except FencedError as fenced:
            return PollResult(
                status=Status.FENCED, checkpoint=None, message=str(fenced), lease_taken=False, lease_holder=fenced.holder
            )
        if take_over_from:
            log.warning("%s takes stream %s over from %s, which is not running", owner, self.settings.stream_id, take_over_from)
        if self.preflight is not None:
            self.preflight()
        result = PollResult(status=Status.IDLE, checkpoint=checkpoint.position)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as prefetch:
            try:
                checkpoint = self._start(checkpoint, lease, owner, start_from, result)
                log.info("lease taken by %s; capture resumes after %s", owner, checkpoint.position or "TRIM_HORIZON")
                self._loop(
                    prefetch,
                    checkpoint=checkpoint,
                    lease=lease,
                    owner=owner,
                    deadline=deadline,
                    resume_from_trim_horizon=resume_from_trim_horizon,
                    result=result,
                )
            except FencedError as fenced:
                result.status, result.message = Status.FENCED, str(fenced)
        return result

    def _start(self, checkpoint: Checkpoint, lease: Lease, owner: str, asked: StartFrom | None, result: PollResult) -> Checkpoint:
        """The first capture on a stream begins where the execution (or the deployment) says; after that the
        checkpoint alone decides, whatever an execution asks."""
        first = checkpoint.position is None and checkpoint.version == 0
        if not first:
            if asked is not None:
                result.message = (
                    f"{Key.START_FROM}={asked} ignored: stream {self.settings.stream_id} was started before "
                    f"(checkpoint {checkpoint.position or 'cleared by a gap'}, version {checkpoint.version})"
                )
                log.warning("%s", result.message)
            return checkpoint
        if (asked or self.settings.start_from) != StartFrom.LATEST:
            return checkpoint
        latest = self.source.latest()
        started = self.store.record_start_from_latest(checkpoint, self._context(lease, owner, None), latest)
        result.started_from_latest, result.started_after, result.checkpoint = True, started.position, started.position
        return started

    def _loop(
        self,
        prefetch: ThreadPoolExecutor,
        *,
        checkpoint: Checkpoint,
        lease: Lease,
        owner: str,
        deadline: float,
        resume_from_trim_horizon: bool,
        result: PollResult,
    ) -> None:
        waits = idle_waits(self.settings.idle_base_seconds, self.settings.max_idle_wait_seconds)
        pending: Future[StreamPage] = prefetch.submit(self.source.fetch, checkpoint.position)
        while True:
            try:
                page = pending.result()
            except StreamExpiredError as expired:
                self.metrics.add(m.EXPIRED, 1)
                log.error("checkpoint %s is older than the stream's retention: %s", checkpoint.position, expired)
                if not resume_from_trim_horizon or result.gap_recorded:
                    raise StreamExpiredError(
                        f"checkpoint {checkpoint.position} of stream {self.settings.stream_id} is older than the stream's "
                        f"retention ({expired}). Changes after it are lost from Neptune. To resume from the oldest "
                        "change still in the stream, recording the gap in the history, start an execution with "
                        f'{{"{Key.RESUME_FROM_TRIM_HORIZON}": true}}.'
                    ) from expired
                checkpoint = self.store.record_gap(checkpoint, self._context(lease, owner, None), str(expired))
                result.gap_recorded, result.checkpoint = True, None
                pending = prefetch.submit(self.source.fetch, None)
                continue
            result.pages += 1
            if page.empty:
                wait = next(waits)
                if self.clock.monotonic() + wait >= deadline:
                    return
                self.clock.sleep(wait)
                pending = prefetch.submit(self.source.fetch, checkpoint.position)
                continue
            waits = idle_waits(self.settings.idle_base_seconds, self.settings.max_idle_wait_seconds)
            more_time = self.clock.monotonic() < deadline
            if more_time:
                # Read ahead while this page is written: reading and writing overlap.
                pending = prefetch.submit(self.source.fetch, page.events[-1].event_id)
            checkpoint = self._write(page, checkpoint, lease, owner, result)
            if not more_time or self.clock.monotonic() >= deadline:
                return

    def _context(self, lease: Lease, owner: str, last_trx: int | None) -> BatchContext:
        return BatchContext(
            stream_id=self.settings.stream_id,
            lease=lease,
            now_ms=self.clock.now_ms(),
            last_trx_timestamp=last_trx,
            execution_id=owner,
        )

    def _write(self, page: StreamPage, checkpoint: Checkpoint, lease: Lease, owner: str, result: PollResult) -> Checkpoint:
        for txn in plan_lazily(page.events, checkpoint, lambda: self._context(lease, owner, page.last_trx_timestamp)):
            self.store.write(txn, lease)
            checkpoint = checkpoint.after(txn, lease.owner)
            result.transactions += 1
            result.records += len(txn.records)
            result.checkpoint = txn.last
            self.metrics.add(m.RECORDS, len(txn.records))
            self.metrics.add(m.BATCHES, 1)
            truncated = sum(1 for r in txn.records if "truncated" in r)
            if truncated:
                self.metrics.add(m.TRUNCATED, truncated)
        newest = page.last_trx_timestamp or page.events[-1].commit_timestamp
        result.lag_ms = max(0, self.clock.now_ms() - newest)
        self.metrics.add(m.LAG_MS, result.lag_ms, "Milliseconds")
        log.info(
            "captured %d events %s..%s, checkpoint %s, lag %d ms",
            len(page.events),
            page.events[0].event_id,
            page.events[-1].event_id,
            checkpoint.position,
            result.lag_ms,
        )
        result.status = Status.ACTIVE
        return checkpoint
