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

from aws_cdk import Duration
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class StartSchedule(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine, period_minutes: int, enabled: bool
    ) -> None:
        super().__init__(scope, construct_id)
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
                # The next firing is the retry: a start that failed is not worth repeating later.
                retry_attempts=0,
            ),
            enabled=enabled,
        )

    @property
    def schedule_name(self) -> str:
        return self.schedule.schedule_name
