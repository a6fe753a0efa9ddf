"""Reset Lambda: Neptune fast reset (initiate, then perform with the token) on the writer endpoint.
It erases the graph and its stream; the DynamoDB tables are left for the operator to decide."""

from typing import Any

from aws_lambda_powertools import Logger

from neptune_capture.neptune_api import fast_reset, make_client

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = fast_reset(make_client())
    logger.info("fast reset done", extra=result)
    return result
