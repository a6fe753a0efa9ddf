"""Thin adapter over boto3's `neptunedata` client: SigV4 when IAM auth is on, any endpoint URL (a
cluster, or the local emulator), and Neptune's error codes turned into this package's exceptions.

Codes and statuses follow the Neptune user guide, "Neptune Streams API errors"
(https://docs.aws.amazon.com/neptune/latest/userguide/streams-api-errors.html) and "Neptune Engine Error
Codes" (https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from .errors import NeptuneAccessDeniedError, NeptuneCallError, StreamExpiredError, TransientCaptureError
from .preconditions import EngineFacts, require_streams
from .settings import Env

if TYPE_CHECKING:
    from mypy_boto3_neptunedata import NeptuneDataClient

# Documented as retryable (HTTP 500 for the first two, 429 for the last).
RETRYABLE_NEPTUNE_CODES = frozenset({"ThrottlingException", "MemoryLimitExceededException", "TooManyRequestsException"})
NO_NEW_RECORDS = "StreamRecordsNotFoundException"
EXPIRED = "ExpiredStreamException"
# IAM authentication failures: "AccessDeniedException ... 403 ... Authentication or authorization failure"
# (https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html).
FORBIDDEN = 403


def make_client(endpoint_url: str | None = None, *, read_timeout: float = 60.0) -> NeptuneDataClient:
    endpoint = endpoint_url or os.environ[Env.NEPTUNE_ENDPOINT]
    # Retries are ours (backoff with jitter, visible in metrics and logs), not botocore's silent ones.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout, tcp_keepalive=True)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("neptunedata", endpoint_url=endpoint, region_name=region, config=config)


def classify_neptune_error(error: Exception, operation: str) -> Exception:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == EXPIRED:
            return StreamExpiredError(f"Neptune {operation}: {code}: {message}")
        if status == FORBIDDEN:
            return NeptuneAccessDeniedError(operation, code, message, status, retryable=False)
        retryable = code in RETRYABLE_NEPTUNE_CODES or (status is not None and status >= 500)
        return NeptuneCallError(operation, code, message, status, retryable)
    # No connection, or one closed or timed out before an answer (HTTPClientError: ConnectionClosedError,
    # ReadTimeoutError), as when an instance restarts or fails over: worth asking again.
    if isinstance(error, (ConnectionError, HTTPClientError)):
        return NeptuneCallError(operation, type(error).__name__, str(error), None, True)
    if isinstance(error, BotoCoreError):
        return NeptuneCallError(operation, type(error).__name__, str(error), None, False)
    return error


def is_no_new_records(error: Exception) -> bool:
    return isinstance(error, NeptuneCallError) and error.code == NO_NEW_RECORDS


def get_engine_status(client: NeptuneDataClient) -> dict[str, Any]:
    try:
        response: dict[str, Any] = dict(client.get_engine_status())
    except (ClientError, BotoCoreError) as error:
        raise classify_neptune_error(error, "GetEngineStatus") from error
    response.pop("ResponseMetadata", None)
    return response


def check_streams_enabled(client: NeptuneDataClient) -> EngineFacts:
    """Neptune's status says Streams is on, or StreamsDisabledError says what to set. A status call that
    failed in a way worth retrying (a connection, a 5xx) is left to the state machine's retries."""
    try:
        status = get_engine_status(client)
    except NeptuneCallError as error:
        if error.retryable:
            raise TransientCaptureError(f"{error} (checking that Neptune Streams is enabled)") from error
        raise
    return require_streams(status)


class ResetError(RuntimeError):
    """A fast reset step failed; the message says which step and why."""


def fast_reset(client: NeptuneDataClient) -> dict[str, Any]:
    """Neptune's two-step fast reset: initiateDatabaseReset hands out a token that performDatabaseReset
    must present within 60 seconds (https://docs.aws.amazon.com/neptune/latest/userguide/manage-console-fast-reset.html)."""
    try:
        initiated = client.execute_fast_reset(action="initiateDatabaseReset")
    except (ClientError, BotoCoreError) as error:
        raise ResetError(f"initiateDatabaseReset failed: {_describe(error)}") from error
    token = (initiated.get("payload") or {}).get("token")
    if not token:
        raise ResetError(f"initiateDatabaseReset returned no token: {initiated.get('payload')!r}")
    try:
        performed = client.execute_fast_reset(action="performDatabaseReset", token=token)
    except (ClientError, BotoCoreError) as error:
        raise ResetError(f"performDatabaseReset failed: {_describe(error)}") from error
    return {"status": performed.get("status"), "token": token}


def _describe(error: Exception) -> str:
    return str(classify_neptune_error(error, "FastReset"))
