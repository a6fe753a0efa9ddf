"""DynamoDB table definitions read back from the synthesized template, so the local run and the tests
create exactly the tables (keys, attribute types, GSIs) that `cdk deploy` creates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Logical-id prefixes of the three tables in neptune_stream/tables.py.
ROLES = {"records": "TablesStreamRecords", "history": "TablesUpdateHistory", "checkpoint": "TablesLatestCheckpoint"}


@dataclass(frozen=True)
class TableDefinition:
    role: str
    create_kwargs: dict[str, Any]


def table_definitions(template: dict[str, Any], name_prefix: str = "neptune-stream-") -> dict[str, TableDefinition]:
    tables = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    found: dict[str, TableDefinition] = {}
    for role, prefix in ROLES.items():
        matches = [props["Properties"] for logical, props in tables.items() if logical.startswith(prefix)]
        if len(matches) != 1:
            raise ValueError(f"template has {len(matches)} tables for {role} ({prefix}*), expected 1")
        props = matches[0]
        kwargs: dict[str, Any] = {
            "TableName": f"{name_prefix}{role}",
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props["BillingMode"],
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in props["GlobalSecondaryIndexes"]
            ]
        found[role] = TableDefinition(role, kwargs)
    return found


def create_tables(client: Any, definitions: dict[str, TableDefinition]) -> dict[str, str]:
    """Creates any missing table; returns role -> table name."""
    existing = set(client.list_tables().get("TableNames", []))
    for definition in definitions.values():
        if definition.create_kwargs["TableName"] not in existing:
            client.create_table(**definition.create_kwargs)
    return {role: d.create_kwargs["TableName"] for role, d in definitions.items()}
