"""Reset Lambda: Neptune fast reset (initiate, then perform with the token) on the writer endpoint.
It erases the graph and its stream; the DynamoDB tables are left for the operator to decide."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from neptune_capture.neptune_api import fast_reset, make_client

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = fast_reset(make_client())
    logger.info("fast reset done", extra=result)
    return result
