"""The capture loop of one invocation: take the lease, then read pages and write them as fenced
transactions until the time budget is spent. The next page is fetched while the current one is written,
and several transactions of a backlog are in flight at once (pipeline.Pipeline); when the stream is idle
the loop backs off (0.1, 0.2, 0.4 ... s up to a max) instead of returning.

Batches are cut across pages (plan.Batcher): the events left over at the end of a page wait for the next
page. An empty page means the stream has caught up: the tail is written at once, alone, with the
checkpoint update to its own end."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from . import metrics as m
from .backoff import idle_waits
from .clock import Clock
from .contract import Key, StartFrom, Status
from .errors import FencedError, StreamExpiredError
from .events import EventId, StreamPage
from .generations import restart_evidence
from .lanes import Lanes, ThreadLanes
from .metrics import MetricsSink
from .pipeline import Pipeline
from .plan import BatchContext, Batcher, Checkpoint, Lease
from .ports import Store, StreamSource
from .schema import GenerationReason
from .settings import (
    DEFAULT_IDLE_BASE_SECONDS,
    DEFAULT_IN_FLIGHT,
    DEFAULT_LEASE_TTL_SECONDS,
    DEFAULT_MAX_IDLE_WAIT_SECONDS,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollSettings:
    stream_id: str
    idle_base_seconds: float = DEFAULT_IDLE_BASE_SECONDS
    max_idle_wait_seconds: float = DEFAULT_MAX_IDLE_WAIT_SECONDS
    lease_ttl_ms: int = DEFAULT_LEASE_TTL_SECONDS * 1000
    in_flight: int = DEFAULT_IN_FLIGHT
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
    max_in_flight: int = 0
    # False when the lease could not be taken at all; then `lease_holder` names who holds it, if known.
    lease_taken: bool = True
    lease_holder: str | None = None
    # Set by the invocation that started the stream from LATEST: the record it started after (None: the
    # stream was empty).
    started_from_latest: bool = False
    started_after: EventId | None = None
    # The capture generation at the end of the invocation; `restarted` says why this invocation opened it
    # (the stream restarted under the checkpoint), empty when it did not.
    generation: int = 0
    restarted: str = ""


class Poller:
    def __init__(
        self,
        source: StreamSource,
        store: Store,
        settings: PollSettings,
        clock: Clock,
        metrics: MetricsSink,
        *,
        lanes: Callable[[int], Lanes] = ThreadLanes,
        preflight: Callable[[], object] | None = None,
    ) -> None:
        self.source, self.store, self.settings, self.clock, self.metrics = source, store, settings, clock, metrics
        self.lanes = lanes
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
        result = PollResult(status=Status.IDLE, checkpoint=checkpoint.position, generation=checkpoint.generation)
        try:
            checkpoint = self._start(checkpoint, lease, owner, start_from, result)
        except FencedError as fenced:
            result.status, result.message = Status.FENCED, str(fenced)
            return result
        log.info("lease taken by %s; capture resumes after %s", owner, checkpoint.position or "TRIM_HORIZON")
        self.metrics.add(m.POLLING_INVOCATIONS, 1)
        # The data transactions, and one advance or final batch beside them.
        lanes = self.lanes(self.settings.in_flight + 1)
        pipeline = Pipeline(
            self.store,
            lanes,
            checkpoint=checkpoint,
            lease=lease,
            in_flight=self.settings.in_flight,
            context_now=partial(self._context, lease, owner, None),
            metrics=self.metrics,
        )
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as prefetch:
                try:
                    self._loop(
                        prefetch,
                        pipeline,
                        lease=lease,
                        owner=owner,
                        deadline=deadline,
                        resume_from_trim_horizon=resume_from_trim_horizon,
                        result=result,
                    )
                except FencedError as fenced:
                    result.status, result.message = Status.FENCED, str(fenced)
        finally:
            lanes.close()
            progress = pipeline.progress
            result.records, result.transactions = progress.records, progress.transactions
            result.max_in_flight = progress.max_in_flight
            result.checkpoint = pipeline.checkpoint.position
            result.generation = pipeline.checkpoint.generation
        return result

    def _read(self, after: EventId | None, after_ts: int | None) -> tuple[StreamPage, str | None]:
        """The page after `after`, then the event at `after` read back (generations.restart_evidence): the
        second read comes after the first, so when it finds the same event the page came from the same
        stream. (A reset between the two reads shows at this read or the next.)"""
        page = self.source.fetch(after)
        if after is None:
            return page, None
        try:
            found = self.source.at(after)
        except StreamExpiredError:
            # Retention removed the checkpoint's own event: the stream is the one read, only older.
            return page, None
        return page, restart_evidence(after, after_ts, found)

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
        pipeline: Pipeline,
        *,
        lease: Lease,
        owner: str,
        deadline: float,
        resume_from_trim_horizon: bool,
        result: PollResult,
    ) -> None:
        waits = idle_waits(self.settings.idle_base_seconds, self.settings.max_idle_wait_seconds)
        batcher = Batcher(self.settings.stream_id, pipeline.checkpoint.generation)
        read_to = pipeline.checkpoint.position  # the last event handed to the batcher
        read_ts = pipeline.checkpoint.commit_timestamp  # and its commit timestamp
        pending: Future[tuple[StreamPage, str | None]] = prefetch.submit(self._read, read_to, read_ts)
        while True:
            try:
                page, evidence = pending.result()
            except StreamExpiredError as expired:
                checkpoint = pipeline.checkpoint
                self.metrics.add(m.EXPIRED, 1)
                log.error("checkpoint %s is older than the stream's retention: %s", checkpoint.position, expired)
                if not resume_from_trim_horizon or result.gap_recorded:
                    raise StreamExpiredError(
                        f"checkpoint {checkpoint.position} of stream {self.settings.stream_id} is older than the stream's "
                        f"retention ({expired}). Changes after it are lost from Neptune. To resume from the oldest "
                        "change still in the stream, recording the gap in the history, start an execution with "
                        f'{{"{Key.RESUME_FROM_TRIM_HORIZON}": true}}.'
                    ) from expired
                # What was read before the stream expired under it is written first: the gap starts after it.
                self._caught_up(pipeline, batcher, result)
                checkpoint = pipeline.checkpoint
                pipeline.restart_at(self.store.record_gap(checkpoint, self._context(lease, owner, None), str(expired)))
                batcher = Batcher(self.settings.stream_id, pipeline.checkpoint.generation)
                result.gap_recorded, result.checkpoint, read_to, read_ts = True, None, None, None
                pending = prefetch.submit(self._read, None, None)
                continue
            if evidence is not None:
                # The page is of another stream: nothing of it is written. What was read before it is.
                self._caught_up(pipeline, batcher, result)
                self.metrics.add(m.GENERATIONS, 1)
                checkpoint = pipeline.checkpoint
                log.error(
                    "stream %s restarted under checkpoint %s (a reset made outside neptune-stream): %s; capture "
                    "generation %d begins from the new stream's first event",
                    self.settings.stream_id,
                    checkpoint.position,
                    evidence,
                    checkpoint.generation + 1,
                )
                opened = self.store.open_generation(
                    checkpoint, GenerationReason.STREAM_RESTARTED, evidence, self._context(lease, owner, None)
                )
                pipeline.restart_at(opened)
                batcher = Batcher(self.settings.stream_id, opened.generation)
                result.restarted, result.checkpoint, read_to, read_ts = evidence, None, None, None
                pending = prefetch.submit(self._read, None, None)
                continue
            result.pages += 1
            if page.empty:
                self._caught_up(pipeline, batcher, result)
                wait = next(waits)
                if self.clock.monotonic() + wait >= deadline:
                    return
                self.clock.sleep(wait)
                pending = prefetch.submit(self._read, read_to, read_ts)
                continue
            waits = idle_waits(self.settings.idle_base_seconds, self.settings.max_idle_wait_seconds)
            more_time = self.clock.monotonic() < deadline
            read_to, read_ts = page.events[-1].event_id, page.events[-1].commit_timestamp
            if more_time:
                # Read ahead while this page is written: reading and writing overlap.
                pending = prefetch.submit(self._read, read_to, read_ts)
            pipeline.context_now = partial(self._context, lease, owner, page.last_trx_timestamp)
            for batch in batcher.feed(page.events):
                pipeline.send(batch)
            out_of_time = not more_time or self.clock.monotonic() >= deadline
            if out_of_time:
                # The open tail is not written: the next invocation reads it again and cuts it as this one
                # would have, whatever comes after it (see _caught_up).
                result.checkpoint = pipeline.drain().position
            result.status = Status.ACTIVE
            newest = page.last_trx_timestamp or page.events[-1].commit_timestamp
            result.lag_ms = max(0, self.clock.now_ms() - newest)
            self.metrics.add(m.LAG_MS, result.lag_ms, "Milliseconds")
            log.info(
                "read %d events %s..%s, checkpoint %s, %d in flight at most, lag %d ms",
                len(page.events),
                page.events[0].event_id,
                page.events[-1].event_id,
                pipeline.checkpoint.position,
                pipeline.progress.max_in_flight,
                result.lag_ms,
            )
            if out_of_time:
                return

    def _caught_up(self, pipeline: Pipeline, batcher: Batcher, result: PollResult) -> None:
        """No more events for now (an empty page, or the stream expiring under the reader): the open tail goes
        out alone with the checkpoint, after the rest. Only here is a batch cut short of its size, and such a
        batch commits together with the checkpoint moving to its end, so every batch beyond the checkpoint
        was cut greedily from a checkpoint: any writer resuming there cuts exactly the same batches, finds
        them in the history and does not write them again. (A page shorter than the limit is no sign of
        having caught up: Neptune caps a page at 10 MB whatever the limit,
        https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html.)"""
        tail = batcher.flush()
        if tail is not None:
            pipeline.send_final(tail)
        result.checkpoint = pipeline.drain().position

    def _context(self, lease: Lease, owner: str, last_trx: int | None) -> BatchContext:
        return BatchContext(
            stream_id=self.settings.stream_id,
            lease=lease,
            now_ms=self.clock.now_ms(),
            last_trx_timestamp=last_trx,
            execution_id=owner,
        )
