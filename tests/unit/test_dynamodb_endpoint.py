"""Which DynamoDB the local run uses: DynamoDB Local unless NEPTUNE_LOCAL_DYNAMODB says moto; anything else is
refused with the choices."""

from __future__ import annotations

import pytest

from neptune_entry.errors import UsageError
from neptune_local.dynamodb_endpoint import MOTO_NAME, SERVER_ENV, DynamoDBServer, selected_server, server_name


def test_dynamodb_local_unless_moto_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERVER_ENV, raising=False)
    assert selected_server() == DynamoDBServer.DYNAMODB_LOCAL
    monkeypatch.setenv(SERVER_ENV, "moto")
    assert selected_server() == DynamoDBServer.MOTO
    assert server_name(None) == MOTO_NAME and MOTO_NAME.startswith("moto 5.")


def test_an_unknown_server_is_refused_naming_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVER_ENV, "localstack")
    with pytest.raises(UsageError) as refused:
        selected_server()
    assert refused.value.lines() == [
        f"error: {SERVER_ENV}='localstack' names no DynamoDB server",
        "  next: set it to dynamodb-local or moto, or unset it",
    ]
