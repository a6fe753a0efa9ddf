from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.reset import index as reset_handler
from lambdas.status import index as status_handler
from neptune_capture.neptune_api import ResetError
from tests.conftest import lambda_context

STATUS = json.loads((Path(__file__).parent.parent / "fixtures" / "status_response.json").read_text())


@pytest.fixture
def neptune(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("neptunedata", endpoint_url="https://neptune.example:8182", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    for module in (status_handler, reset_handler):
        monkeypatch.setattr(module, "make_client", lambda: client)
    return stubber


def test_status_returns_the_engine_status(neptune: Stubber) -> None:
    neptune.add_response("get_engine_status", STATUS)
    result = status_handler.handler({}, lambda_context())
    assert result["status"] == "healthy"
    assert result["features"]["Streams"] == "enabled"
    neptune.assert_no_pending_responses()


def test_status_names_the_neptune_error(neptune: Stubber) -> None:
    neptune.add_client_error("get_engine_status", "AccessDeniedException", "not authorized", 403)
    with pytest.raises(Exception, match=r"GetEngineStatus failed: AccessDeniedException \(HTTP 403\)"):
        status_handler.handler({}, lambda_context())


def test_reset_initiates_then_performs_with_the_token(neptune: Stubber) -> None:
    neptune.add_response(
        "execute_fast_reset",
        {"status": "200 OK", "payload": {"token": "abc-123"}},
        {"action": "initiateDatabaseReset"},
    )
    neptune.add_response("execute_fast_reset", {"status": "200 OK"}, {"action": "performDatabaseReset", "token": "abc-123"})
    result: dict[str, Any] = reset_handler.handler({}, lambda_context())
    assert result == {"status": "200 OK", "token": "abc-123"}
    neptune.assert_no_pending_responses()


def test_reset_reports_a_failed_initiate(neptune: Stubber) -> None:
    neptune.add_client_error("execute_fast_reset", "AccessDeniedException", "no ResetDatabase", 403)
    with pytest.raises(ResetError, match=r"initiateDatabaseReset failed: .*AccessDeniedException.*no ResetDatabase"):
        reset_handler.handler({}, lambda_context())


def test_reset_reports_a_failed_perform(neptune: Stubber) -> None:
    neptune.add_response(
        "execute_fast_reset", {"status": "200 OK", "payload": {"token": "t1"}}, {"action": "initiateDatabaseReset"}
    )
    neptune.add_client_error("execute_fast_reset", "InvalidParameterException", "token expired", 400)
    with pytest.raises(ResetError, match=r"performDatabaseReset failed: .*InvalidParameterException.*token expired"):
        reset_handler.handler({}, lambda_context())


def test_reset_refuses_a_missing_token(neptune: Stubber) -> None:
    neptune.add_response("execute_fast_reset", {"status": "200 OK", "payload": {}}, {"action": "initiateDatabaseReset"})
    with pytest.raises(ResetError, match="returned no token"):
        reset_handler.handler({}, lambda_context())
