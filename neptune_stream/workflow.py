"""The polling loop: Poll -> Route -> (Wait) -> Poll, handing over to a fresh execution of itself
(continue-as-new) long before Step Functions' 25,000-event history limit or its one-year maximum."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from neptune_capture import schema
from neptune_capture.contract import Key, LambdaError, State, Status, path
from neptune_capture.errors import retried_error_names
from neptune_stream import nag_ids
from neptune_stream.defaults import Defaults

# Errors worth a retry with backoff: the Lambda service itself, a timed-out or crashed invocation (its
# work is fenced and idempotent, so the next one resumes after its last commit), and the handler's own
# "transient after its internal retries" errors.
TRANSIENT_ERRORS = [*LambdaError, "States.Timeout", *retried_error_names()]


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
            State.RECORD_FAILURE,
            table=checkpoint,
            key={schema.STREAM_ID: tasks.DynamoAttributeValue.from_string(stream_id)},
            update_expression=(
                "SET lastFailure = :error, lastFailureCause = :cause, lastFailureExecution = :execution, lastFailureAt = :at"
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
        # next takes over at once. Only its own lease: the condition leaves another holder's alone.
        release_lease = tasks.DynamoUpdateItem(
            self,
            State.RELEASE_LEASE,
            table=checkpoint,
            key={schema.STREAM_ID: tasks.DynamoAttributeValue.from_string(stream_id)},
            update_expression="REMOVE leaseOwner, leaseExpiresAt",
            condition_expression="leaseOwner = :execution",
            expression_attribute_values={":execution": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id)},
            result_path=sfn.JsonPath.DISCARD,
        )
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
        continue_as_new.next(sfn.Succeed(self, State.HANDED_OVER, comment="A fresh execution carries on"))

        wait = sfn.Wait(self, State.WAIT, time=sfn.WaitTime.seconds_path(path(Key.WAIT_SECONDS)))
        wait.next(poll)

        route = (
            sfn.Choice(self, State.ROUTE)
            .when(sfn.Condition.boolean_equals(path(Key.CONTINUE_AS_NEW), True), continue_as_new)
            .when(
                sfn.Condition.string_equals(path(Key.STATUS), Status.FENCED),
                sfn.Succeed(self, State.FENCED, comment="Only one execution polls at a time"),
            )
            .when(sfn.Condition.string_equals(path(Key.STATUS), Status.IDLE), wait)
            .otherwise(poll)
        )
        poll.next(route)

        log_group = defaults.log_group(self, "Logs")
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
