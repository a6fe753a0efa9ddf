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
# What the local run's handlers print (their log lines and their metrics, in CloudWatch's embedded metric
# format) goes to this file of its data directory, as a Lambda's output goes to CloudWatch Logs.
LOCAL_FUNCTION_LOG = "lambda.log"
# The region the local run's AWS endpoints (moto) and its clients use.
LOCAL_REGION = "us-east-1"
# Powertools publishes every metric under this namespace with a SERVICE_DIMENSION dimension of SERVICE_NAME.
METRICS_NAMESPACE = "NeptuneStream"
SERVICE_DIMENSION = "service"
SERVICE_NAME = "neptune-stream"
# The timeouts of the functions an operator's command invokes synchronously: the CLI waits longer than them.
STATUS_FUNCTION_TIMEOUT_SECONDS = 30
RESET_FUNCTION_TIMEOUT_SECONDS = 300


# The stack's settings in CDK context (cdk.json, or `-c neptune-stream:KEY=VALUE`): every key under one prefix.
CONTEXT_PREFIX = "neptune-stream:"


class ContextKey(StrEnum):
    """The stack's CDK context keys (read by neptune_stream.config; meaning and defaults: docs/configuration.md)."""

    MODE = "mode"
    INSTANCE_CLASS = "instanceClass"
    STREAMS_EXPIRY_DAYS = "streamsExpiryDays"
    LOG_RETENTION_DAYS = "logRetentionDays"
    PAGE_LIMIT = "pageLimit"
    IN_FLIGHT = "inFlight"
    IDLE_BASE_SECONDS = "idleBaseSeconds"
    MAX_IDLE_WAIT_SECONDS = "maxIdleWaitSeconds"
    ITERATIONS_PER_EXECUTION = "iterationsPerExecution"
    START_SCHEDULE_MINUTES = "startScheduleMinutes"
    LAG_ALARM_SECONDS = "lagAlarmSeconds"
    AUTO_START = "autoStart"
    POWERTOOLS = "powertools"
    EXISTING_CLUSTER = "existingCluster"
    ALLOW_RESET = "allowReset"
    START_FROM = "startFrom"
    GRAPH_MODEL = "graphModel"

    @property
    def qualified(self) -> str:
        """The key as CDK context holds it."""
        return CONTEXT_PREFIX + self.value

    def flag(self, value: object) -> str:
        """The `cdk` command-line option that sets it."""
        return f"-c {self.qualified}={value}"


class ResetReply(StrEnum):
    """What the project's reset adds to Neptune's fast-reset answer (the reset function's reply, which the CLI
    prints): the generation it opened, when, the one that ended, its last captured event, what was discarded."""

    GENERATION = "generation"
    GENERATION_STARTED_AT = "generationStartedAt"
    PREVIOUS_GENERATION = "previousGeneration"
    LAST_CAPTURED = "lastCaptured"
    DISCARDED = "discarded"


def service_name(stream_id: str) -> str:
    """The service dimension of a capture's metrics. Two captures in one account and region (two clusters,
    two stream ids) publish under the same namespace: each has its own service, so neither's alarms count
    the other's metrics. The default stream keeps the plain name its alarms and dashboards have always read."""
    return SERVICE_NAME if stream_id == DEFAULT_STREAM_ID else f"{SERVICE_NAME}-{stream_id}"


class State(StrEnum):
    """The state machine's states (workflow.py builds them; the local run and the tests read them)."""

    POLL = "Poll"
    ROUTE = "Route"
    WAIT = "WaitWhileIdle"
    CONTINUE_AS_NEW = "ContinueAsNew"
    HANDED_OVER = "HandedOver"
    FENCED = "AnotherPollerOwnsTheStream"
    # A fenced start asks whether the lease holder still runs; a holder that does not is taken over.
    CHECK_LEASE_HOLDER = "CheckLeaseHolder"
    LEASE_HOLDER_RUNNING = "IsLeaseHolderRunning"
    TAKE_OVER = "TakeOverDeadHoldersLease"
    RECORD_FAILURE = "RecordFailure"
    RELEASE_LEASE = "ReleaseLease"
    FAILED = "CaptureFailed"


class Status(StrEnum):
    """What one stream-handler invocation reports; the Route state branches on it."""

    ACTIVE = "ACTIVE"  # records were captured: poll again at once
    IDLE = "IDLE"  # nothing new within the invocation's budget: wait, then poll
    FENCED = "FENCED"  # another execution holds the stream: this one ends


class ExecutionStatus(StrEnum):
    """A Step Functions execution's status, as DescribeExecution and ListExecutions name it
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


class GraphModel(StrEnum):
    """Which of Neptune's graphs a deployment captures (`neptune-stream:graphModel`, the handler's GRAPH_MODEL):
    the property graph (Gremlin, openCypher) through GetPropertygraphStream in PG_JSON, or the RDF graph
    (SPARQL) through GetSparqlStream in NQUADS
    (https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html)."""

    PROPERTY_GRAPH = "propertygraph"
    RDF = "rdf"


class StartFrom(StrEnum):
    """Where capture begins the first time it starts on a stream (`startFrom` in an execution's input, or
    the deployed default). Neptune's iterator types of the same names
    (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html)."""

    # Every record still in the stream, from the oldest one retention has not removed.
    TRIM_HORIZON = "TRIM_HORIZON"
    # What is committed from now on: LATEST answers the newest record itself ("at most one record"), and
    # capture begins right after it, so that record and everything before it are not captured.
    LATEST = "LATEST"


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
    # Set by the invocation that began the stream's first capture from LATEST: the event it started after.
    STARTED_AFTER = "startedAfter"
    ITERATION = "iteration"
    PARENT_EXECUTION_ID = "parentExecutionId"
    CONTINUE_AS_NEW = "continueAsNew"
    # Set by the ContinueAsNew state: the execution that carries on ({"executionArn": ...}).
    HANDED_OVER_TO = "handedOverTo"
    WAIT_SECONDS = "waitSeconds"
    # Operator flags in an execution's input: they act on the invocation that receives them only.
    RESUME_FROM_TRIM_HORIZON = "resumeFromTrimHorizon"
    FORCE_LEASE = "forceLease"
    # Where the first capture on a stream begins (a StartFrom); ignored once the stream has been started.
    START_FROM = "startFrom"
    # Set by the handler when it could not take the lease: the execution that holds it.
    LEASE_HOLDER = "leaseHolder"
    # Where CheckLeaseHolder puts the holder's Step Functions status ({"status": "RUNNING"|...}).
    LEASE_HOLDER_STATUS = "leaseHolderStatus"
    # Set by the state machine once the holder is known not to run: the lease it may take over.
    TAKE_OVER_FROM = "takeOverFrom"
    # Where the Catch puts the error of a failed Poll.
    FAILURE = "failure"
    # The capture generation after the invocation; RESTARTED: why it opened a new one (the stream restarted).
    GENERATION = "generation"
    RESTARTED = "restarted"
    # In the reset function's event: reset even though the stream holds changes capture has not stored.
    DISCARD_UNCAPTURED = "discardUncaptured"


def path(key: Key) -> str:
    """The JSONPath of a state key, as Choice conditions and Wait states name it."""
    return f"$.{key}"


class LambdaError(StrEnum):
    """Error names the Lambda service reports for an invocation that did not return (the local invoke
    reports the same ones): https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
    (whose Retry example lists ClientExecutionTimeoutException first) and
    https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html."""

    CLIENT_EXECUTION_TIMEOUT = "Lambda.ClientExecutionTimeoutException"
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
    # The Neptune cluster's identifier (generated by CloudFormation): reboots, its audit log group.
    CLUSTER_IDENTIFIER = "NeptuneClusterId"
    STREAM_ID = "StreamId"
    # The EventBridge Scheduler schedule that starts an execution every few minutes (self-healing start).
    START_SCHEDULE = "StartScheduleName"
    # The Lambdas' own security group: the source Neptune's security group must admit.
    LAMBDA_SECURITY_GROUP = "LambdaSecurityGroupId"
    # An existing cluster whose security group its owner manages: the exact rule to add (a CLI command).
    CLUSTER_INGRESS_RULE = "ClusterSecurityGroupRuleToAdd"
