"""Gaps in moto's Step Functions interpreter that the real service does not have, closed for the local
run only (the deployed definition is executed unchanged):

- the `states:startExecution` integration passes ASL's parameter names (StateMachineArn, Input, Name)
  to boto3 unconverted, which boto3 rejects;
- an execution started without a name is named "None" (AWS generates a UUID), so two continue-as-new
  executions would collide;
- nor does it give that integration's answer the API's member names (`ExecutionArn`, `StartDate`), as
  the service does for its optimized integrations and as moto's own `.sync` path does; boto3's
  `executionArn` reaches the state, and ContinueAsNew's ResultSelector (`$.ExecutionArn`) fails the
  parent execution after it has started its child. (The Step Functions pages show no response of the
  request-response integration; LocalStack's interpreter, from which moto's comes, converts it.)
- its AWS SDK integrations (`arn:aws:states:::aws-sdk:SERVICE:ACTION`) neither convert the request's
  parameter names (ASL uses the API's, `ExecutionArn`) to boto3's (`executionArn`) nor the response's back
  (`Status`), as the service does (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html):
  CheckLeaseHolder's DescribeExecution fails with a KeyError;
- DynamoDB's TransactWriteItems deep-copies every table it touches before each transaction (to roll
  back), which makes a run quadratic in the table size: 25,000 records slow it to ~40 records/s. Only the
  items the transaction names are saved and, if it is cancelled, restored;
- its DynamoDB backend evaluates a condition and applies the write as separate steps, with no lock, so
  writes from concurrent requests (the handler keeps several transactions in flight) could interleave
  between them, and a cancelled transaction's restore could undo another's write. DynamoDB isolates
  them (transactions are serializable:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation):
  the local run applies moto's writes one at a time (both only matter when moto's DynamoDB is selected);
- its DynamoDB tasks (`arn:aws:states:::dynamodb:updateItem`: RecordFailure, ReleaseLease) and aws-sdk
  tasks reach DynamoDB through moto's own server (a boto3 client of `http://localhost:$MOTO_PORT`, made by
  `moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for`), wherever the run keeps its tables: the
  local run sends their DynamoDB calls to its DynamoDB (DynamoDB Local), as the service sends them to the
  stack's tables;
- StopExecution of an execution whose thread has not begun yet fails (its worker has no environment to
  stop yet: `'NoneType' object has no attribute 'set_stop'`, a 500), where the service stops it
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html): the stop is kept
  and applied as soon as the execution's environment exists, so it ends ABORTED before its first state;
- a stopped execution can still end FAILED: its interpreter records an error that surfaces after the stop
  (the state that was running when StopExecution came, failing on its way out) over the stop. ABORTED is
  one of DescribeExecution's statuses
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html) and the one the
  service shows a stopped execution in; neither that page nor StopExecution's says so in words, nor whether an
  error after the stop can change it (the docs are silent). The local run keeps a stop final.
  The likely cause of what the chaos scenario that resets the graph through neptune-stream while capture
  runs saw once under load (the stopped execution ended FAILED, everything captured; not reproduced since,
  so not shown to be this). A stop is kept final."""

from __future__ import annotations

import copy as _copy
import threading
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.session

# One DynamoDB write at a time in moto's backend (reentrant: a transaction's actions call the single-item
# writes). The local run's handlers are threads of this process: a process-wide lock covers them all.
_WRITES = threading.RLock()
_SINGLE_WRITES = ("put_item", "update_item", "delete_item")

_START_EXECUTION = botocore.session.get_session().get_service_model("stepfunctions").operation_model("StartExecution")
_BOTO_NAMES = {"StateMachineArn": "stateMachineArn", "Input": "input", "Name": "name", "TraceHeader": "traceHeader"}


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, deep copy of the item or None) for every item a transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        source = op.get("Key") or op.get("Item") or {}
        if table is None or table.hash_key_attr not in source:
            continue
        hash_key = DynamoType(source[table.hash_key_attr])
        range_key = DynamoType(source[table.range_key_attr]) if table.has_range_key and table.range_key_attr in source else None
        current = table.items.get(hash_key, {}).get(range_key) if table.has_range_key else table.items.get(hash_key)
        saved.append((table, hash_key, range_key, _copy.deepcopy(current)))
    return saved


def _restore(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if table.has_range_key:
            if item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item


@contextmanager
def patched(dynamodb_endpoint: str | None = None) -> Iterator[None]:
    """Every gap closed; with `dynamodb_endpoint`, the state machine's DynamoDB calls go there."""
    with _sfn_start_execution(), aws_sdk_names(), dynamodb_transaction_snapshots(), _stop_before_start(), _stop_is_final():
        if dynamodb_endpoint is None:
            yield
        else:
            with dynamodb_tasks_to(dynamodb_endpoint):
                yield


@contextmanager
def _replaced(owner: Any, **replacements: Any) -> Iterator[None]:
    """Each named attribute of `owner` (a class of moto's, or a module) replaced for the block, and put back
    as it was after it: how every gap here is closed and opened again."""
    originals = {name: getattr(owner, name) for name in replacements}
    for name, value in replacements.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(owner, name, value)


@contextmanager
def dynamodb_tasks_to(endpoint: str) -> Iterator[None]:
    """The interpreter's DynamoDB clients (its dynamodb: and aws-sdk:dynamodb: tasks) are made for `endpoint`
    instead of moto's server; every other service's still reach moto. The client is moto's own (its
    configuration: no retries, its timeouts), only its endpoint differs: the task fails on an error as it did."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
    )

    def routed(original: Any) -> Any:
        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            made = original(region=region, service=service, state_credentials=state_credentials)
            if service != "dynamodb":
                return made
            # Moto's client (its configuration: no retries, its timeouts) for the run's DynamoDB; the keys are
            # letters only, as DynamoDB Local requires (it keeps one database for every key: -sharedDb).
            return boto3.client(  # type: ignore[call-overload]
                service_name=service,
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id="local",
                aws_secret_access_key="local",
                config=made.meta.config,
            )

        return boto_client_for

    dynamodb: Any = state_task_service_dynamodb  # the modules' own client factory, imported from moto's utils
    aws_sdk: Any = state_task_service_aws_sdk
    with (
        _replaced(dynamodb, boto_client_for=routed(dynamodb.boto_client_for)),
        _replaced(aws_sdk, boto_client_for=routed(aws_sdk.boto_client_for)),
    ):
        yield


@contextmanager
def aws_sdk_names() -> Iterator[None]:
    """Converts an aws-sdk task's parameters to boto3's names with the operation's input shape, and its
    result to the API's names with the output shape, using the converters moto already has."""
    from botocore.session import get_session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    def operation(task: Any, boto_service_name: Any, service_action_name: Any) -> Any:
        service = task._get_boto_service_name(boto_service_name)
        action = service_action_name or task.resource.api_action
        return get_session().get_service_model(service).operation_model(action[:1].upper() + action[1:])

    def normalise_parameters(
        self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        self._to_boto_request(parameters, operation(self, boto_service_name, service_action_name).input_shape)

    def normalise_response(self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None) -> None:
        self._from_boto_response(response, operation(self, boto_service_name, service_action_name).output_shape)

    with _replaced(StateTaskServiceAwsSdk, _normalise_parameters=normalise_parameters, _normalise_response=normalise_response):
        yield


@contextmanager
def dynamodb_transaction_snapshots() -> Iterator[None]:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def no_table_copy(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else _copy.deepcopy(obj, memo)

    original = models.DynamoDBBackend.transact_write_items
    singles = {name: getattr(models.DynamoDBBackend, name) for name in _SINGLE_WRITES}

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _WRITES:
            saved = _touched_items(self, transact_items)
            try:
                original(self, transact_items)
            except Exception:
                _restore(saved)
                raise

    def serialized(write: Any) -> Any:
        def one_at_a_time(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _WRITES:
                return write(self, *args, **kwargs)

        return one_at_a_time

    shim = types.SimpleNamespace(**{name: getattr(_copy, name) for name in dir(_copy) if not name.startswith("__")})
    shim.deepcopy = no_table_copy
    writes = {name: serialized(write) for name, write in singles.items()}
    # `copy` is a module global of moto's models: replaced there, for the deep copies its transactions make.
    with _replaced(models, copy=shim), _replaced(models.DynamoDBBackend, transact_write_items=transact_write_items, **writes):
        yield


@contextmanager
def _stop_before_start() -> Iterator[None]:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_environment = ExecutionWorker._get_evaluation_environment
    lock = threading.Lock()  # one for every worker: stops are rare, and each holds it for an instant

    def environment(self: Any) -> Any:
        env = original_environment(self)
        with lock:
            self.local_env = env
            pending = getattr(self, "local_pending_stop", None)
        if pending is not None:
            env.set_stop(**pending)
        return env

    def stop(self: Any, stop_date: Any, error: Any, cause: Any) -> None:
        with lock:
            env = getattr(self, "local_env", None)
            if env is None:
                self.local_pending_stop = {"stop_date": stop_date, "cause": cause, "error": error}
                return
        env.set_stop(stop_date=stop_date, cause=cause, error=error)

    with _replaced(ExecutionWorker, _get_evaluation_environment=environment, stop=stop):
        yield


@contextmanager
def _stop_is_final() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    original = Environment.set_error

    def set_error(self: Any, error: Any) -> None:
        with self._state_mutex:  # moto's own (reentrant) lock of the program state: no stop slips in between
            if isinstance(self._program_state, ProgramStopped):
                return
            original(self, error)

    with _replaced(Environment, set_error=set_error):
        yield


@contextmanager
def _sfn_start_execution() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import StateTaskServiceSfn

    original = StateTaskServiceSfn._normalise_parameters

    def normalise(self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None) -> None:
        original(self, parameters, boto_service_name=boto_service_name, service_action_name=service_action_name)
        if self._get_boto_service_action() == "start_execution" and service_action_name is None:
            for asl_name, boto_name in _BOTO_NAMES.items():
                if asl_name in parameters:
                    parameters[boto_name] = parameters.pop(asl_name)
            parameters.setdefault("name", str(uuid.uuid4()))

    def normalise_response(self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None) -> None:
        # boto3 answers `executionArn`; a state reads the API's `ExecutionArn`, as after an aws-sdk task.
        if self._get_boto_service_action() == "start_execution" and service_action_name is None:
            self._from_boto_response(response, _START_EXECUTION.output_shape)

    with _replaced(StateTaskServiceSfn, _normalise_parameters=normalise, _normalise_response=normalise_response):
        yield
