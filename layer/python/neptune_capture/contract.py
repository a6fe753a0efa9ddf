"""The handshake between the state machine, the stream handler, the local run and the CLI: every name
they must agree on, defined once here and imported everywhere else. Standard library only, so the CDK
app can import it without the Lambda's dependencies."""

from __future__ import annotations

from enum import StrEnum

# The CloudFormation stack `cdk deploy` creates, and the one the CLI's --stack means by default.
STACK_NAME = "NeptuneStream"
# The stream a deployment captures: the partition key of its checkpoint item and history timeline.
DEFAULT_STREAM_ID = "neptune"
# The local run writes its endpoints and the stack outputs it plays into this file of its data directory.
LOCAL_ENDPOINTS_FILE = "endpoints.json"
# Powertools publishes every metric under this namespace with a `service` dimension of SERVICE_NAME.
METRICS_NAMESPACE = "NeptuneStream"
SERVICE_NAME = "neptune-stream"


class State(StrEnum):
    """The state machine's states (workflow.py builds them; the local run and the tests read them)."""

    POLL = "Poll"
    ROUTE = "Route"
    WAIT = "WaitWhileIdle"
    CONTINUE_AS_NEW = "ContinueAsNew"
    HANDED_OVER = "HandedOver"
    FENCED = "AnotherPollerOwnsTheStream"
    RECORD_FAILURE = "RecordFailure"
    RELEASE_LEASE = "ReleaseLease"
    FAILED = "CaptureFailed"


class Status(StrEnum):
    """What one stream-handler invocation reports; the Route state branches on it."""

    ACTIVE = "ACTIVE"  # records were captured: poll again at once
    IDLE = "IDLE"  # nothing new within the invocation's budget: wait, then poll
    FENCED = "FENCED"  # another execution holds the stream: this one ends


class Key(StrEnum):
    """Keys of the handler's event (what the Poll state passes) and of the state it returns."""

    # In the event, set by the Poll state.
    STATE = "state"
    EXECUTION_ID = "executionId"
    EXECUTION_START_TIME = "executionStartTime"
    ITERATIONS_PER_EXECUTION = "iterationsPerExecution"
    # In the state: the handler's own bookkeeping, carried from one Poll to the next.
    STREAM_ID = "streamId"
    STATUS = "status"
    CHECKPOINT = "checkpoint"
    RECORDS = "records"
    TRANSACTIONS = "transactions"
    PAGES = "pages"
    MAX_IN_FLIGHT = "maxInFlight"  # the most transactions the invocation had in flight at once
    LAG_MS = "lagMs"
    DETAIL = "detail"
    GAP_RECORDED = "gapRecorded"
    ITERATION = "iteration"
    PARENT_EXECUTION_ID = "parentExecutionId"
    CONTINUE_AS_NEW = "continueAsNew"
    WAIT_SECONDS = "waitSeconds"
    # Operator flags in an execution's input: they act on the invocation that receives them only.
    RESUME_FROM_TRIM_HORIZON = "resumeFromTrimHorizon"
    FORCE_LEASE = "forceLease"
    # Where the Catch puts the error of a failed Poll.
    FAILURE = "failure"


def path(key: Key) -> str:
    """The JSONPath of a state key, as Choice conditions and Wait states name it."""
    return f"$.{key}"


class LambdaError(StrEnum):
    """Error names the Lambda service reports for an invocation that did not return (the local invoke
    reports the same ones): https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
    and https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html."""

    SERVICE = "Lambda.ServiceException"
    AWS_LAMBDA = "Lambda.AWSLambdaException"
    SDK_CLIENT = "Lambda.SdkClientException"
    TOO_MANY_REQUESTS = "Lambda.TooManyRequestsException"
    UNKNOWN = "Lambda.Unknown"
    TIMED_OUT = "Sandbox.Timedout"
    EXIT = "Runtime.ExitError"


class Output(StrEnum):
    """The stack's outputs: how the CLI finds a deployed stack's resources, and how the local run finds
    them in the synthesized template."""

    WRITER_ENDPOINT = "NeptuneWriterEndpoint"
    READER_ENDPOINT = "NeptuneReaderEndpoint"
    RECORDS_TABLE = "StreamRecordsTable"
    HISTORY_TABLE = "UpdateHistoryTable"
    CHECKPOINT_TABLE = "LatestCheckpointTable"
    STATE_MACHINE = "StateMachineArn"
    STATUS_FUNCTION = "StatusFunction"
    RESET_FUNCTION = "ResetFunction"
    STREAM_HANDLER_FUNCTION = "StreamHandlerFunction"
    ALARM_TOPIC = "AlarmTopicArn"
    STREAM_ID = "StreamId"
    # The EventBridge Scheduler schedule that starts an execution every few minutes (self-healing start).
    START_SCHEDULE = "StartScheduleName"
