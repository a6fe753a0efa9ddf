"""The fault-injection scenarios. Each builds a fresh local stack, writes the workload through Gremlin
while (or before) the state machine captures it, injects its fault, and ends with the exactly-once
verification: records table == stream events, history complete and ordered, checkpoint == last event.
A scenario also fails if its fault was never applied, or if the pipeline did not react as documented.

Every scenario runs in pipelined mode: the handler keeps up to `in_flight` transactions in flight (the
deployed default unless --in-flight says otherwise), and each scenario starts with a backlog of at least
two transactions' worth of events, so its first invocation sends several before any has committed. With
in_flight of 2 or more, a scenario in which no invocation had two in flight fails."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neptune_capture import schema
from neptune_capture.backoff import RetryPolicy
from neptune_capture.contract import ExecutionStatus, GraphModel, Key
from neptune_capture.events import EventId
from neptune_capture.neptune_api import fast_reset, make_client
from neptune_capture.plan import MAX_RECORDS_PER_TRANSACTION
from neptune_capture.schema import CheckpointAttr as C
from neptune_capture.settings import DEFAULT_IN_FLIGHT
from neptune_emulator.server import EmulatorServer, set_faults
from neptune_local.chaos.injectors import Injected, TransactionConflicts, handler_process_faults, transactions_in_flight
from neptune_local.dynamodb_endpoint import DynamoDBEndpoint
from neptune_local.rdf_workload import PREFIXES, run_rdf_workload, sparql_update
from neptune_local.runtime import STREAM_ID, LocalOptions, LocalPipeline
from neptune_local.template import SynthesizedStack
from neptune_local.verify import Verification, combined, verify, verify_generations
from neptune_local.verify_rdf import summary_line, verify_rdf
from neptune_local.workload import connect, run_workload
from neptune_ops import control
from neptune_ops.target import local_target

TIMEOUT_S = 240.0
SPREAD_CHANGES_PER_SECOND = 15.0
TRANSIENT_DAMAGED_READS = 3  # fewer than the handler's reads of one page: it must recover by itself
SCHEDULE_PERIOD_S = 4.0  # the start schedule's period here (deployed: 5 minutes)
# Past one period, the fenced start's own work: a handler invocation, DescribeExecution, the take-over Poll
# (about a second on an idle machine; generous, so a busy one passes, while a lost take-over still fails).
TAKE_OVER_SLACK_S = 45.0
# Events written before a scenario starts its first execution: two full transactions and one more.
BACKLOG_EVENTS = 2 * MAX_RECORDS_PER_TRANSACTION + 1
BACKLOG_STEP = 20  # changes written at a time until the backlog is there


@dataclass
class Outcome:
    scenario: str
    verification: Verification
    injected: dict[str, int]
    executions: list[str]
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verification.ok and not self.problems and sum(self.injected.values()) > 0

    def line(self) -> str:
        v = self.verification
        summary = {
            "events": v.stream_events,
            "lost": v.missing,
            "duplicated": v.duplicates,
            "injected": self.injected,
            "executions": self.executions,
            **self.details,
        }
        if not v.ok:
            summary["verification"] = v.as_dict()
        if self.problems:
            summary["problems"] = self.problems
        if not sum(self.injected.values()):
            summary["problems"] = [*self.problems, "no fault was injected"]
        return f"{'PASS' if self.ok else 'FAIL'}  {self.scenario}: {json.dumps(summary)}"


@dataclass
class Chaos:
    """One scenario's stack and what it checks along the way."""

    name: str
    pipeline: LocalPipeline
    changes: int
    seed: int
    conflicts: TransactionConflicts  # installed before the run made its clients; armed by the scenario that wants it
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def emulator(self) -> EmulatorServer:
        assert self.pipeline.emulator is not None
        return self.pipeline.emulator

    def write(self, changes: int | None = None, *, seed_offset: int = 0, over_seconds: float | None = None) -> None:
        """`over_seconds` spreads the changes out, so capture spans many invocations and transactions."""
        n = changes or self.changes
        rate = n / over_seconds if over_seconds else None
        if self.rdf:
            run_rdf_workload(self.sparql_url, n, rate=rate, seed=self.seed + seed_offset)
        else:
            run_workload(self.emulator.gremlin_url, n, rate=rate, seed=self.seed + seed_offset)

    @property
    def rdf(self) -> bool:
        """The stack captures the RDF graph: the workload is SPARQL Update, the records are quads."""
        return self.pipeline.graph_model == GraphModel.RDF

    @property
    def sparql_url(self) -> str:
        return f"{self.emulator.endpoint}/sparql"

    def stream_ids(self) -> list[EventId]:
        return self.pipeline.stream_ids()

    def backlog(self) -> None:
        """Changes written before any execution starts, until the stream holds BACKLOG_EVENTS events."""
        step = 0
        while len(self.stream_ids()) < BACKLOG_EVENTS:
            step += 1
            self.write(BACKLOG_STEP, seed_offset=1000 + step)

    def checkpoint_item(self) -> dict[str, Any]:
        assert self.pipeline.tables is not None
        item: dict[str, Any] = self.pipeline.dynamodb.get_item(
            TableName=self.pipeline.tables.checkpoint, Key={schema.STREAM_ID: {"S": STREAM_ID}}, ConsistentRead=True
        ).get("Item", {})
        return item

    def drain(self) -> None:
        """Until the checkpoint reaches the stream's last event (or the scenario's time runs out)."""
        last = self.stream_ids()[-1]
        if not self.pipeline.wait_for_checkpoint(last, TIMEOUT_S):
            self.problems.append(f"the checkpoint did not reach {last} within {TIMEOUT_S:.0f} s")

    def drain_generation(self, generation: int) -> None:
        """Until the checkpoint is in `generation` and at the stream's last event (or the scenario's time runs
        out): the same event id may name a change of an earlier generation."""
        last = self.stream_ids()[-1]
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            item = self.checkpoint_item()
            position = (int(item[C.COMMIT_NUM]["N"]), int(item[C.OP_NUM]["N"])) if C.COMMIT_NUM in item else None
            if int(item.get(C.GENERATION, {"N": "0"})["N"]) == generation and position == (last.commit_num, last.op_num):
                return
            if time.monotonic() > deadline:
                self.problems.append(f"the checkpoint did not reach {last} of generation {generation} within {TIMEOUT_S:.0f} s")
                return
            self.pipeline.registry.wait_idle(1)  # wakes when an invocation ends: then the checkpoint may have moved

    def generations_outcome(self, injected: dict[str, int], streams: list[list[EventId]], reason: str) -> Outcome:
        """The exactly-once verification of every generation, each against its own stream's events, and the
        last generation's RESET item saying why it began."""
        assert self.pipeline.tables is not None
        reports = verify_generations(self.pipeline.dynamodb, self.pipeline.tables, STREAM_ID, streams)
        for report in reports:
            if not report.ok:
                self.problems.append(f"generation {report.generation}: {json.dumps(report.as_dict())}")
        item = self.checkpoint_item()
        if item.get(C.GENERATION_REASON, {}).get("S") != reason:
            self.problems.append(f"the checkpoint's generation reason is {item.get(C.GENERATION_REASON)}, expected {reason!r}")
        self.details["generations"] = [
            {"generation": r.generation, "events": r.stream_events, "lost": r.missing, "duplicated": r.duplicates}
            for r in reports
        ]
        outcome = self.outcome(injected, streams[-1], generation=len(streams) - 1)
        outcome.verification = combined(reports)
        return outcome

    def wait_for(self, execution_arn: str, status: ExecutionStatus) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while (current := self.pipeline.sfn.describe_execution(executionArn=execution_arn)["status"]) != status:
            if current != ExecutionStatus.RUNNING or time.monotonic() > deadline:
                self.problems.append(f"execution ended {current}, expected {status}")
                return
            self.pipeline.registry.wait_idle(1)

    def expect_failure_recorded(self, error: str, cause_contains: str) -> None:
        """The documented loud failure: the error on the checkpoint item, the dead execution's lease gone."""
        item = self.checkpoint_item()
        recorded = item.get(C.LAST_FAILURE, {}).get("S")
        cause = item.get(C.LAST_FAILURE_CAUSE, {}).get("S", "")
        if recorded != error or cause_contains not in cause:
            self.problems.append(
                f"checkpoint shows lastFailure {recorded!r} ({cause[:200]!r}), expected {error} naming {cause_contains!r}"
            )
        if C.LEASE_OWNER in item:
            self.problems.append(f"the failed execution still holds the lease: {item[C.LEASE_OWNER]['S']}")
        self.details["recorded_failure"] = f"{recorded}: {json.loads(cause).get('errorMessage', cause)[:160]}" if cause else None

    def outcome(self, injected: dict[str, int], expected: list[EventId] | None = None, generation: int = 0) -> Outcome:
        """The exactly-once verification (against `expected`, the stream's events by default) of the capture
        generation `generation`."""
        assert self.pipeline.tables is not None
        report = verify(self.pipeline.dynamodb, self.pipeline.tables, STREAM_ID, expected or self.stream_ids(), generation)
        statuses: list[str] = sorted(e["status"] for e in self.pipeline.executions())
        if self.rdf:
            content = verify_rdf(self.pipeline.dynamodb, self.pipeline.tables, self.emulator.engine, generation=generation)
            if not content.ok:
                self.problems.append(summary_line(content))
            self.details["rdf_replay"] = {True: "equals the graph", False: "differs", None: "not checked (retention)"}[
                content.replay_equals_graph
            ]
        if ExecutionStatus.FAILED in statuses and "recorded_failure" not in self.details:
            # Only a scenario that expects the loud failure (and checks it) may end with a failed execution:
            # anywhere else a failure means capture stopped where it should have carried on.
            item = self.checkpoint_item()
            self.details["last_failure"] = (
                f"{item.get(C.LAST_FAILURE, {}).get('S')}: {item.get(C.LAST_FAILURE_CAUSE, {}).get('S', '')[:400]}"
            )
            self.problems.append(f"{statuses.count(ExecutionStatus.FAILED)} execution(s) failed where none should")
        return Outcome(self.name, report, injected, statuses, self.problems, self.details)


Scenario = Callable[[Chaos], Outcome]


def _faulted_emulator(kind: str, rate: float, delay_ms: int = 0) -> Scenario:
    def run(c: Chaos) -> Outcome:
        set_faults(c.emulator.endpoint, kind, rate=rate, delay_ms=delay_ms, seed=c.seed)
        c.pipeline.start_execution()
        # Spread out, so capture reads the stream many times while the faults are on: a capture as fast as
        # DynamoDB Local's could otherwise take the whole workload in the few reads no fault happened to hit.
        c.write(over_seconds=c.changes / SPREAD_CHANGES_PER_SECOND)
        c.drain()
        return c.outcome({kind: c.emulator.engine.faults.injected})

    return run


def _with(injector: Callable[[int], AbstractContextManager[Injected]]) -> Scenario:
    def run(c: Chaos) -> Outcome:
        with injector(c.seed) as injected:
            c.pipeline.start_execution()
            c.write(over_seconds=c.changes / SPREAD_CHANGES_PER_SECOND)
            c.drain()
        return c.outcome(dict(injected.counts))

    return run


def crashes(c: Chaos) -> Outcome:
    return _with(lambda seed: handler_process_faults(0.5, seed))(c)


def timeouts_mid_page(c: Chaos) -> Outcome:
    registry = c.pipeline.registry

    def timeouts() -> int:
        return sum(1 for e in registry.errors if e.startswith("Sandbox.Timedout"))

    with handler_process_faults(0.5, c.seed, hang=True, within=3, first_after_commit=True) as injected:
        c.write()  # a backlog first: large pages of several transactions each, so hangs land mid-page
        c.pipeline.start_execution()
        c.drain()
        # A hang after the last commit leaves nothing to drain: its timeout is reported seconds later.
        deadline = time.monotonic() + c.pipeline.options.time_budget_seconds + TIMEOUT_S / 10
        while not timeouts() and time.monotonic() < deadline:
            registry.wait_idle(0.5)  # the hung invocation stays in flight: this wakes every half second
    outcome = c.outcome(dict(injected.counts))
    if not timeouts():
        outcome.problems.append("no invocation timed out")
    outcome.details["lambda_timeouts"] = timeouts()
    return outcome


def conflicts(c: Chaos) -> Outcome:
    return _with(lambda seed: c.conflicts.armed(0.3, seed))(c)


def two_executions(c: Chaos) -> Outcome:
    started = [c.pipeline.start_execution(), c.pipeline.start_execution()]
    c.write()
    c.drain()
    # The one without the lease was fenced: it ends (after asking whether the holder runs) as it should.
    holder = c.checkpoint_item().get(C.LEASE_OWNER, {}).get("S")
    for arn in started:
        if arn != holder:
            c.wait_for(arn, ExecutionStatus.SUCCEEDED)
    outcome = c.outcome({"concurrent executions": 2})
    if outcome.executions.count(ExecutionStatus.RUNNING) != 1:
        outcome.problems.append(f"expected one execution polling and one fenced, got {outcome.executions}")
    return outcome


def emulator_restart(c: Chaos) -> Outcome:
    c.pipeline.start_execution()
    c.write(c.changes * 2 // 3)
    before = c.stream_ids()[-1]
    c.pipeline.restart_emulator(outage_seconds=2.0)
    c.write(c.changes - c.changes * 2 // 3, seed_offset=1)
    c.drain()
    c.details["restarted_after"] = str(before)
    return c.outcome({"restart (2 s outage)": 1})


def oversized_record(c: Chaos) -> Outcome:
    from gremlin_python.process.anonymous_traversal import traversal

    c.pipeline.start_execution()
    c.write()
    if c.rdf:  # a 600 KB literal: the statement's object
        sparql_update(c.sparql_url, PREFIXES + f'INSERT DATA {{ ex:blob ex:data "{"é" * 300_000}" }}')
    else:
        connection = connect(c.emulator.gremlin_url)
        traversal().with_(connection).add_v("blob").property("data", "é" * 300_000).iterate()  # 600 KB of UTF-8
        connection.close()
    c.drain()
    assert c.pipeline.tables is not None
    truncated = c.pipeline.dynamodb.scan(
        TableName=c.pipeline.tables.records, FilterExpression="attribute_exists(truncated)", Select="COUNT"
    )["Count"]
    if truncated != 1:
        c.problems.append(f"expected the one oversized record stored truncated, found {truncated}")
    return c.outcome({"600 KB value": 1})


def malformed_pages(c: Chaos) -> Outcome:
    """Damaged pages that clear up are read again; a page that stays damaged fails the execution loudly,
    and once Neptune serves it whole again a new execution carries on. Nothing of a bad page is written."""
    set_faults(c.emulator.endpoint, "malformed", rate=1.0, limit=TRANSIENT_DAMAGED_READS, seed=c.seed)
    c.pipeline.start_execution()
    c.write(c.changes // 2)
    c.drain()
    transient = c.emulator.engine.faults.injected
    if transient != TRANSIENT_DAMAGED_READS:
        c.problems.append(f"{transient} damaged reads before the handler caught up, expected {TRANSIENT_DAMAGED_READS}")
    set_faults(c.emulator.endpoint, "malformed", rate=1.0, seed=c.seed)  # counts afresh
    (running,) = c.pipeline.running_executions()
    c.write(c.changes - c.changes // 2, seed_offset=1)
    c.wait_for(running, ExecutionStatus.FAILED)
    c.expect_failure_recorded("MalformedPageError", "still malformed after")
    persistent = c.emulator.engine.faults.injected
    if persistent < (reads := RetryPolicy().max_attempts):
        c.problems.append(f"the execution failed after {persistent} damaged reads, not after the handler's {reads}")
    set_faults(c.emulator.endpoint, None)
    c.pipeline.start_execution()
    c.drain()
    return c.outcome({"damaged then re-read": transient, "damaged on every read": persistent})


def checkpoint_expiry(c: Chaos) -> Outcome:
    """Capture stops (`neptune-stream stop`), changes keep coming, retention deletes some before capture
    resumes: the next execution fails naming the expired checkpoint; the operator's documented
    `{"resumeFromTrimHorizon": true}` records the gap and captures everything Neptune still has."""
    c.pipeline.start_execution()
    c.write(c.changes // 3)
    c.drain()
    captured = c.stream_ids()
    control.stop(local_target(c.pipeline.options.data_dir))
    c.write(c.changes // 3, seed_offset=1)
    c.emulator.engine.advance_clock(c.pipeline.options.expiry_seconds + 1)  # retention passes
    c.write(c.changes - 2 * (c.changes // 3), seed_offset=2)
    c.wait_for(c.pipeline.start_execution(), ExecutionStatus.FAILED)
    c.expect_failure_recorded("StreamExpiredError", "resumeFromTrimHorizon")
    retained = c.stream_ids()  # retention applied when the failed execution read the stream
    expired = retained[0].commit_num - captured[-1].commit_num - 1
    c.pipeline.start_execution({Key.RESUME_FROM_TRIM_HORIZON: True})
    c.drain()
    outcome = c.outcome({"expired changes": expired}, expected=captured + retained)
    if outcome.verification.gaps != 1:
        outcome.problems.append(f"expected one GAP item in the history, found {outcome.verification.gaps}")
    outcome.details["expired_before_capture"] = f"{expired} changes, recorded as a GAP"
    return outcome


def killed_execution(c: Chaos) -> Outcome:
    """The polling execution is killed without releasing anything (stopped through the Step Functions API,
    its lease left in place for 20 minutes, as after an operator's bare stop-execution). Nobody starts
    anything: the schedule's next start finds the lease held, sees the holder is not running, takes the
    lease over, and capture resumes within one schedule period, nothing lost or duplicated."""
    period = SCHEDULE_PERIOD_S
    c.backlog()  # before the schedule's first start: its first invocation has several transactions in flight
    c.pipeline.start_schedule_firing(period)  # as CloudFormation's creating the schedule would
    c.write(c.changes // 2)
    c.drain()  # the schedule's first start, at once, captured these
    # While it polls, the schedule's next start is fenced and ends at once: one execution polls.
    deadline = time.monotonic() + period + TAKE_OVER_SLACK_S
    while not (ended := _ended_fenced(c)) and time.monotonic() < deadline:
        c.pipeline.registry.wait_idle(0.5)
    if not ended:
        c.problems.append(f"no scheduled start ended fenced within {period + TAKE_OVER_SLACK_S:.0f} s while one polled")
    # The victim is the execution polling now: the lease holder, once it is a running execution (a busy
    # machine may still be between a scheduled start taking the lease and its first invocation).
    deadline = time.monotonic() + period + TAKE_OVER_SLACK_S
    while (victim := c.checkpoint_item().get(C.LEASE_OWNER, {}).get("S")) not in c.pipeline.running_executions():
        if time.monotonic() > deadline:
            c.problems.append(f"the lease holder {victim} is not a running execution before the kill")
            break
        c.pipeline.registry.wait_idle(0.5)  # wakes when an invocation ends, or every half second
    assert victim is not None
    c.pipeline.sfn.stop_execution(executionArn=victim, cause="chaos: killed without releasing its lease")
    killed = time.monotonic()
    c.write(c.changes - c.changes // 2, seed_offset=1)
    bound = period + TAKE_OVER_SLACK_S
    deadline = killed + bound
    while (owner := c.checkpoint_item().get(C.LEASE_OWNER, {}).get("S")) == victim and time.monotonic() < deadline:
        c.pipeline.registry.wait_idle(0.5)  # wakes when an invocation ends, or every half second
    resumed_after = time.monotonic() - killed
    if owner == victim:
        c.problems.append(f"nothing took the killed execution's lease over within {bound:.0f} s (schedule period {period} s)")
    elif owner not in c.pipeline.scheduled_starts:
        c.problems.append(f"the lease went to {owner}, not to an execution the schedule started")
    c.drain()
    c.details["resumed_after_s"] = round(resumed_after, 1)
    c.details["schedule_period_s"] = period
    c.details["scheduled_starts"] = len(c.pipeline.scheduled_starts)
    c.details["scheduled_starts_ended_at_once"] = _ended_fenced(c)
    return c.outcome({"execution killed with its lease": 1})


def reset_through_project(c: Chaos) -> Outcome:
    """`./neptune-stream reset --yes` while capture runs (and has stored everything, as `status` shows): it
    stops capture, resets the graph, opens generation 1 and starts capture again. The changes before the reset
    stay generation 0's, exactly once; those after it are generation 1's, exactly once, though their event ids
    start again at 1."""
    c.pipeline.start_execution()
    c.write(c.changes // 2)
    c.drain()
    before = c.stream_ids()
    result = control.reset(local_target(c.pipeline.options.data_dir))
    if result.get("generation") != 1 or not result.get("stopped") or not (result.get("restarted") or {}).get("started"):
        c.problems.append(f"reset did not stop capture, open generation 1 and start capture again: {result}")
    c.write(c.changes - c.changes // 2, seed_offset=1)
    after = c.stream_ids()
    if after[0] > before[-1]:
        c.problems.append(f"the stream did not start again after the reset: its first event is {after[0]}")
    c.drain_generation(1)
    return c.generations_outcome({"reset through neptune-stream": 1}, [before, after], schema.GenerationReason.RESET_BY_PROJECT)


def reset_outside_project(c: Chaos) -> Outcome:
    """A fast reset made directly on the emulator (as a notebook's %db_reset would), under a running capture
    that has stored everything: the handler finds the stream restarted under its checkpoint, opens generation
    1 itself and captures the new graph from its first change; nothing fails, nothing stalls."""
    c.pipeline.start_execution()
    c.write(c.changes // 2)
    c.drain()
    before = c.stream_ids()
    fast_reset(make_client(c.emulator.endpoint, read_timeout=30))
    c.write(c.changes - c.changes // 2, seed_offset=1)
    after = c.stream_ids()
    c.drain_generation(1)
    outcome = c.generations_outcome(
        {"reset outside neptune-stream": 1}, [before, after], schema.GenerationReason.STREAM_RESTARTED
    )
    if outcome.executions.count(ExecutionStatus.RUNNING) != 1:
        outcome.problems.append(f"expected capture still running after the reset, executions: {outcome.executions}")
    return outcome


def _ended_fenced(c: Chaos) -> int:
    """Scheduled starts that found the stream leased to a running execution and ended."""
    starts = set(c.pipeline.scheduled_starts)
    return sum(1 for e in c.pipeline.executions() if e["executionArn"] in starts and e["status"] == ExecutionStatus.SUCCEEDED)


SCENARIOS: dict[str, tuple[Scenario, dict[str, Any]]] = {
    "handler crash between transactions (half the invocations, at a random one of their first 4)": (
        crashes,
        {"page_limit": 40, "time_budget_seconds": 0.3},  # short invocations: many of them, many crash points
    ),
    "Lambda timeout mid-page (hangs in half the invocations, 3 s timeout)": (
        timeouts_mid_page,
        {"lambda_timeout_seconds": 3.0, "page_limit": 250, "extra_env": {"SAFETY_MARGIN_SECONDS": "1"}},
    ),
    "emulator throttling at 30 % of calls": (_faulted_emulator("ThrottlingException", 0.3), {}),
    "emulator memory limit at 30 % of calls": (_faulted_emulator("MemoryLimitExceededException", 0.3), {}),
    "emulator 500s at 30 % of calls": (_faulted_emulator("InternalFailure", 0.3), {}),
    "emulator slow responses (300 ms, 50 %)": (_faulted_emulator("slow", 0.5, delay_ms=300), {}),
    "DynamoDB transaction conflicts at 30 %": (conflicts, {}),
    "two executions at once": (two_executions, {}),
    "emulator restart mid-run": (emulator_restart, {}),
    "checkpoint expiry, then the operator path": (checkpoint_expiry, {"expiry_seconds": 3600.0}),
    "a record over 400 KB": (oversized_record, {}),
    "malformed pages (3 damaged reads, then every read)": (malformed_pages, {}),
    "execution killed without releasing its lease, restarted by the schedule": (
        killed_execution,
        # No continue-as-new during the scenario: the execution killed is the one polling, not a parent
        # that has just handed over.
        {"iterations_per_execution": 10_000},
    ),
    "reset through neptune-stream while capture runs": (reset_through_project, {}),
    "reset made directly on the emulator under a running capture": (reset_outside_project, {}),
}


@contextmanager
def chaos_stack(stack: SynthesizedStack, name: str, changes: int, seed: int, **options: Any) -> Iterator[Chaos]:
    env = {"POWERTOOLS_LOG_LEVEL": "ERROR", **options.pop("extra_env", {})}
    with tempfile.TemporaryDirectory() as tmp, TransactionConflicts().installed() as conflicts:
        options = {"time_budget_seconds": 1.0, "iterations_per_execution": 5, **options}
        opts = LocalOptions(data_dir=Path(tmp), extra_env=env, **options)
        with LocalPipeline(stack, opts) as pipeline:
            yield Chaos(name, pipeline, changes, seed, conflicts)


def run_scenario(
    stack: SynthesizedStack,
    name: str,
    changes: int,
    seed: int,
    in_flight: int = DEFAULT_IN_FLIGHT,
    *,
    dynamodb: DynamoDBEndpoint | None = None,
) -> Outcome:
    """One scenario on a fresh stack; its tables in `dynamodb` (emptied first) when given, else in a DynamoDB
    of its own."""
    scenario, options = SCENARIOS[name]
    options = {**options, "dynamodb": dynamodb}
    with chaos_stack(stack, name, changes, seed, in_flight=in_flight, **options) as chaos, transactions_in_flight() as most:
        chaos.backlog()
        outcome = scenario(chaos)
    outcome.details["max_in_flight"] = most[0]
    if in_flight >= 2 and most[0] < 2:
        outcome.problems.append(f"never more than {most[0]} transaction in flight: the pipelined path was not exercised")
    return outcome
