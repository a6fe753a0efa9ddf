"""Alarms on what needs a person (a stopped state machine, nothing polling, stream lag, an expired
checkpoint) and a dashboard that also shows what does not (handler errors that Poll retries)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from neptune_capture import metrics as m
from neptune_capture.contract import METRICS_NAMESPACE, SERVICE_DIMENSION, SERVICE_NAME
from neptune_stream.defaults import Defaults

ONE_MINUTE = Duration.minutes(1)


def capture_metric_of(name: str, statistic: str = "Sum", period: Duration = ONE_MINUTE, service: str = SERVICE_NAME) -> cw.Metric:
    # Powertools adds the service dimension to every metric it emits (contract.service_name: one per capture).
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={SERVICE_DIMENSION: service},
        statistic=statistic,
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stream_handler: lambda_.IFunction,
        state_machine: sfn.IStateMachine,
        lag_alarm_seconds: int,
        defaults: Defaults,
        service: str = SERVICE_NAME,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        def capture_metric(name: str, statistic: str = "Sum", period: Duration = ONE_MINUTE) -> cw.Metric:
            return capture_metric_of(name, statistic, period, service)

        # Only this account's alarms may publish to the topic (the confused deputy:
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
        from_this_accounts_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="cloudwatch", resource="alarm", resource_name="*",
                                                          arn_format=ArnFormat.COLON_RESOURCE_NAME)},
        }  # fmt: skip

        # CloudWatch can only publish to an encrypted topic whose key lets it; AWS-managed keys don't
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        # A demo's `cdk destroy` schedules the key's deletion too; production keeps it.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="neptune-stream alarm topic",
            removal_policy=defaults.removal_policy,
            pending_window=defaults.key_pending_window,
        )
        # The SNS guide's key policy statement for AWS service publishers, as it is written: the service
        # principal, kms:GenerateDataKey* and kms:Decrypt, no condition
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        # No page says CloudWatch sends aws:SourceAccount or aws:SourceArn with the KMS calls SNS makes for it,
        # and a condition that is not met drops every notification without a trace. Who may publish is the
        # topic policy's business below, which keeps the confused-deputy conditions; this key encrypts
        # nothing but this topic.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheTopicKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True, display_name="neptune-stream alarms")
        # enforce_ssl gives the topic a policy, and a topic policy replaces the default one: without this
        # statement nothing lets CloudWatch publish, and no alarm reaches anyone (the failure and the fix of
        # https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarmsToPublish",
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions=from_this_accounts_alarms,
            )
        )
        action = cw_actions.SnsAction(self.topic)

        five_minutes = Duration.minutes(5)
        at_least = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD

        def alarm(
            name: str,
            description: str,
            metric: cw.IMetric,
            threshold: float = 1,
            *,
            comparison: cw.ComparisonOperator = at_least,
            periods: int = 1,
            missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
        ) -> cw.Alarm:
            return cw.Alarm(
                self,
                name,
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=comparison,
                treat_missing_data=missing,
            )

        # Not ABORTED: an execution is stopped through the API by an operator (`neptune-stream stop`) or by
        # whoever killed it, and a killed holder's lease is taken over at the next scheduled start; if
        # nothing polls afterwards, NotPolling says so.
        stopped = cw.MathExpression(
            expression="failed + timedOut",
            using_metrics={
                "failed": state_machine.metric_failed(period=five_minutes),
                "timedOut": state_machine.metric_timed_out(period=five_minutes),
            },
            period=five_minutes,
        )
        # No alarm on the stream handler's Lambda Errors: Poll retries them, and after every first deploy they
        # include the 403s Neptune answers while the new role's access reaches it ("up to 10 minutes",
        # https://docs.aws.amazon.com/neptune/latest/userguide/iam-dp-actions.html), which page a person for
        # nothing. What needs one: an execution that failed for good (StateMachineStopped: its retries are
        # spent), nothing holding the lease (NotPolling), a growing lag, an expired checkpoint. The errors
        # stay on the dashboard.
        alarms = [
            alarm(
                "StreamLag",
                f"Captured changes lag Neptune commits by more than {lag_alarm_seconds} s",
                capture_metric(m.LAG_MS, "Maximum", five_minutes),
                lag_alarm_seconds * 1000,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                periods=2,
            ),
            alarm(
                "ExpiredCheckpoint",
                "The checkpoint is older than the stream's retention: see docs/operations.md, 'Expired checkpoint'",
                capture_metric(m.EXPIRED, "Sum", five_minutes),
            ),
            alarm("StateMachineStopped", "An execution failed or timed out: capture has stopped", stopped),
            # An invocation that holds the lease lasts at most 15 minutes, so none for 30 means nothing
            # captures. Not the function's Invocations: the start schedule's fenced starts invoke it too.
            alarm(
                "NotPolling",
                "No stream handler invocation held the lease for 30 minutes: nothing captures the stream",
                capture_metric(m.POLLING_INVOCATIONS, "Sum", Duration.minutes(30)),
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING,
            ),
        ]
        self.alarms = {a.node.id: a for a in alarms}
        for each in alarms:
            each.add_alarm_action(action)

        records = capture_metric(m.RECORDS)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Records captured per second",
                left=[
                    cw.MathExpression(
                        expression="records / PERIOD(records)",
                        using_metrics={"records": records},
                        label="records/s",
                        period=Duration.minutes(1),
                    )
                ],
            ),
            cw.GraphWidget(title="Stream lag (ms)", left=[capture_metric(m.LAG_MS, "Maximum"), capture_metric(m.LAG_MS, "p50")]),
            cw.GraphWidget(
                title="Throttles, fenced writes, handler errors",
                left=[capture_metric(m.THROTTLES), capture_metric(m.FENCED), stream_handler.metric_errors()],
            ),
            cw.GraphWidget(
                title="Executions",
                left=[state_machine.metric_started(), state_machine.metric_succeeded(), state_machine.metric_failed()],
            ),
        )
        self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24))
