"""Which DynamoDB the local run keeps its tables in, in one place: DynamoDB Local (AWS's own engine, the
default) or moto's DynamoDB (`NEPTUNE_LOCAL_DYNAMODB=moto`, kept to compare against). Everything of the local
run that talks to DynamoDB (the handlers, the state machine's DynamoDB tasks, the CLI through endpoints.json,
the verification) goes to `DynamoDBEndpoint.url`.

A run starts its own DynamoDB Local and stops it when it ends, or uses one it is handed (`shared_dynamodb()`,
as chaos does for all its scenarios): every table is deleted when a run starts on it, as moto's backends are
reset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import version
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from neptune_entry.errors import UsageError
from neptune_local.dynamodb_local import DynamoDBLocal
from neptune_local.template import REGION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SERVER_ENV = "NEPTUNE_LOCAL_DYNAMODB"
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
MOTO_NAME = f"moto {version('moto')}"


class DynamoDBServer(StrEnum):
    DYNAMODB_LOCAL = "dynamodb-local"
    MOTO = "moto"


def selected_server() -> DynamoDBServer:
    """The server NEPTUNE_LOCAL_DYNAMODB names (default: DynamoDB Local)."""
    value = os.environ.get(SERVER_ENV, "").strip() or DynamoDBServer.DYNAMODB_LOCAL
    try:
        return DynamoDBServer(value)
    except ValueError:
        choices = " or ".join(s.value for s in DynamoDBServer)
        raise UsageError(f"{SERVER_ENV}={value!r} names no DynamoDB server", f"set it to {choices}, or unset it") from None


@dataclass
class DynamoDBEndpoint:
    url: str
    name: str  # "DynamoDB Local 3.3.0", "moto 5.2.5": what the demo's summary says held the tables
    process: DynamoDBLocal | None = field(default=None, repr=False)  # set when this endpoint's process is ours

    @classmethod
    def of(cls, process: DynamoDBLocal) -> DynamoDBEndpoint:
        return cls(process.endpoint, process.name, process)

    @classmethod
    def moto(cls, moto_endpoint: str) -> DynamoDBEndpoint:
        return cls(moto_endpoint, MOTO_NAME)

    def client(self, config: Config = CLIENT_CONFIG) -> DynamoDBClient:
        return boto3.client("dynamodb", endpoint_url=self.url, region_name=REGION, config=config)

    def delete_tables(self) -> None:
        """A run on a server another run used starts with no table, as on a fresh one."""
        client = self.client()
        for page in client.get_paginator("list_tables").paginate():
            for name in page.get("TableNames", []):
                client.delete_table(TableName=name)

    def close(self) -> None:
        if self.process is not None:
            self.process.stop()


def server_name(shared: DynamoDBEndpoint | None) -> str:
    """What holds the tables of runs given `shared` (from shared_dynamodb())."""
    return shared.name if shared is not None else MOTO_NAME


@contextmanager
def shared_dynamodb() -> Iterator[DynamoDBEndpoint | None]:
    """One DynamoDB Local for several runs in turn (chaos's scenarios), stopped at the end; None when moto's
    DynamoDB is selected (each run's moto serves it)."""
    if selected_server() != DynamoDBServer.DYNAMODB_LOCAL:
        yield None
        return
    with DynamoDBLocal() as process:
        yield DynamoDBEndpoint.of(process)
