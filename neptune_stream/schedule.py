"""The self-healing start: an EventBridge Scheduler schedule that starts an execution every few minutes.
While one polls, the new one is fenced and ends at once (a few state transitions and one short handler
invocation); when none does (a failure that exhausted its retries, an execution killed without releasing
its lease), capture resumes within one period. An expired checkpoint still fails every such execution
loudly: only an operator's `resumeFromTrimHorizon` skips the lost changes.

A rate schedule with no start date "starts invoking the target immediately"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html): enabled at deploy, it is what
starts capture on `cdk deploy`. Created disabled (autoStart false), capture waits for
`neptune-stream start`, which resumes it."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class StartSchedule(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine, period_minutes: int, enabled: bool
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # The schedule's own role, trusted by the scheduler only for this account's schedules of the default
        # group (https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html),
        # as CDK's generated role is; the target adds states:StartExecution on this state machine to its policy.
        self.role = iam.Role(
            self,
            "Role",
            description="neptune-stream start schedule: starts the state machine",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler", resource="schedule-group", resource_name="default"
                        ),
                    }
                },
            ),
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="neptune-stream: starts an execution; one already polling fences it",
            schedule=scheduler.ScheduleExpression.rate(Duration.minutes(period_minutes)),
            # Its role trusts the scheduler only for this account's schedules (CDK adds aws:SourceAccount
            # and aws:SourceArn), and may start this state machine only.
            target=targets.StepFunctionsStartExecution(
                state_machine,
                input=scheduler.ScheduleTargetInput.from_object({}),
                role=self.role,
                # The next firing is the retry: a start that failed is not worth repeating later.
                retry_attempts=0,
            ),
            enabled=enabled,
        )
        # Created only once its role may start the state machine: a rate schedule fires at once, and a first
        # start refused for want of states:StartExecution (the policy not created yet) would begin capture one
        # period late. The RoleArn reference orders the role alone, not its policy, which only DependsOn does
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html);
        # depending on the role construct covers both.
        self.schedule.node.add_dependency(self.role)

    @property
    def schedule_name(self) -> str:
        return self.schedule.schedule_name
