"""Thin adapter over boto3's `neptunedata` client: SigV4 when IAM auth is on, any endpoint URL (a
cluster, or the local emulator), and Neptune's error codes turned into this package's exceptions."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import classify_neptune_error


def make_client(endpoint_url: str | None = None, *, read_timeout: float = 60.0) -> Any:
    endpoint = endpoint_url or os.environ["NEPTUNE_ENDPOINT"]
    # Retries are ours (backoff with jitter, visible in metrics), not botocore's silent ones.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout, tcp_keepalive=True)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("neptunedata", endpoint_url=endpoint, region_name=region, config=config)


def get_engine_status(client: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = client.get_engine_status()
    except (ClientError, BotoCoreError) as error:
        raise classify_neptune_error(error, "GetEngineStatus") from error
    response.pop("ResponseMetadata", None)
    return response


class ResetError(RuntimeError):
    """A fast reset step failed; the message says which step and why."""


def fast_reset(client: Any) -> dict[str, Any]:
    """Neptune's two-step fast reset: initiateDatabaseReset hands out a token that performDatabaseReset
    must present within 60 seconds."""
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
