from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.reset import index as reset_handler
from lambdas.status import index as status_handler
from neptune_capture.contract import DEFAULT_STREAM_ID
from neptune_capture.errors import NeptuneAccessDeniedError, StreamsDisabledError, TransientCaptureError
from neptune_capture.neptune_api import ResetError, check_streams_enabled, fast_reset
from neptune_capture.preconditions import engine_facts, streams_problem
from neptune_capture.schema import TableNames
from neptune_capture.settings import HandlerSettings
from neptune_local.verify import read_checkpoint
from tests.conftest import lambda_context

if TYPE_CHECKING:
    from mypy_boto3_neptunedata import NeptuneDataClient

STATUS = json.loads((Path(__file__).parent.parent / "fixtures" / "status_response.json").read_text())


@pytest.fixture
def neptune(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("neptunedata", endpoint_url="https://neptune.example:8182", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    for module in (status_handler, reset_handler):
        monkeypatch.setattr(module, "make_client", lambda *_: client)
    return stubber


def _reset(neptune: Stubber) -> dict[str, Any]:
    """Neptune's fast reset alone (the reset function's step 3), on the stubbed client."""
    return fast_reset(cast("NeptuneDataClient", neptune.client))


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


def test_reset_initiates_then_performs_with_the_token_then_opens_the_next_generation(
    neptune: Stubber, dynamo: tuple[Any, TableNames], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, tables = dynamo
    for name, value in HandlerSettings(tables=tables, neptune_endpoint="https://neptune.example:8182").to_env().items():
        monkeypatch.setenv(name, value)
    # LATEST on an empty stream: Neptune's 404 (nothing uncaptured), then the two-step reset.
    neptune.add_client_error("get_propertygraph_stream", "StreamRecordsNotFoundException", "not found", 404)
    neptune.add_response(
        "execute_fast_reset",
        {"status": "200 OK", "payload": {"token": "abc-123"}},
        {"action": "initiateDatabaseReset"},
    )
    neptune.add_response("execute_fast_reset", {"status": "200 OK"}, {"action": "performDatabaseReset", "token": "abc-123"})
    result: dict[str, Any] = reset_handler.handler({}, lambda_context())
    assert (result["status"], result["token"], result["generation"], result["previousGeneration"]) == ("200 OK", "abc-123", 1, 0)
    neptune.assert_no_pending_responses()
    checkpoint = read_checkpoint(client, tables.checkpoint, DEFAULT_STREAM_ID)
    assert checkpoint.generation == 1 and checkpoint.generation_started_at == result["generationStartedAt"]


def test_reset_reports_a_failed_initiate(neptune: Stubber) -> None:
    neptune.add_client_error("execute_fast_reset", "AccessDeniedException", "no ResetDatabase", 403)
    with pytest.raises(ResetError, match=r"initiateDatabaseReset failed: .*AccessDeniedException.*no ResetDatabase"):
        _reset(neptune)


def test_reset_reports_a_failed_perform(neptune: Stubber) -> None:
    neptune.add_response(
        "execute_fast_reset", {"status": "200 OK", "payload": {"token": "t1"}}, {"action": "initiateDatabaseReset"}
    )
    neptune.add_client_error("execute_fast_reset", "InvalidParameterException", "token expired", 400)
    with pytest.raises(ResetError, match=r"performDatabaseReset failed: .*InvalidParameterException.*token expired"):
        _reset(neptune)


def test_reset_refuses_a_missing_token(neptune: Stubber) -> None:
    neptune.add_response("execute_fast_reset", {"status": "200 OK", "payload": {}}, {"action": "initiateDatabaseReset"})
    with pytest.raises(ResetError, match="returned no token"):
        _reset(neptune)


STREAMS_DISABLED = json.loads((Path(__file__).parent.parent / "fixtures" / "status_streams_disabled.json").read_text())


def test_status_reports_what_capture_needs_from_the_cluster(neptune: Stubber) -> None:
    neptune.add_response("get_engine_status", STATUS)
    facts = status_handler.handler({}, lambda_context())["preconditions"]
    assert facts == {
        "status": "healthy",
        "role": "writer",
        "engine_version": "1.1.1.0.R4",
        "streams": "enabled",
        "iam_authentication": "disabled",
        "streamsEnabled": True,
        "problem": None,
    }


def test_status_of_a_cluster_without_streams_says_which_parameter_and_the_reboot(neptune: Stubber) -> None:
    """The answer of a cluster with Streams and IAM authentication off, as the user guide shows it
    (https://docs.aws.amazon.com/neptune/latest/userguide/neptune-public-endpoints.html)."""
    neptune.add_response("get_engine_status", STREAMS_DISABLED)
    facts = status_handler.handler({}, lambda_context())["preconditions"]
    assert facts["streamsEnabled"] is False and facts["engine_version"] == "1.4.6.0.R1"
    assert "set neptune_streams=1 in the cluster's DB cluster parameter group" in facts["problem"]
    assert "reboot every DB instance" in facts["problem"] and "streams-using-enabling.html" in facts["problem"]


def test_older_engines_report_streams_in_lab_mode_and_silence_is_not_a_refusal() -> None:
    assert engine_facts({"labMode": {"Streams": "enabled"}}).streams_enabled is True
    assert engine_facts({"labMode": {"Streams": "disabled"}}).streams_enabled is False
    assert engine_facts({"status": "healthy"}).streams_enabled is None
    assert streams_problem(engine_facts({"status": "healthy"})) is None


def test_the_handlers_check_refuses_a_cluster_without_streams_and_retries_what_may_pass(neptune: Stubber) -> None:
    client = cast("NeptuneDataClient", neptune.client)
    neptune.add_response("get_engine_status", STATUS)
    assert check_streams_enabled(client).streams == "enabled"
    neptune.add_response("get_engine_status", STREAMS_DISABLED)
    with pytest.raises(StreamsDisabledError, match=r"Neptune Streams is disabled on this cluster \(engine 1\.4\.6\.0\.R1\)"):
        check_streams_enabled(client)
    neptune.add_client_error("get_engine_status", "InternalFailureException", "try again", 500)
    with pytest.raises(TransientCaptureError, match="checking that Neptune Streams is enabled"):
        check_streams_enabled(client)
    neptune.add_client_error("get_engine_status", "AccessDeniedException", "not yet", 403)
    with pytest.raises(NeptuneAccessDeniedError):
        check_streams_enabled(client)
