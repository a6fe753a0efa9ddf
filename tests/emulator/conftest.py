from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.process.anonymous_traversal import traversal

from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer


class Clock:
    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[EmulatorServer]:
    with EmulatorServer(Engine(expiry_seconds=60, clock=clock)) as server:
        yield server


@pytest.fixture
def g(emulator: EmulatorServer) -> Iterator[Any]:
    connection = DriverRemoteConnection(emulator.gremlin_url, "g")
    yield traversal().with_(connection)
    connection.close()


@pytest.fixture
def neptune(emulator: EmulatorServer) -> Any:
    return boto3.client("neptunedata", endpoint_url=emulator.endpoint, region_name="us-east-1")


def read_all(neptune: Any, limit: int = 100_000) -> list[dict[str, Any]]:
    return list(neptune.get_propertygraph_stream(limit=limit, iteratorType="TRIM_HORIZON")["records"])
