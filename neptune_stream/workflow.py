"""The polling loop: Poll -> Route -> (Wait) -> Poll, handing over to a fresh execution of itself
(continue-as-new) long before Step Functions' 25,000-event history limit or its one-year maximum.

An execution that cannot take the lease (the schedule starts one every few minutes) asks Step Functions
whether the holder still runs (CheckLeaseHolder: DescribeExecution, which the Lambdas could not call from
their isolated subnets). A running holder keeps the stream and this execution ends at once; a holder that
is not running (stopped, failed, timed out: killed without releasing its lease) is taken over by a second
Poll whose lease condition names it, so a third execution that took the lease meanwhile still wins. Taking
the lease gives it a new id and then rewrites every fence slot with it, so a late checkpoint update of the
dead holder's last invocation fails its lease condition, and a late data write its fence check."""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Aws, Duration, Fn, Stack, Validations
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from neptune_capture import schema
from neptune_capture.contract import ExecutionStatus, Key, LambdaError, State, Status, path
from neptune_capture.errors import iam_propagation_error_names, retried_error_names
from neptune_capture.schema import CheckpointAttr as C
from neptune_stream import nag_ids
from neptune_stream.defaults import Defaults
from neptune_stream.functions import STREAM_HANDLER_TIMEOUT

# Errors worth a retry with backoff: the Lambda service itself, a timed-out or crashed invocation (its
# work is fenced and idempotent, so the next one resumes after its last commit), and the handler's own
# "transient after its internal retries" errors.
TRANSIENT_ERRORS = [*LambdaError, "States.Timeout", *retried_error_names()]
# Neptune answers 403 until an IAM change has reached it, "up to 10 minutes"
# (https://docs.aws.amazon.com/neptune/latest/userguide/iam-dp-actions.html). These waits add up to
# 30 + 60 + 120 + 240 + 300 + 300 = 1,050 s, past that window, before the execution fails loudly; no jitter:
# one poller, no herd to spread.
IAM_PROPAGATION_SECONDS = 600
IAM_RETRY = {"interval": 30, "backoff_rate": 2, "max_delay": 300, "max_attempts": 6}
# Without TimeoutSeconds a Task waits as long as the execution may run ("Use timeouts to avoid stuck
# executions", https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html), so the
# States.Timeout retried below could never come. A minute above the function's own timeout: Lambda ends a
# slow invocation first (its error is retried as Sandbox.Timedout); this catches an invocation whose answer
# never reaches Step Functions.
POLL_TIMEOUT = Duration.seconds(STREAM_HANDLER_TIMEOUT.to_seconds() + 60)
# What StartExecution may answer that passes by itself
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): too many running
# executions (ExecutionLimitExceeded: "Running executions must end or be stopped before a new execution can be
# started"), and the client's own failures (network, timeouts). Not the service's other errors (access denied,
# state machine deleting or gone, invalid input), which a retry only delays: the execution then fails loudly
# (RecordFailure) and the schedule starts the next one. The docs are silent on the name a throttled
# StartExecution gets in this integration; a throttled hand-over fails the same loud way and the schedule
# restarts capture within one period.
CONTINUE_AS_NEW_RETRIED = ["StepFunctions.ExecutionLimitExceededException", "StepFunctions.SdkClientException"]


def retry_waits(interval: float, backoff_rate: float, max_delay: float, max_attempts: int) -> list[float]:
    """The waits a Retrier without jitter makes before each of its attempts."""
    return [min(interval * backoff_rate**n, max_delay) for n in range(max_attempts)]


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stream_handler: lambda_.IFunction,
        checkpoint: ddb.ITable,
        stream_id: str,
        iterations_per_execution: int,
        defaults: Defaults,
    ) -> None:
        super().__init__(scope, construct_id)
        partition = Stack.of(self).partition

        poll = tasks.LambdaInvoke(
            self,
            State.POLL,
            lambda_function=stream_handler,
            comment="Polls Neptune Streams and writes DynamoDB transactions until its time budget is spent",
            payload_response_only=True,
            # The whole state goes in and the handler returns the next state, so an execution started
            # with any input (even {}) works and the handler owns the loop's bookkeeping.
            payload=sfn.TaskInput.from_object(
                {
                    Key.STATE: sfn.JsonPath.object_at("$"),
                    Key.EXECUTION_ID: sfn.JsonPath.execution_id,
                    Key.EXECUTION_START_TIME: sfn.JsonPath.execution_start_time,
                    Key.ITERATIONS_PER_EXECUTION: iterations_per_execution,
                }
            ),
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(POLL_TIMEOUT),
        )
        poll.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=8,
            max_delay=Duration.minutes(2),
            jitter_strategy=sfn.JitterType.FULL,
        )
        poll.add_retry(
            errors=iam_propagation_error_names(),
            interval=Duration.seconds(IAM_RETRY["interval"]),
            backoff_rate=IAM_RETRY["backoff_rate"],
            max_attempts=IAM_RETRY["max_attempts"],
            max_delay=Duration.seconds(IAM_RETRY["max_delay"]),
        )

        # The failure is written where operators look first: on the checkpoint item.
        record_failure = tasks.DynamoUpdateItem(
            self,
            State.RECORD_FAILURE,
            table=checkpoint,
            key={schema.STREAM_ID: tasks.DynamoAttributeValue.from_string(stream_id)},
            update_expression=(
                f"SET {C.LAST_FAILURE} = :error, {C.LAST_FAILURE_CAUSE} = :cause, "
                f"{C.LAST_FAILURE_EXECUTION} = :execution, {C.LAST_FAILURE_AT} = :at"
            ),
            expression_attribute_values={
                ":error": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(f"{path(Key.FAILURE)}.Error")),
                ":cause": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(f"{path(Key.FAILURE)}.Cause")),
                ":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id),
                ":at": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.State.EnteredTime")),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        failed = sfn.Fail(self, State.FAILED, error=State.FAILED, cause_path=f"{path(Key.FAILURE)}.Cause")
        # A failed execution polls no more: it gives its lease up, so the execution an operator starts
        # next takes over at once. Only its own lease: the condition leaves another holder's alone. The
        # fence slots stay as they are until the next holder rewrites them: a late data write of this
        # execution's last invocation may land meanwhile, but it is a batch cut greedily from a checkpoint,
        # which the next holder cuts the same way and finds stored; the short tail batch travels with a
        # checkpoint update, which this condition's removal of the owner refuses.
        release_lease = tasks.DynamoUpdateItem(
            self,
            State.RELEASE_LEASE,
            table=checkpoint,
            key={schema.STREAM_ID: tasks.DynamoAttributeValue.from_string(stream_id)},
            update_expression=f"REMOVE {C.LEASE_OWNER}, {C.LEASE_EXPIRES_AT}",
            condition_expression=f"{C.LEASE_OWNER} = :execution",
            expression_attribute_values={":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id)},
            result_path=sfn.JsonPath.DISCARD,
        )
        # Both write the stream's checkpoint item and nothing else: CDK grants each task's UpdateItem on the
        # whole table, which the state machine's role would keep for any item; limited here to that key
        # (dynamodb:LeadingKeys, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html)
        # before the state machine copies the statements into its role's policy.
        for task in (record_failure, release_lease):
            for statement in task._task_policies or []:  # CDK's own grant (its protected taskPolicies)
                statement.add_condition("ForAllValues:StringEquals", {"dynamodb:LeadingKeys": [stream_id]})
        record_failure.add_catch(failed, result_path=sfn.JsonPath.DISCARD)
        release_lease.add_catch(failed, result_path=sfn.JsonPath.DISCARD)
        record_failure.next(release_lease)
        release_lease.next(failed)
        poll.add_catch(record_failure, errors=["States.ALL"], result_path=path(Key.FAILURE))

        # The state machine cannot name its own ARN in its definition; the context object carries it.
        continue_as_new = sfn.CustomState(
            self,
            State.CONTINUE_AS_NEW,
            state_json={
                "Type": "Task",
                "Comment": "Starts a fresh execution of this state machine that takes over the stream lease",
                "Resource": f"arn:{partition}:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    "Input": {
                        Key.ITERATION: 0,
                        f"{Key.PARENT_EXECUTION_ID}.$": "$$.Execution.Id",
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                    },
                },
                "Retry": [
                    {
                        "ErrorEquals": CONTINUE_AS_NEW_RETRIED,
                        "IntervalSeconds": 2,
                        "BackoffRate": 2,
                        "MaxAttempts": 6,
                    }
                ],
                # CustomState drops a None ResultPath (which ASL would read as "discard"): keep only the
                # child's ARN instead, so the parent's output says who carries on (and holds no timestamp).
                "ResultSelector": {"executionArn.$": "$.ExecutionArn"},
                "ResultPath": path(Key.HANDED_OVER_TO),
            },
        )
        # StartExecution still failing after its retries: the same loud path as a failed Poll, which also
        # gives the lease up so the next start (the schedule's) does not wait for it to expire.
        continue_as_new.add_catch(record_failure, errors=["States.ALL"], result_path=path(Key.FAILURE))
        continue_as_new.next(sfn.Succeed(self, State.HANDED_OVER, comment="A fresh execution carries on"))

        wait = sfn.Wait(self, State.WAIT, time=sfn.WaitTime.seconds_path(path(Key.WAIT_SECONDS)))
        wait.next(poll)

        fenced = sfn.Succeed(self, State.FENCED, comment="Only one execution polls at a time")
        check_holder = sfn.CustomState(
            self,
            State.CHECK_LEASE_HOLDER,
            state_json={
                "Type": "Task",
                "Comment": "Is the execution that holds the lease still running?",
                "Resource": f"arn:{partition}:states:::aws-sdk:sfn:describeExecution",
                "Parameters": {"ExecutionArn.$": path(Key.LEASE_HOLDER)},
                "ResultSelector": {"status.$": "$.Status"},
                "ResultPath": path(Key.LEASE_HOLDER_STATUS),
            },
        )
        # Not knowing (a holder that is no execution of ours, no permission, throttling) is treated as
        # "running": the lease then expires as it always did, and the next start takes it.
        check_holder.add_catch(fenced, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
        take_over = sfn.Pass(
            self,
            State.TAKE_OVER,
            comment="The holder is not running: the next Poll may take its lease, and only its lease",
            input_path=path(Key.LEASE_HOLDER),
            result_path=path(Key.TAKE_OVER_FROM),
        )
        take_over.next(poll)
        check_holder.next(
            sfn.Choice(self, State.LEASE_HOLDER_RUNNING)
            .when(sfn.Condition.string_equals(f"{path(Key.LEASE_HOLDER_STATUS)}.status", ExecutionStatus.RUNNING), fenced)
            .otherwise(take_over)
        )

        route = (
            sfn.Choice(self, State.ROUTE)
            .when(sfn.Condition.boolean_equals(path(Key.CONTINUE_AS_NEW), True), continue_as_new)
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals(path(Key.STATUS), Status.FENCED),
                    sfn.Condition.is_string(path(Key.LEASE_HOLDER)),
                ),
                check_holder,
            )
            .when(sfn.Condition.string_equals(path(Key.STATUS), Status.FENCED), fenced)
            .when(sfn.Condition.string_equals(path(Key.STATUS), Status.IDLE), wait)
            .otherwise(poll)
        )
        poll.next(route)

        # Named under /aws/vendedlogs/: otherwise Step Functions adds the group to the account's CloudWatch Logs
        # resource policy, whose 5,120 characters a few stacks use up, and logging setup then fails
        # (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html). The stack's name and the id
        # CloudFormation gave this very stack make it unique: a second stack, or this one deployed again after a
        # destroy that retained the old group (production), never collides with a name in use.
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        log_group = defaults.log_group(self, "Logs", log_group_name=f"/aws/vendedlogs/states/{Aws.STACK_NAME}-{stack_uuid}")
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="neptune-stream: captures Neptune Streams into DynamoDB, forever",
            definition_body=sfn.DefinitionBody.from_chainable(poll),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        # A separate policy: granting through the role's default policy would make the state machine
        # depend on a policy that names the state machine. Continue-as-new starts this state machine;
        # CheckLeaseHolder describes its executions (and no other state machine's).
        self.own_executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Policy(
            self,
            "OwnExecutionsPolicy",
            roles=[self.state_machine.role],
            statements=[
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]),
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[self.own_executions]),
            ],
        )
        Validations.of(self.state_machine).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray tracing and CloudWatch Logs delivery, which Step Functions documents as resource '*' only",
            ),
            Acknowledgment(
                id=nag_ids.wildcard_resource(self, f"{stream_handler.function_arn}:*"),
                reason="lambda:InvokeFunction on the stream handler and its versions/aliases only",
            ),
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id=nag_ids.wildcard_resource(self, self.own_executions),
                reason="states:DescribeExecution on this state machine's own executions, whose names are generated",
            )
        )
