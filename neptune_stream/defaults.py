"""The CDK defaults every construct shares: what survives `cdk destroy` in each mode, and the log-group
recipe (retention from context, removal by mode)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from neptune_capture.contract import ContextKey

_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH", 60: "TWO_MONTHS",
    90: "THREE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 731: "TWO_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS",
}  # fmt: skip


def retention(days: int) -> logs.RetentionDays:
    """CloudWatch Logs accepts only these retention periods."""
    if days not in _RETENTION:
        raise ValueError(f"{ContextKey.LOG_RETENTION_DAYS.qualified} must be one of {sorted(_RETENTION)}, got {days}")
    return logs.RetentionDays[_RETENTION[days]]


@dataclass(frozen=True)
class Defaults:
    production: bool = False
    log_retention_days: int = 30

    def __post_init__(self) -> None:
        retention(self.log_retention_days)

    @property
    def removal_policy(self) -> RemovalPolicy:
        """Production keeps data and logs when the stack goes; a demo leaves nothing behind."""
        return RemovalPolicy.RETAIN if self.production else RemovalPolicy.DESTROY

    @property
    def key_pending_window(self) -> Duration:
        """A demo's key goes with `cdk destroy`, after KMS's shortest waiting period; production retains it."""
        return Duration.days(7 if not self.production else 30)

    def log_group(self, scope: Construct, construct_id: str, log_group_name: str | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=log_group_name,
            retention=retention(self.log_retention_days),
            removal_policy=self.removal_policy,
        )
