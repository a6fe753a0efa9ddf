"""Status Lambda: Neptune's engine status (GET /status) through neptunedata."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from neptune_capture.neptune_api import get_engine_status, make_client

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status = get_engine_status(make_client())
    logger.info("engine status", extra={"status": status.get("status"), "role": status.get("role")})
    return status
