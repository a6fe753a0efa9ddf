"""The neptunedata adapter: error codes mapped as Neptune documents them, through botocore's own stubber."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from mypy_boto3_neptunedata import NeptuneDataClient

from neptune_capture import metrics as m
from neptune_capture.backoff import RetryPolicy
from neptune_capture.errors import MalformedPageError, NeptuneCallError, StreamExpiredError, TransientCaptureError
from neptune_capture.events import EventId
from neptune_capture.metrics import CountingMetrics
from neptune_capture.stream_source import NeptuneStreamSource
from tests.fakes import FakeClock

FIXTURE: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "propertygraph_stream_response.json").read_text()
)


def _strings(event_id: dict[str, int]) -> dict[str, str]:
    return {k: str(v) for k, v in event_id.items()}


def boto_shaped(body: dict[str, Any]) -> dict[str, Any]:
    """The fixture as botocore's model describes it: two timestamp fields renamed, event ids as strings."""
    out = dict(body)
    out["lastTrxTimestampInMillis"] = out.pop("lastTrxTimestamp")
    out["lastEventId"] = _strings(body["lastEventId"])
    out["records"] = [
        {
            ("commitTimestampInMillis" if k == "commitTimestamp" else k): (_strings(v) if k == "eventId" else v)
            for k, v in r.items()
        }
        for r in body["records"]
    ]
    return out


@pytest.fixture
def setup() -> tuple[Stubber, NeptuneStreamSource, FakeClock, CountingMetrics]:
    client = boto3.client("neptunedata", endpoint_url="https://neptune.example:8182", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    clock, metrics = FakeClock(), CountingMetrics()
    return (
        stubber,
        NeptuneStreamSource(client, limit=500, clock=clock, metrics=metrics, retry=RetryPolicy(max_attempts=3)),
        clock,
        metrics,
    )


def test_first_read_is_trim_horizon_then_after_the_checkpoint(setup: Any) -> None:
    stubber, source, _, _ = setup
    stubber.add_response("get_propertygraph_stream", boto_shaped(FIXTURE), {"limit": 500, "iteratorType": "TRIM_HORIZON"})
    stubber.add_response(
        "get_propertygraph_stream",
        boto_shaped(FIXTURE),
        {"limit": 500, "iteratorType": "AFTER_SEQUENCE_NUMBER", "commitNum": 0, "opNum": 9},
    )
    page = source.fetch(None)
    assert page.last_trx_timestamp == 1656345430973 and page.events[0].commit_timestamp == 1656345430973
    assert len(source.fetch(EventId(0, 9)).events) == 3
    stubber.assert_no_pending_responses()


def test_404_means_no_new_records(setup: Any) -> None:
    stubber, source, clock, _ = setup
    stubber.add_client_error("get_propertygraph_stream", "StreamRecordsNotFoundException", "none", 404)
    assert source.fetch(EventId(1, 3)).empty
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 500), ("MemoryLimitExceededException", 500), ("InternalFailure", 503)]
)
def test_retryable_errors_are_retried_with_backoff(setup: Any, code: str, status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="neptune_capture")
    stubber, source, clock, metrics = setup
    stubber.add_client_error("get_propertygraph_stream", code, "busy", status)
    stubber.add_response("get_propertygraph_stream", boto_shaped(FIXTURE))
    assert len(source.fetch(None).events) == 3
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= 0.1
    assert metrics.totals[m.THROTTLES] + metrics.totals[m.RETRIES] == 1
    assert f"GetStreamRecords {code} (HTTP {status}): retrying in {clock.sleeps[0]:.3f} s" in caplog.messages


def test_retries_run_out_as_a_transient_error(setup: Any) -> None:
    stubber, source, clock, _ = setup
    for _ in range(3):
        stubber.add_client_error("get_propertygraph_stream", "ThrottlingException", "slow down", 500)
    with pytest.raises(TransientCaptureError, match=r"ThrottlingException .*after 3 attempts"):
        source.fetch(None)
    assert len(clock.sleeps) == 2


def test_expired_stream_is_its_own_error(setup: Any) -> None:
    stubber, source, _, _ = setup
    stubber.add_client_error("get_propertygraph_stream", "ExpiredStreamException", "too old", 400)
    with pytest.raises(StreamExpiredError, match="ExpiredStreamException: too old"):
        source.fetch(EventId(1, 1))


def test_invalid_parameter_fails_loudly_without_retry(setup: Any) -> None:
    stubber, source, clock, _ = setup
    stubber.add_client_error("get_propertygraph_stream", "InvalidParameterException", "bad opNum", 400)
    with pytest.raises(NeptuneCallError, match=r"InvalidParameterException \(HTTP 400\): bad opNum"):
        source.fetch(EventId(1, 1))
    assert clock.sleeps == []


def _unknown_op(body: dict[str, Any]) -> dict[str, Any]:
    damaged = boto_shaped(body)
    damaged["records"][1] = {**damaged["records"][1], "op": "MERGE"}
    return damaged


def test_i11_a_malformed_page_is_read_again(setup: Any, caplog: pytest.LogCaptureFixture) -> None:
    stubber, source, clock, metrics = setup
    stubber.add_response("get_propertygraph_stream", _unknown_op(FIXTURE))
    stubber.add_response("get_propertygraph_stream", boto_shaped(FIXTURE))
    assert len(source.fetch(None).events) == 3
    assert metrics.totals[m.MALFORMED] == 1 and len(clock.sleeps) == 1
    stubber.assert_no_pending_responses()
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "neptune_capture.stream_source"]
    assert logged.startswith(f"malformed stream page after TRIM_HORIZON, reading it again in {clock.sleeps[0]:.3f} s: event ")


def test_i11_a_page_still_malformed_after_the_retries_fails_naming_the_event(setup: Any) -> None:
    stubber, source, _, metrics = setup
    for _ in range(3):
        stubber.add_response("get_propertygraph_stream", _unknown_op(FIXTURE))
    second = "{commitNum}/{opNum}".format(**FIXTURE["records"][1]["eventId"])
    with pytest.raises(
        MalformedPageError, match=rf"page after 0/9 is still malformed after 3 reads: event {second}: op must be ADD or REMOVE"
    ):
        source.fetch(EventId(0, 9))
    assert metrics.totals[m.MALFORMED] == 3


def test_limit_is_checked() -> None:
    with pytest.raises(ValueError, match=r"limit must be 1\.\.100000"):
        NeptuneStreamSource(cast("NeptuneDataClient", object()), limit=100_001, clock=FakeClock(), metrics=CountingMetrics())


def test_a_403_is_its_own_error_for_the_state_machine_to_retry_slowly() -> None:
    from botocore.exceptions import ClientError

    from neptune_capture.errors import NeptuneAccessDeniedError, iam_propagation_error_names
    from neptune_capture.neptune_api import classify_neptune_error

    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},  # type: ignore[typeddict-item]
        "GetPropertygraphStream",
    )
    error = classify_neptune_error(denied, "GetStreamRecords")
    assert isinstance(error, NeptuneAccessDeniedError) and not error.retryable
    assert type(error).__name__ in iam_propagation_error_names()
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow"}, "ResponseMetadata": {"HTTPStatusCode": 500}},  # type: ignore[typeddict-item]
        "X",
    )
    assert not isinstance(classify_neptune_error(throttled, "GetStreamRecords"), NeptuneAccessDeniedError)


class _Dropping:
    """A neptunedata client whose connection fails (`failures`, in turn), then answers the fixture."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures

    def get_propertygraph_stream(self, **_: Any) -> dict[str, Any]:
        if self.failures:
            raise self.failures.pop(0)
        return boto_shaped(FIXTURE)


def test_a_connection_lost_before_the_answer_is_asked_again() -> None:
    # An instance restarting closes the connection mid-request (the chaos restart scenario met it).
    url = "http://127.0.0.1:8182/propertygraph/stream"
    failures: list[Exception] = [
        ConnectionClosedError(endpoint_url=url),
        ReadTimeoutError(endpoint_url=url),
        EndpointConnectionError(endpoint_url=url),
    ]
    clock, metrics = FakeClock(), CountingMetrics()
    client = cast(NeptuneDataClient, _Dropping(failures))
    source = NeptuneStreamSource(client, limit=500, clock=clock, metrics=metrics, retry=RetryPolicy(max_attempts=4))
    assert len(source.fetch(None).events) == 3
    assert len(clock.sleeps) == 3 and metrics.totals[m.RETRIES] == 3
