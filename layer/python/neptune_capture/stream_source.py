"""Reads Neptune Streams pages through boto3 `neptunedata`: retries what Neptune says to retry (with
backoff and jitter), treats 404 as "no new records", and hands the core the documented shape. The property
graph's pages come from GetPropertygraphStream (PG_JSON), the RDF graph's from GetSparqlStream (NQUADS,
https://docs.aws.amazon.com/neptune/latest/data-api/API_GetSparqlStream.html): the same iterator types,
limits, errors and IAM action (neptune-db:GetStreamRecords).

A malformed page is read again (a damaged response is often a one-off); one still malformed after the
retries fails the invocation with the problem named, and nothing of it is written (invariant I11,
docs/exactly-once.md#i11)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from . import metrics as m
from .backoff import RetryPolicy
from .clock import Clock
from .contract import GraphModel
from .errors import MalformedPageError, NeptuneCallError, StreamExpiredError, TransientCaptureError
from .events import EMPTY_PAGE, EventId, StreamEvent, StreamPage, parse_page
from .metrics import MetricsSink
from .neptune_api import classify_neptune_error, is_no_new_records

if TYPE_CHECKING:
    from mypy_boto3_neptunedata import NeptuneDataClient

log = logging.getLogger(__name__)

MAX_LIMIT = 100_000


class IteratorType(StrEnum):
    """GetPropertygraphStream's iteratorType values this adapter asks for
    (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html)."""

    TRIM_HORIZON = "TRIM_HORIZON"
    AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"
    AFTER_SEQUENCE_NUMBER = "AFTER_SEQUENCE_NUMBER"
    LATEST = "LATEST"


def to_documented_shape(response: dict[str, Any]) -> dict[str, Any]:
    """boto3 renames two timestamp fields; give the core the body Neptune documents. The records are
    renamed in place (they are this response's own dicts): a page holds up to 100,000 of them."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if "lastTrxTimestampInMillis" in body:
        body["lastTrxTimestamp"] = body.pop("lastTrxTimestampInMillis")
    records = body.get("records")
    if isinstance(records, list):
        for record in records:
            if isinstance(record, dict) and "commitTimestampInMillis" in record:
                record["commitTimestamp"] = record.pop("commitTimestampInMillis")
    return body


class NeptuneStreamSource:
    def __init__(
        self,
        client: NeptuneDataClient,
        *,
        limit: int,
        clock: Clock,
        metrics: MetricsSink,
        retry: RetryPolicy | None = None,
        model: GraphModel = GraphModel.PROPERTY_GRAPH,
    ) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
        self.client, self.limit, self.clock, self.metrics = client, limit, clock, metrics
        self.retry = retry or RetryPolicy()
        self.model = model
        # Both calls take the same parameters and answer the same envelope.
        self._get = client.get_sparql_stream if model == GraphModel.RDF else client.get_propertygraph_stream

    def request(self, after: EventId | None) -> dict[str, Any]:
        if after is None:
            return {"limit": self.limit, "iteratorType": IteratorType.TRIM_HORIZON.value}
        return {
            "limit": self.limit,
            "iteratorType": IteratorType.AFTER_SEQUENCE_NUMBER.value,
            "commitNum": after.commit_num,
            "opNum": after.op_num,
        }

    def fetch(self, after: EventId | None) -> StreamPage:
        return self._read(self.request(after), after, after or IteratorType.TRIM_HORIZON)

    def latest(self) -> StreamEvent | None:
        """The newest record in the stream (LATEST: "at most one record is returned",
        https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html), or None when the
        stream holds none."""
        page = self._read({"limit": 1, "iteratorType": IteratorType.LATEST.value}, None, IteratorType.LATEST)
        return page.events[-1] if page.events else None

    def at(self, position: EventId) -> StreamEvent | None:
        """The first event at or after `position` (AT_SEQUENCE_NUMBER, one record), None when the stream holds
        none there (StreamRecordsNotFoundException): how the poller tells that the stream restarted under its
        checkpoint (generations.restart_evidence)."""
        params = {
            "limit": 1,
            "iteratorType": IteratorType.AT_SEQUENCE_NUMBER.value,
            "commitNum": position.commit_num,
            "opNum": position.op_num,
        }
        page = self._read(params, None, IteratorType.AT_SEQUENCE_NUMBER)
        return page.events[0] if page.events else None

    def _read(self, params: dict[str, Any], after: EventId | None, where: object) -> StreamPage:
        delays = self.retry.delays()
        while True:
            try:
                response = self._get(**params)
                return parse_page(to_documented_shape(dict(response)), after, self.model)
            except (MalformedPageError, ResponseParserError) as error:
                self.metrics.add(m.MALFORMED, 1)
                delay = next(delays, None)
                if delay is None:
                    log.error("stream page after %s still malformed after %d reads: %s", where, self.retry.max_attempts, error)
                    raise MalformedPageError(
                        f"the stream page after {where} is still malformed after {self.retry.max_attempts} reads: {error}"
                    ) from error
                log.warning("malformed stream page after %s, reading it again in %.3f s: %s", where, delay, error)
                self.clock.sleep(delay)
            except (ClientError, BotoCoreError) as error:
                classified = classify_neptune_error(error, "GetStreamRecords")
                if is_no_new_records(classified):
                    return EMPTY_PAGE
                if isinstance(classified, StreamExpiredError):
                    raise classified from error
                if isinstance(classified, NeptuneCallError) and classified.retryable:
                    self.metrics.add(m.THROTTLES if "Throttl" in classified.code or "Limit" in classified.code else m.RETRIES, 1)
                    delay = next(delays, None)
                    if delay is None:
                        log.error("%s: giving up after %d attempts", classified, self.retry.max_attempts)
                        raise TransientCaptureError(f"{classified} (after {self.retry.max_attempts} attempts)") from error
                    log.info("GetStreamRecords %s (HTTP %s): retrying in %.3f s", classified.code, classified.status, delay)
                    self.clock.sleep(delay)
                    continue
                raise classified from error
