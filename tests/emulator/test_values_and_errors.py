"""The emulator's tables of Neptune facts, checked without a server (so `make unit` runs them): error
codes and statuses against botocore's neptunedata model, and the PG_JSON form of each value type."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest

from neptune_emulator import values
from neptune_emulator.errors import GREMLIN_FAULT_KINDS, STATUSES, GraphError
from neptune_emulator.values import Byte, Float32, Long, Short


def test_every_status_matches_botocores_neptunedata_model() -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html gives each code's HTTP
    status; botocore's model of the same API must agree, code for code."""
    model = botocore.session.get_session().get_service_model("neptunedata")
    modelled = {shape.name: shape.metadata["error"]["httpStatusCode"] for shape in model.error_shapes}
    assert {code: modelled[code] for code in STATUSES} == STATUSES
    assert set(GREMLIN_FAULT_KINDS) <= set(STATUSES)


def test_an_error_refuses_a_code_neptune_does_not_have() -> None:
    with pytest.raises(ValueError, match="'NoSuchException' is not a Neptune error code"):
        GraphError("x", "NoSuchException")
    assert GraphError("x", "ConcurrentModificationException").status == 500


@pytest.mark.parametrize(
    ("value", "record"),
    [
        (5, {"value": 5, "dataType": "Integer"}),
        (2**40, {"value": 2**40, "dataType": "Long"}),
        (Long(5), {"value": 5, "dataType": "Long"}),
        (Short(5), {"value": 5, "dataType": "Short"}),
        (Byte(-5), {"value": -5, "dataType": "Byte"}),
        (True, {"value": True, "dataType": "Boolean"}),
        (0.5, {"value": 0.5, "dataType": "Double"}),
        (Float32(0.5), {"value": 0.5, "dataType": "Float"}),
        (math.nan, {"value": "NaN", "dataType": "Double"}),
        (-math.inf, {"value": "-Infinity", "dataType": "Double"}),
        ("", {"value": "", "dataType": "String"}),
        (datetime(2024, 2, 29, 23, 59, 59), {"value": "2024-02-29T23:59:59Z", "dataType": "Date"}),
        (datetime(2024, 2, 29, 23, 59, 59, 7000), {"value": "2024-02-29T23:59:59.007Z", "dataType": "Date"}),
    ],
)
def test_each_value_type_has_its_record_form_and_survives_storage(value: Any, record: dict[str, Any]) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html: {"value", "dataType"};
    the names and the date form are neptune-export's (values.py says why)."""
    assert values.pg_json_value(value) == record
    back = values.load(values.dump(value))
    assert values.identity(back) == values.identity(value)


def test_dates_are_instants_at_millisecond_precision() -> None:
    zoned = datetime(2024, 1, 1, 2, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert values.accept(zoned) == datetime(2024, 1, 1, 0, 0, 0, 123000)
    assert values.accept(datetime(2024, 1, 1, tzinfo=UTC)) == datetime(2024, 1, 1)


def test_set_membership_tells_types_apart() -> None:
    assert values.identity(True) != values.identity(1)
    assert values.identity(Long(1)) != values.identity(1)
    assert values.identity(1.0) != values.identity(1)
    assert values.identity("1") != values.identity(1)
    assert values.identity(Long(1)) == values.identity(Long(1))


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, {1}, b"raw", timedelta(seconds=1), 2**63])
def test_values_neptune_does_not_store_are_unsupported(value: Any) -> None:
    with pytest.raises(GraphError) as error:
        values.accept(value)
    assert error.value.code == "UnsupportedOperationException"
