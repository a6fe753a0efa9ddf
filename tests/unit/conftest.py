from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from neptune_capture.schema import TableNames
from neptune_local import moto_gaps
from neptune_local.template import SynthesizedStack
from tests.conftest import Synth


@pytest.fixture(scope="session")
def stack(synth: Synth) -> SynthesizedStack:
    return synth.stack


def fresh_tables(stack: SynthesizedStack) -> tuple[Any, TableNames]:
    """The template's three tables in moto (inside mock_aws)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    return client, stack.create_tables(client)


@pytest.fixture
def dynamo(stack: SynthesizedStack) -> Iterator[tuple[Any, TableNames]]:
    with mock_aws(), moto_gaps.dynamodb_transaction_snapshots():
        yield fresh_tables(stack)


@pytest.fixture(autouse=True)
def layer_logging_restored() -> Iterator[None]:
    """Loading the stream handler routes the layer's logger into Powertools (and stops it propagating);
    each test starts and ends with it as it was, so caplog sees the layer's records."""
    package = logging.getLogger("neptune_capture")
    saved = list(package.handlers), package.propagate, package.level
    yield
    package.handlers, package.propagate, package.level = saved
