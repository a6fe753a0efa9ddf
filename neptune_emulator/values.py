"""Property values as Neptune's PG_JSON change records describe them ({"value", "dataType"}), and their
JSON form in SQLite."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

INT32 = 2**31


def data_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer" if -INT32 <= value < INT32 else "Long"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, str):
        return "String"
    if isinstance(value, datetime):
        return "Date"
    raise TypeError(f"unsupported property value type {type(value).__name__}: {value!r}")


def pg_json_value(value: Any) -> dict[str, Any]:
    kind = data_type(value)
    return {"value": value.isoformat() if isinstance(value, datetime) else value, "dataType": kind}


def dump(value: Any) -> str:
    return json.dumps(pg_json_value(value), separators=(",", ":"))


def load(text: str) -> Any:
    wrapped = json.loads(text)
    if wrapped["dataType"] == "Date":
        return datetime.fromisoformat(wrapped["value"])
    return wrapped["value"]
