"""The polling loop: Poll -> Route -> (Wait) -> Poll, handing over to a fresh execution of itself
(continue-as-new) long before Step Functions' 25,000-event history limit or its one-year maximum."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from neptune_stream.tables import Tables

# Errors worth a retry with backoff: the Lambda service itself, a timed-out or crashed invocation (its
# work is fenced and idempotent, so the next one resumes after its last commit), and the handler's own
# "transient after its internal retries" error.
TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "Runtime.ExitError",
    "States.Timeout",
    "TransientCaptureError",
]
STATE_POLL = "Poll"
STATE_ROUTE = "Route"
STATE_WAIT = "WaitWhileIdle"
STATE_CONTINUE = "ContinueAsNew"


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stream_handler: lambda_.IFunction,
        tables: Tables,
        stream_id: str,
        iterations_per_execution: int,
        log_retention: logs.RetentionDays,
        production: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        partition = Stack.of(self).partition

        poll = tasks.LambdaInvoke(
            self,
            STATE_POLL,
            lambda_function=stream_handler,
            comment="Polls Neptune Streams and writes DynamoDB transactions until its time budget is spent",
            payload_response_only=True,
            # The whole state goes in and the handler returns the next state, so an execution started
            # with any input (even {}) works and the handler owns the loop's bookkeeping.
            payload=sfn.TaskInput.from_object(
                {
                    "state": sfn.JsonPath.object_at("$"),
                    "executionId": sfn.JsonPath.execution_id,
                    "executionStartTime": sfn.JsonPath.execution_start_time,
                    "iterationsPerExecution": iterations_per_execution,
                }
            ),
            retry_on_service_exceptions=False,
        )
        poll.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=8,
            max_delay=Duration.minutes(2),
            jitter_strategy=sfn.JitterType.FULL,
        )

        # The failure is written where operators look first: on the checkpoint item.
        record_failure = tasks.DynamoUpdateItem(
            self,
            "RecordFailure",
            table=tables.checkpoint,
            key={"streamId": tasks.DynamoAttributeValue.from_string(stream_id)},
            update_expression=(
                "SET lastFailure = :error, lastFailureCause = :cause, lastFailureExecution = :execution, lastFailureAt = :at"
            ),
            expression_attribute_values={
                ":error": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.failure.Error")),
                ":cause": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.failure.Cause")),
                ":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id),
                ":at": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.State.EnteredTime")),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        failed = sfn.Fail(self, "CaptureFailed", error="CaptureFailed", cause_path="$.failure.Cause")
        # A failed execution polls no more: it gives its lease up, so the execution an operator starts
        # next takes over at once. Only its own lease: the condition leaves another holder's alone.
        release_lease = tasks.DynamoUpdateItem(
            self,
            "ReleaseLease",
            table=tables.checkpoint,
            key={"streamId": tasks.DynamoAttributeValue.from_string(stream_id)},
            update_expression="REMOVE leaseOwner, leaseExpiresAt",
            condition_expression="leaseOwner = :execution",
            expression_attribute_values={":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id)},
            result_path=sfn.JsonPath.DISCARD,
        )
        record_failure.add_catch(failed, result_path=sfn.JsonPath.DISCARD)
        release_lease.add_catch(failed, result_path=sfn.JsonPath.DISCARD)
        record_failure.next(release_lease)
        release_lease.next(failed)
        poll.add_catch(record_failure, errors=["States.ALL"], result_path="$.failure")

        # The state machine cannot name its own ARN in its definition; the context object carries it.
        continue_as_new = sfn.CustomState(
            self,
            STATE_CONTINUE,
            state_json={
                "Type": "Task",
                "Comment": "Starts a fresh execution of this state machine that takes over the stream lease",
                "Resource": f"arn:{partition}:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    "Input": {
                        "iteration": 0,
                        "parentExecutionId.$": "$$.Execution.Id",
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                    },
                },
                "Retry": [
                    {
                        "ErrorEquals": [
                            "StepFunctions.SdkClientException",
                            "StepFunctions.AWSStepFunctionsException",
                            "States.TaskFailed",
                        ],
                        "IntervalSeconds": 2,
                        "BackoffRate": 2,
                        "MaxAttempts": 6,
                    }
                ],
                "ResultPath": None,
            },
        )
        continue_as_new.next(sfn.Succeed(self, "HandedOver", comment="A fresh execution carries on"))

        wait = sfn.Wait(self, STATE_WAIT, time=sfn.WaitTime.seconds_path("$.waitSeconds"))
        wait.next(poll)

        route = (
            sfn.Choice(self, STATE_ROUTE)
            .when(sfn.Condition.boolean_equals("$.continueAsNew", True), continue_as_new)
            .when(
                sfn.Condition.string_equals("$.status", "FENCED"),
                sfn.Succeed(self, "AnotherPollerOwnsTheStream", comment="Only one execution polls at a time"),
            )
            .when(sfn.Condition.string_equals("$.status", "IDLE"), wait)
            .otherwise(poll)
        )
        poll.next(route)

        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
        )
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
        # depend on a policy that names the state machine.
        iam.Policy(
            self,
            "ContinueAsNewPolicy",
            roles=[self.state_machine.role],
            statements=[iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn])],
        )
