"""Property values as Neptune's PG_JSON change records describe them ({"value", "dataType"}), their
JSON form in SQLite, and the Gremlin value types Neptune accepts.

Neptune's property types are Boolean, Byte, Short, Integer, Long, Float, Double, String and Date (the
"Gremlin graph features in Neptune" tables of
https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html, and the Gremlin
types of https://docs.aws.amazon.com/neptune/latest/userguide/full-text-search-non-string-indexing-mapping.html).
The user guide names the record field only as "the JSON datatype of the new value"
(https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html) and shows only "String".
The names used here are those of AWS's own writer of that format, neptune-export's `neptuneStreamsJson`
output (its `DataType` enum: the Java class names; dates as ISO-8601 instants, `Z`, millisecond precision:
https://github.com/aws/neptune-export, src/main/java/com/amazonaws/services/neptune/propertygraph/schema/DataType.java).

A number keeps the type its client sent: GraphBinary and GraphSON carry Int/Long/Short/Byte/Float/Double,
and the protocol module reads them into the marker types below, so a Long 5 is recorded as "Long"."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from gremlin_python.statics import SingleByte, long, short

from neptune_emulator.errors import unsupported

INT32 = 2**31
INT64 = 2**63


class Float32(float):
    """A Gremlin Float (32-bit); a plain Python float is a Double."""


Long, Short, Byte = long, short, SingleByte

# Java's spelling of the three non-finite doubles; JSON has no literal for them, so a record carries them
# as strings (the user guide is silent; the emulator's choice, in docs/emulator.md).
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def data_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        for kind, name in ((Long, "Long"), (Short, "Short"), (Byte, "Byte")):
            if isinstance(value, kind):
                return name
        return "Integer" if -INT32 <= value < INT32 else "Long"
    if isinstance(value, float):
        return "Float" if isinstance(value, Float32) else "Double"
    if isinstance(value, str):
        return "String"
    if isinstance(value, datetime):
        return "Date"
    raise TypeError(f"unsupported property value type {type(value).__name__}: {value!r}")


def accept(value: Any) -> Any:
    """A value a client sent for a property, as the emulator stores it; UnsupportedOperationException for a
    type Neptune does not store (lists, maps, sets, byte arrays, UUIDs, BigInteger/BigDecimal, durations,
    null: the features tables say no to map, list and array values; the rest the guide does not name)."""
    if isinstance(value, datetime):
        return to_date(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        raise unsupported(f"Neptune does not store integers outside the Long range as property values: {value}")
    try:
        data_type(value)
    except TypeError:
        raise unsupported(f"Neptune does not support property values of type {type(value).__name__}: {_short(value)}") from None
    return value


def to_date(value: datetime) -> datetime:
    """A Date as Neptune keeps it: an instant at millisecond precision (held naive, in UTC, the way
    gremlinpython reads and writes a Gremlin Date)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def iso_instant(value: datetime) -> str:
    """Java's DateTimeFormatter.ISO_INSTANT for a millisecond instant: 2024-05-01T10:00:00Z, or
    2024-05-01T10:00:00.250Z when it has milliseconds."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_instant(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def pg_json_value(value: Any) -> dict[str, Any]:
    return {"value": json_value(value), "dataType": data_type(value)}


def identity(value: Any) -> tuple[str, Any]:
    """What makes two values the same member of a set-cardinality property: the type and the value (so
    True is not 1, and a Long 5 is not an Integer 5; the user guide does not say how Neptune compares
    them, the emulator's choice is in docs/emulator.md)."""
    return data_type(value), json_value(value)


def dump(value: Any) -> str:
    return json.dumps(pg_json_value(value), separators=(",", ":"))


def load(text: str) -> Any:
    wrapped = json.loads(text)
    return from_pg_json(wrapped["value"], wrapped["dataType"])


def from_pg_json(raw: Any, kind: str) -> Any:
    if kind == "Date":
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    if kind in ("Double", "Float") and isinstance(raw, str):
        raw = _NON_FINITE[raw]
    return {"Long": Long, "Short": Short, "Byte": Byte, "Float": Float32}.get(kind, lambda v: v)(raw)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
