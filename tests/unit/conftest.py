from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from neptune_capture.plan import TableNames
from neptune_stream.template_tables import create_tables, table_definitions
from tests.conftest import Synth


@pytest.fixture(scope="session")
def table_defs(synth: Synth) -> dict[str, Any]:
    return table_definitions(synth.json)


def fresh_tables(defs: dict[str, Any]) -> tuple[Any, TableNames]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    names = create_tables(client, defs)
    return client, TableNames(records=names["records"], history=names["history"], checkpoint=names["checkpoint"])


@pytest.fixture
def dynamo(table_defs: dict[str, Any]) -> Iterator[tuple[Any, TableNames]]:
    with mock_aws():
        yield fresh_tables(table_defs)
