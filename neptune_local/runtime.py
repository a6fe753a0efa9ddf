"""The whole pipeline on one machine: the Neptune emulator, the tables in DynamoDB Local (AWS's own engine;
dynamodb_endpoint.py, which also keeps moto's DynamoDB selectable), Step Functions from moto's server
(executing the synthesized state machine, its DynamoDB tasks sent to the same DynamoDB), the real handlers
invoked in-process, and the start schedule: created from the template in moto's EventBridge Scheduler, and
fired here (moto stores schedules, it does not fire them) every period while its State is ENABLED, read from
moto each time, so pausing it through the scheduler API (`neptune-stream stop`) pauses it here as it does in
AWS. With `LocalOptions.handler_dynamodb_endpoint`, the stream handler writes to another DynamoDB endpoint
(its DYNAMODB_ENDPOINT), such as the DynamoDB model's server: `make bench` measures the handler against
DynamoDB's latency that way."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from neptune_capture.contract import (
    DEFAULT_STREAM_ID,
    LOCAL_ENDPOINTS_FILE,
    LOCAL_FUNCTION_LOG,
    ExecutionStatus,
    GraphModel,
    Key,
    Output,
    State,
)
from neptune_capture.events import EventId
from neptune_capture.schema import TableNames
from neptune_capture.settings import DEFAULT_IN_FLIGHT, Env, HandlerSettings, parse_graph_model
from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer
from neptune_emulator.tls import server_tls
from neptune_local import moto_gaps, use_local_credentials
from neptune_local.dynamodb_endpoint import DynamoDBEndpoint, DynamoDBServer, selected_server
from neptune_local.dynamodb_local import DynamoDBLocal
from neptune_local.lambda_runtime import LambdaRegistry, function_output_to, load_handler
from neptune_local.template import REGION, SynthesizedStack, function_arn
from neptune_local.verify import read_checkpoint

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import ExecutionListItemTypeDef

STREAM_ID = DEFAULT_STREAM_ID
LOCAL_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
STATE_MACHINE_NAME = "neptune-stream"
START_SCHEDULE_NAME = "neptune-stream-start"
LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/neptune-stream-local"


@dataclass
class LocalOptions:
    data_dir: Path = Path(".local")
    fresh: bool = True  # start from an empty graph (the emulator's SQLite file is replaced)
    iterations_per_execution: int | None = None  # None: the template's value
    time_budget_seconds: float = 2.0  # per handler invocation (Lambda: up to ~14 minutes)
    lambda_timeout_seconds: float | None = None  # None: each function's Timeout from the template
    idle_base_seconds: float = 0.05
    max_idle_wait_seconds: float = 0.2
    page_limit: int = 10_000
    in_flight: int = DEFAULT_IN_FLIGHT  # transactions the stream handler keeps in flight
    # The stream handler writes its tables here instead (the tables are created in both).
    handler_dynamodb_endpoint: str | None = None
    # A DynamoDB another run used before (its tables are deleted first) and that outlives this one; None: the
    # server NEPTUNE_LOCAL_DYNAMODB selects, DynamoDB Local by default, started and stopped with this run.
    dynamodb: DynamoDBEndpoint | None = None
    expiry_seconds: float = 7 * 86_400
    emulator_port: int = 0
    moto_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    # The start schedule's period here (deployed: minutes). None: the schedule exists but never fires,
    # and executions start only when asked (start_execution, the CLI, start_schedule_firing).
    start_schedule_period_seconds: float | None = None
    # False: Neptune as a cluster whose neptune_streams parameter is 0 (the emulator's /status says so).
    streams_enabled: bool = True


def synthesized_graph_model(stack: SynthesizedStack) -> GraphModel:
    """The graph the stream handler captures, as the synthesized stack sets it (its GRAPH_MODEL, from
    `-c neptune-stream:graphModel`): the local run plays what `cdk deploy` would deploy."""
    value = stack.function("stream-handler").environment.get(Env.GRAPH_MODEL)
    return parse_graph_model(value or GraphModel.PROPERTY_GRAPH, f"the synthesized stream handler's {Env.GRAPH_MODEL}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LocalPipeline:
    def __init__(self, stack: SynthesizedStack, options: LocalOptions | None = None) -> None:
        self.stack, self.options = stack, options or LocalOptions()
        self.registry = LambdaRegistry()
        self.emulator: EmulatorServer | None = None
        self._moto: ThreadedMotoServer | None = None
        self._dynamodb_local: DynamoDBLocal | None = None  # ours to stop
        self.dynamodb_endpoint: DynamoDBEndpoint | None = None
        self._stopped = False
        # Environment variables the run set (its TLS trust, the handlers' settings), with what they held before
        # (None: unset): given back at stop.
        self._environment_before: dict[str, str | None] = {}
        self._patch: ExitStack | None = None
        self.tables: TableNames | None = None
        self.state_machine_arn = ""
        self.schedule_name = START_SCHEDULE_NAME
        self.scheduled_starts: list[str] = []  # the executions the local schedule started, in order
        self._schedule_stopped = threading.Event()
        self._schedule_thread: threading.Thread | None = None
        self._schedule_ticked = threading.Condition()
        self.schedule_ticks = 0  # firings evaluated (enabled or not)
        self.graph_model = synthesized_graph_model(stack)

    # -- lifecycle
    def start(self) -> LocalPipeline:
        """Starts everything; whatever had started is stopped again if a part fails (or Ctrl-C comes)."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalPipeline:
        use_local_credentials()
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        if opts.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.graph_file}{suffix}").unlink(missing_ok=True)
        if opts.dynamodb is None and selected_server() == DynamoDBServer.DYNAMODB_LOCAL:
            # Its JVM starts while the emulator and moto do.
            self._dynamodb_local = DynamoDBLocal(log_path=opts.data_dir / "dynamodb-local.log").launch()
        self.emulator = self._start_emulator(opts.emulator_port)
        self._start_moto()
        self.dynamodb_endpoint = self._open_dynamodb()
        self.dynamodb = self.dynamodb_client()
        self.sfn = self.sfn_client()
        self.tables = self.stack.create_tables(self.dynamodb)
        # Where the stream handler's writes land: moto's DynamoDB, or the model.
        self.handler_dynamodb = self.dynamodb
        if opts.handler_dynamodb_endpoint is not None:
            self.handler_dynamodb = self.dynamodb_client(opts.handler_dynamodb_endpoint)
            self.stack.create_tables(self.handler_dynamodb)
        self._install_handlers()
        definition = self.stack.state_machine_definition(self.tables)
        if opts.iterations_per_execution is not None:
            definition["States"][State.POLL]["Parameters"][Key.ITERATIONS_PER_EXECUTION] = opts.iterations_per_execution
        self.state_machine_arn = self.sfn.create_state_machine(
            name=STATE_MACHINE_NAME,
            definition=json.dumps(definition),
            roleArn=LOCAL_ROLE_ARN,
            type="STANDARD",
        )["stateMachineArn"]
        self.scheduler = self.scheduler_client()
        self.scheduler.create_schedule(**self.stack.start_schedule(self.schedule_name, self.state_machine_arn, LOCAL_ROLE_ARN))
        self.write_endpoints()
        if opts.start_schedule_period_seconds is not None:
            self.start_schedule_firing(opts.start_schedule_period_seconds)
        return self

    def start_schedule_firing(self, period: float) -> None:
        """The start schedule begins firing here (at once, then every `period` seconds), as it does in AWS
        once CloudFormation has created it."""
        if self._schedule_thread is not None:
            raise RuntimeError("the local start schedule is already firing")
        self._schedule_thread = threading.Thread(target=self._fire_schedule, args=(period,), name="start-schedule", daemon=True)
        self._schedule_thread.start()

    def _fire_schedule(self, period: float) -> None:
        """What EventBridge Scheduler does with a rate schedule that has no start date: fire at once, then
        every period (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), each time
        starting the target with the schedule's input, unless the schedule is disabled then."""
        while not self._schedule_stopped.is_set():
            try:
                schedule = self.scheduler.get_schedule(Name=self.schedule_name)
                if schedule["State"] == "ENABLED":
                    target = schedule["Target"]
                    arn = self.sfn.start_execution(
                        stateMachineArn=target["Arn"], name=str(uuid.uuid4()), input=target.get("Input", "{}")
                    )["executionArn"]
                    self.scheduled_starts.append(arn)
            except Exception as error:  # a firing that fails is not retried (RetryPolicy 0): the next one is
                if not self._schedule_stopped.is_set():
                    logging.getLogger(__name__).warning("start schedule: firing failed: %s", error)
            with self._schedule_ticked:
                self.schedule_ticks += 1
                self._schedule_ticked.notify_all()
            self._schedule_stopped.wait(period)  # the schedule's own period: this is the timer being emulated

    def _start_emulator(self, port: int) -> EmulatorServer:
        # Neptune over HTTPS only, as in AWS (https://docs.aws.amazon.com/neptune/latest/userguide/security-ssl.html):
        # the emulator's certificate is signed by a local CA kept in the data folder, and this process (the handlers,
        # which verify it with botocore, and every local client) trusts that CA and nothing else for TLS.
        tls = server_tls(self.options.data_dir)
        trust = {**tls.client_variables(), "SSL_CERT_FILE": str(tls.ca_file)}
        # Given back at stop: a process that goes on after the run (a test session, pip run from it) must reach
        # the rest of the world with its own trust store again.
        self._environment_before.update({k: os.environ.get(k) for k in trust if k not in self._environment_before})
        os.environ.update(trust)
        engine = Engine(
            str(self.graph_file), expiry_seconds=self.options.expiry_seconds, streams_enabled=self.options.streams_enabled
        )
        return EmulatorServer(engine, port=port, tls=tls).start()

    def restart_emulator(self, outage_seconds: float) -> None:
        """Neptune goes away for `outage_seconds` and comes back on the same endpoint with its data, as
        after a reboot or failover: the graph and the stream are reloaded from the emulator's file."""
        assert self.emulator is not None
        port = self.emulator.port
        self.emulator.stop()
        threading.Event().wait(outage_seconds)  # the outage itself
        self.emulator = self._start_emulator(port)

    def _open_dynamodb(self) -> DynamoDBEndpoint:
        if self.options.dynamodb is not None:
            self.options.dynamodb.delete_tables()
            return self.options.dynamodb
        if self._dynamodb_local is not None:
            return DynamoDBEndpoint.of(self._dynamodb_local.wait_ready())
        return DynamoDBEndpoint.moto(self.moto_endpoint)

    def _start_moto(self) -> None:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        # Execute the real ASL (moto's interpreter) instead of returning canned results.
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per DynamoDB call otherwise
        # A failed state is in the execution's history and on the checkpoint item; the interpreter would
        # also print each one, with its whole parse tree, as an error.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        port = self.options.moto_port or free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        # The interpreter reaches DynamoDB and Step Functions (continue-as-new) through this port.
        os.environ["MOTO_PORT"] = str(port)
        self.moto_endpoint = f"http://127.0.0.1:{port}"
        # moto's backends are per process, not per server: start from empty ones, whatever ran before.
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_endpoint}/moto-api/reset", method="POST"), timeout=30).close()

    def _install_handlers(self) -> None:
        assert self.emulator is not None and self.tables is not None
        opts = self.options
        settings = HandlerSettings(
            stream_id=STREAM_ID,
            tables=self.tables,
            neptune_endpoint=self.emulator.endpoint,
            dynamodb_endpoint=opts.handler_dynamodb_endpoint or self.dynamodb_url,
            page_limit=opts.page_limit,
            in_flight=opts.in_flight,
            time_budget_seconds=opts.time_budget_seconds,
            idle_base_seconds=opts.idle_base_seconds,
            max_idle_wait_seconds=opts.max_idle_wait_seconds,
            safety_margin_seconds=5,
            graph_model=self.graph_model,
        )
        env = {
            **settings.to_env(),
            # Powertools prints each flush of metrics to standard output as an embedded-metric-format
            # document (https://docs.aws.amazon.com/powertools/python/2.4.0/core/metrics/), which lands in
            # the function log beside the log lines, where Lambda would hand it to CloudWatch:
            # `neptune-stream watch` reads the local run's metrics from there.
            "POWERTOOLS_METRICS_DISABLED": "false",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            **opts.extra_env,
        }
        # Process-wide, like a Lambda's environment; given back at the end of stop, once no invocation is
        # still finishing (a process that goes on after the run must not keep this run's endpoints).
        self._environment_before.update({k: os.environ.get(k) for k in env if k not in self._environment_before})
        os.environ.update(env)
        self._patch = ExitStack()
        self._patch.enter_context(function_output_to(self.function_log))
        for function in self.stack.functions():
            self.registry.register(
                function.arn, load_handler(function), opts.lambda_timeout_seconds or function.timeout_seconds, function.memory_mb
            )
        self._patch.enter_context(self.registry.installed())
        self._patch.enter_context(moto_gaps.patched(dynamodb_endpoint=self.dynamodb_url))

    def stop(self) -> None:
        """Stops what this run started (once); its DynamoDB Local last, and whatever else fails."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._schedule_stopped.set()
            if self._schedule_thread is not None:
                self._schedule_thread.join(30)
            try:
                if self.state_machine_arn:
                    for execution in self.running_executions():
                        self.sfn.stop_execution(executionArn=execution, cause="local run stopped")
            except Exception:
                pass
            # Let an invocation in flight finish against live servers (at most its time budget).
            self.registry.wait_idle(self.options.time_budget_seconds + 10)
            if self._patch is not None:
                self._patch.close()
                self._patch = None
            if self._moto is not None:
                self._moto.stop()
                self._moto = None
            if self.emulator is not None:
                self.emulator.stop()
        finally:
            for name, value in self._environment_before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._environment_before.clear()
            if self._dynamodb_local is not None:
                self._dynamodb_local.stop()

    def __enter__(self) -> LocalPipeline:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- helpers
    @property
    def graph_file(self) -> Path:
        """The emulator's SQLite file: the graph and its stream."""
        return self.options.data_dir / "graph.db"

    @property
    def function_log(self) -> Path:
        """The local CloudWatch Logs: everything the handlers print (log lines, metrics)."""
        return self.options.data_dir / LOCAL_FUNCTION_LOG

    @property
    def dynamodb_url(self) -> str:
        """Where the run's tables are (DynamoDB Local, or moto's DynamoDB)."""
        assert self.dynamodb_endpoint is not None, "start() first"
        return self.dynamodb_endpoint.url

    def dynamodb_client(self, endpoint: str | None = None) -> DynamoDBClient:
        """A client of the run's DynamoDB (or of `endpoint`)."""
        url = endpoint or self.dynamodb_url
        return boto3.client("dynamodb", endpoint_url=url, region_name=REGION, config=LOCAL_CLIENT_CONFIG)

    @property
    def dynamodb_name(self) -> str:
        assert self.dynamodb_endpoint is not None, "start() first"
        return self.dynamodb_endpoint.name

    def scheduler_client(self) -> EventBridgeSchedulerClient:
        return boto3.client("scheduler", endpoint_url=self.moto_endpoint, region_name=REGION, config=LOCAL_CLIENT_CONFIG)

    def sfn_client(self) -> SFNClient:
        return boto3.client("stepfunctions", endpoint_url=self.moto_endpoint, region_name=REGION, config=LOCAL_CLIENT_CONFIG)

    def start_execution(self, payload: dict[str, Any] | None = None) -> str:
        arn: str = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(payload or {})
        )["executionArn"]
        return arn

    def executions(self) -> list[ExecutionListItemTypeDef]:
        paginator = self.sfn.get_paginator("list_executions")
        return [e for page in paginator.paginate(stateMachineArn=self.state_machine_arn) for e in page["executions"]]

    def running_executions(self) -> list[str]:
        return [e["executionArn"] for e in self.executions() if e["status"] == ExecutionStatus.RUNNING]

    def stream_ids(self) -> list[EventId]:
        """Every event the emulator's stream of the captured graph holds, in order."""
        assert self.emulator is not None
        return [EventId(c, o) for c, o in self.emulator.engine.log(self.graph_model).keys]

    def wait_for_schedule_ticks(self, ticks: int, timeout: float) -> bool:
        """Until the local schedule has evaluated `ticks` firings in all; False if not within `timeout`."""
        with self._schedule_ticked:
            return self._schedule_ticked.wait_for(lambda: self.schedule_ticks >= ticks, timeout)

    def wait_for_checkpoint(self, last: EventId, timeout: float) -> bool:
        """Until the checkpoint reaches `last`; False if it has not within `timeout` seconds."""
        assert self.tables is not None
        deadline = time.monotonic() + timeout
        while read_checkpoint(self.handler_dynamodb, self.tables.checkpoint, STREAM_ID).position != last:
            if time.monotonic() > deadline:
                return False
            self.registry.wait_idle(1)  # wakes when an invocation ends: then the checkpoint may have moved
        return True

    def history_length(self, execution_arn: str) -> int:
        paginator = self.sfn.get_paginator("get_execution_history")
        return sum(len(page["events"]) for page in paginator.paginate(executionArn=execution_arn))

    def write_endpoints(self) -> None:
        assert self.emulator is not None and self.tables is not None
        info = {
            "neptune": self.emulator.endpoint,
            "sparql": f"{self.emulator.endpoint}/sparql",
            "gremlin": self.emulator.gremlin_url,
            "ca_bundle": str(self.emulator.tls.ca_file) if self.emulator.tls else None,
            "aws": self.moto_endpoint,
            # Which stream the handler reads: `reset` reads the same one to see that capture has stored it all.
            "graphModel": str(self.graph_model),
            # The tables' endpoint, and what serves them.
            "dynamodb": self.dynamodb_url,
            "dynamodb_server": self.dynamodb_name,
            # The same outputs a deployed stack has: the CLI finds everything through them either way.
            "outputs": {
                Output.RECORDS_TABLE: self.tables.records,
                Output.HISTORY_TABLE: self.tables.history,
                Output.CHECKPOINT_TABLE: self.tables.checkpoint,
                Output.STATE_MACHINE: self.state_machine_arn,
                Output.STATUS_FUNCTION: function_arn("status"),
                Output.STREAM_HANDLER_FUNCTION: function_arn("stream-handler"),
                Output.STREAM_ID: STREAM_ID,
                Output.START_SCHEDULE: self.schedule_name,
                # As the stack has it: an existing-cluster stack has no reset function unless it asked for one.
                **({Output.RESET_FUNCTION: function_arn("reset")} if self.stack.has_output(Output.RESET_FUNCTION) else {}),
            },
        }
        (self.options.data_dir / LOCAL_ENDPOINTS_FILE).write_text(json.dumps(info, indent=2))
