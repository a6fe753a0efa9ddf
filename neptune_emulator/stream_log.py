"""Neptune Streams over the committed change records: iterator types (AT_SEQUENCE_NUMBER by default),
limit, the 10 MB cap (the record that crosses it included), retention, and the documented errors, as
"Calling the Neptune Streams REST API" describes them
(https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html)."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Any

MAX_LIMIT = 100_000
RESPONSE_CAP_BYTES = 10 * 1024 * 1024
ITERATOR_TYPES = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST")


class StreamError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def invalid(message: str) -> StreamError:
    return StreamError("InvalidParameterException", 400, message)


@dataclass
class StreamLog:
    """Records kept sorted by (commitNum, opNum); each record's JSON text is built once, at commit."""

    keys: list[tuple[int, int]]
    timestamps: list[int]
    bodies: list[str]
    trimmed_through: tuple[int, int] | None = None  # newest record removed by retention
    # PG_JSON for /propertygraph/stream, NQUADS for /sparql/stream: one log each, the same rules.
    format: str = "PG_JSON"

    @classmethod
    def empty(cls, format: str = "PG_JSON") -> StreamLog:
        return cls([], [], [], format=format)

    def append(self, key: tuple[int, int], ts: int, body: str) -> None:
        self.keys.append(key)
        self.timestamps.append(ts)
        self.bodies.append(body)

    def expire(self, before_ts: int) -> int:
        """Drops records committed before `before_ts`; returns how many."""
        cut = bisect.bisect_left(self.timestamps, before_ts)
        if cut:
            self.trimmed_through = self.keys[cut - 1]
            del self.keys[:cut], self.timestamps[:cut], self.bodies[:cut]
        return cut

    def read(self, params: dict[str, str]) -> dict[str, Any]:
        iterator = params.get("iteratorType", "AT_SEQUENCE_NUMBER")
        if iterator not in ITERATOR_TYPES:
            raise invalid(f"iteratorType must be one of {', '.join(ITERATOR_TYPES)}, got {iterator!r}")
        limit = _int(params, "limit", 10)
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        start = self._start(iterator, params)
        if start >= len(self.keys):
            raise self._not_found()
        end = min(len(self.keys), start + limit)
        size, stop = 0, start
        while stop < end:
            size += len(self.bodies[stop]) + 1
            stop += 1
            if size > RESPONSE_CAP_BYTES:  # the record that crosses the cap is still returned
                break
        last_commit, last_op = self.keys[stop - 1]
        records = ",".join(self.bodies[start:stop])
        body = (
            f'{{"lastEventId":{{"commitNum":{last_commit},"opNum":{last_op}}},"lastTrxTimestamp":{self.timestamps[stop - 1]},'
            f'"format":"{self.format}","records":[{records}],"totalRecords":{stop - start}}}'
        )
        return {"body": body}

    def _not_found(self) -> StreamError:
        if not self.keys:
            return StreamError("StreamRecordsNotFoundException", 404, "Requested stream records were not found")
        # Neptune's wording, which tools parse for the last event id (neptune-export's
        # StreamRecordsNotFoundExceptionParser and its test, https://github.com/aws/neptune-export).
        commit, op = self.keys[-1]
        return StreamError(
            "StreamRecordsNotFoundException",
            404,
            f"Requested startEventId is from the future. Last valid eventId is [commitNum = {commit}, opNum = {op}]",
        )

    def _start(self, iterator: str, params: dict[str, str]) -> int:
        if iterator == "TRIM_HORIZON":
            return 0
        if iterator == "LATEST":
            return max(0, len(self.keys) - 1)
        if "commitNum" not in params:
            raise invalid(f"commitNum is required for {iterator}")
        position = (_int(params, "commitNum", 0), _int(params, "opNum", 1))
        if position[0] < 0 or position[1] < 0:
            raise invalid(f"commitNum and opNum must not be negative, got {position}")
        if iterator == "AT_SEQUENCE_NUMBER":
            self._check_expired(position, inclusive=True)
            return bisect.bisect_left(self.keys, position)
        self._check_expired(position, inclusive=False)
        return bisect.bisect_right(self.keys, position)

    def _check_expired(self, position: tuple[int, int], *, inclusive: bool) -> None:
        # Records after `position` (or at it) that retention already removed cannot be served.
        if self.trimmed_through is None:
            return
        if position < self.trimmed_through or (inclusive and position == self.trimmed_through):
            raise StreamError(
                "ExpiredStreamException",
                400,
                f"Requested stream position {position[0]}/{position[1]} is older than the stream's retention",
            )


def _int(params: dict[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"{key} must be an integer, got {raw!r}") from None


def record_json(commit: int, op: int, ts: int, record: dict[str, Any], last: bool) -> str:
    full: dict[str, Any] = {"commitTimestamp": ts, "eventId": {"commitNum": commit, "opNum": op}, **record}
    if last:
        full["isLastOp"] = True
    return json.dumps(full, separators=(",", ":"), ensure_ascii=False)
