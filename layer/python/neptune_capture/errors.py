"""What the capture pipeline raises on purpose, and which of it the state machine retries. Standard
library only: the CDK app derives the Poll state's retry list from these classes."""

from __future__ import annotations


class CaptureError(Exception):
    """Base of everything the capture pipeline raises on purpose."""


class NeptuneCallError(CaptureError):
    def __init__(self, operation: str, code: str, message: str, status: int | None, retryable: bool) -> None:
        super().__init__(f"Neptune {operation} failed: {code} (HTTP {status}): {message}")
        self.operation, self.code, self.status, self.retryable = operation, code, status, retryable


class NeptuneAccessDeniedError(NeptuneCallError):
    """Neptune refused the request's IAM signature (HTTP 403). Right after a deploy that changed the
    handler's policy this is expected for a while: "Changes to an IAM policy take up to 10 minutes to apply
    to the specified Neptune resources" (https://docs.aws.amazon.com/neptune/latest/userguide/iam-dp-actions.html).
    The state machine retries it slowly for longer than that, then fails loudly."""


class StreamExpiredError(CaptureError):
    """The checkpoint points before the stream's retention horizon: records between are gone. It fails every
    execution until an operator resumes (invariant I12, docs/exactly-once.md#i12)."""


class TransientCaptureError(CaptureError):
    """Still failing after the handler's own retries; Step Functions retries the invocation."""


class MalformedPageError(CaptureError):
    """A stream page that cannot be trusted: the message names the event and the problem."""


class StreamsDisabledError(CaptureError):
    """Neptune Streams is not enabled on the cluster: nothing can be captured until its owner sets the
    parameter and reboots. Not retried: the message says what to do (preconditions.streams_problem)."""


class InvalidInputError(CaptureError):
    """An execution's input that cannot be obeyed (an unknown `startFrom`): the message names it."""


class HistoryConflictError(CaptureError):
    """The history already holds a batch at this position that covers other events: only possible when
    batches were cut differently (a resume from TRIM_HORIZON after a crash left batches beyond the
    checkpoint). Retrying cannot help: the message names the item and both ranges (invariant I9,
    docs/exactly-once.md#i9)."""


class FencedError(CaptureError):
    """Another poller advanced the checkpoint or holds the lease: this one must stop. `holder` names the
    lease holder when the lease could not be taken (None when it is not known)."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


# A Lambda reports an unhandled exception by its class name (errorType), which is what a state
# machine's Retry matches: these are retried by the state machine, everything else fails loudly.
RETRIED_BY_STATE_MACHINE: tuple[type[CaptureError], ...] = (TransientCaptureError,)
# Retried with a backoff long enough to outlast IAM propagation to Neptune (10 minutes), then loud.
RETRIED_AFTER_IAM_PROPAGATION: tuple[type[CaptureError], ...] = (NeptuneAccessDeniedError,)


def retried_error_names() -> list[str]:
    return [error.__name__ for error in RETRIED_BY_STATE_MACHINE]


def iam_propagation_error_names() -> list[str]:
    return [error.__name__ for error in RETRIED_AFTER_IAM_PROPAGATION]
