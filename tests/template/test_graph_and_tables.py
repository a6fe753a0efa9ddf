from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.template.conftest import Synth


def test_cluster_parameter_group_turns_streams_on_with_the_configured_retention(synth: Synth, production_synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Neptune::DBClusterParameterGroup",
        {"Parameters": Match.object_like({"neptune_streams": "1", "neptune_streams_expiry_days": "7"})},
    )
    production_synth.template.has_resource_properties(
        "AWS::Neptune::DBClusterParameterGroup",
        {"Parameters": Match.object_like({"neptune_streams": "1", "neptune_streams_expiry_days": "30"})},
    )


def test_cluster_uses_iam_auth_and_encryption_in_isolated_subnets(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Neptune::DBCluster",
        {"IamAuthEnabled": True, "StorageEncrypted": True, "DBClusterParameterGroupName": Match.any_value()},
    )
    (subnet_group,) = synth.resources("AWS::Neptune::DBSubnetGroup").values()
    isolated = {k for k, v in synth.resources("AWS::EC2::Subnet").items()}
    assert {ref["Ref"] for ref in subnet_group["Properties"]["SubnetIds"]} == isolated


def test_demo_mode_lets_destroy_remove_everything(synth: Synth) -> None:
    (cluster,) = synth.resources("AWS::Neptune::DBCluster").values()
    assert cluster["Properties"]["DeletionProtection"] is False
    assert cluster["DeletionPolicy"] == "Delete"
    for table in synth.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
        assert table["Properties"]["DeletionProtectionEnabled"] is False
    for group in synth.resources("AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "Delete"


def test_production_mode_keeps_data(production_synth: Synth) -> None:
    (cluster,) = production_synth.resources("AWS::Neptune::DBCluster").values()
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert len(production_synth.resources("AWS::Neptune::DBInstance")) == 2
    for table in production_synth.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_instance_class_comes_from_context(synth: Synth, production_synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::Neptune::DBInstance", {"DBInstanceClass": "db.r6g.large"})
    production_synth.template.has_resource_properties("AWS::Neptune::DBInstance", {"DBInstanceClass": "db.r6g.xlarge"})


def _table(synth: Synth, prefix: str) -> dict[str, Any]:
    (props,) = [v["Properties"] for k, v in synth.resources("AWS::DynamoDB::Table").items() if k.startswith(prefix)]
    assert isinstance(props, dict)
    return props


def test_tables_are_on_demand_point_in_time_recoverable_and_encrypted(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == 3
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}


def test_records_table_is_keyed_by_generation_qualified_position_with_an_element_history_index(synth: Synth) -> None:
    props = _table(synth, "TablesStreamRecords")
    assert props["KeySchema"] == [{"AttributeName": "position", "KeyType": "HASH"}]
    assert {"AttributeName": "position", "AttributeType": "S"} in props["AttributeDefinitions"]
    (gsi,) = props["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "byElement"
    assert gsi["KeySchema"] == [
        {"AttributeName": "elementId", "KeyType": "HASH"},
        {"AttributeName": "position", "KeyType": "RANGE"},
    ]


def test_history_is_a_timeline_per_stream_and_checkpoint_one_item_per_stream(synth: Synth) -> None:
    assert _table(synth, "TablesUpdateHistory")["KeySchema"] == [
        {"AttributeName": "streamId", "KeyType": "HASH"},
        {"AttributeName": "position", "KeyType": "RANGE"},
    ]
    assert _table(synth, "TablesLatestCheckpoint")["KeySchema"] == [{"AttributeName": "streamId", "KeyType": "HASH"}]
