"""Error classification, pure: which failures are retried, which stop the pipeline, and how they read."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

# Neptune Streams' documented codes (and the HTTP statuses they come with).
RETRYABLE_NEPTUNE_CODES = frozenset({"ThrottlingException", "MemoryLimitExceededException", "TooManyRequestsException"})
NO_NEW_RECORDS = "StreamRecordsNotFoundException"
EXPIRED = "ExpiredStreamException"


class CaptureError(Exception):
    """Base of everything the capture pipeline raises on purpose."""


class NeptuneCallError(CaptureError):
    def __init__(self, operation: str, code: str, message: str, status: int | None, retryable: bool) -> None:
        super().__init__(f"Neptune {operation} failed: {code} (HTTP {status}): {message}")
        self.operation, self.code, self.status, self.retryable = operation, code, status, retryable


class StreamExpiredError(CaptureError):
    """The checkpoint points before the stream's retention horizon: records between are gone."""


class TransientCaptureError(CaptureError):
    """Still failing after the handler's own retries; Step Functions retries the invocation."""


class MalformedPageError(CaptureError):
    """A stream page that cannot be trusted: the message names the event and the problem."""


class FencedError(CaptureError):
    """Another poller advanced the checkpoint or holds the lease: this one must stop."""


def classify_neptune_error(error: Exception, operation: str) -> Exception:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == EXPIRED:
            return StreamExpiredError(f"Neptune {operation}: {code}: {message}")
        retryable = code in RETRYABLE_NEPTUNE_CODES or (status is not None and status >= 500)
        return NeptuneCallError(operation, code, message, status, retryable)
    if isinstance(error, (ConnectionError, ReadTimeoutError)):
        return NeptuneCallError(operation, type(error).__name__, str(error), None, True)
    if isinstance(error, BotoCoreError):
        return NeptuneCallError(operation, type(error).__name__, str(error), None, False)
    return error


def is_no_new_records(error: Exception) -> bool:
    return isinstance(error, NeptuneCallError) and error.code == NO_NEW_RECORDS
