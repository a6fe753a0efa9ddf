"""Status Lambda: Neptune's engine status (GET /status) through neptunedata, with what capture needs from
it read out (preconditions.engine_facts): whether Streams is on, the engine version, whether IAM
authentication is on, and the problem that stops capture, if any."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from neptune_capture.neptune_api import get_engine_status, make_client
from neptune_capture.preconditions import engine_facts

logger = Logger()
# The key of the response that holds the facts, beside Neptune's own answer.
PRECONDITIONS = "preconditions"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status = get_engine_status(make_client())
    facts = engine_facts(status).as_dict()
    log = logger.warning if facts["problem"] else logger.info
    log("engine status", extra={"status": status.get("status"), "role": status.get("role"), PRECONDITIONS: facts})
    return {**status, PRECONDITIONS: facts}
