"""The existing-cluster file is checked before anything is synthesized: each mistake an operator can make
in it fails with the field named and what it expects, and the committed example passes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy

from neptune_capture.contract import StartFrom
from neptune_stream.config import StackConfig
from neptune_stream.existing_spec import ExistingClusterError, load, parse
from tests.conftest import EXISTING_CLUSTER_EXAMPLE

EXAMPLE: dict[str, Any] = json.loads(EXISTING_CLUSTER_EXAMPLE.read_text())


def test_the_example_is_valid_and_obviously_fake() -> None:
    spec = load(EXISTING_CLUSTER_EXAMPLE)
    assert spec.region == "us-east-1" and spec.availability_zones == ["us-east-1a", "us-east-1b"]
    assert "FAKE" in spec.resource_id and "fake" in spec.endpoint
    assert {s.subnet_id for s in spec.subnets} == {"subnet-00000000000000001", "subnet-00000000000000002"}


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    spec = copy.deepcopy(EXAMPLE)
    change(spec)
    return spec


def _set(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec[section].__setitem__(key, value)


def _subnet(index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["network"]["subnets"][index].__setitem__(key, value)


def _drop(section: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec[section].pop(key)


WRITER = EXAMPLE["cluster"]["endpoint"]
READER = EXAMPLE["cluster"]["readerEndpoint"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_drop("cluster", "resourceId"), "cluster.resourceId is missing"),
        (_set("cluster", "resourceId", "db-ABC"), "cluster.resourceId must be the cluster's DbClusterResourceId"),
        (_set("cluster", "identifier", "Other_Graph"), "cluster.identifier must be a cluster identifier"),
        (_set("cluster", "identifier", "other-graph"), "cluster.endpoint names cluster 'example-graph' but cluster.identifier"),
        (_set("cluster", "endpoint", READER), "cluster.endpoint is a reader endpoint"),
        (_set("cluster", "readerEndpoint", WRITER), "cluster.readerEndpoint must be the reader endpoint"),
        (_set("cluster", "endpoint", "graph.example.com"), "cluster.endpoint must be the cluster endpoint"),
        (_set("cluster", "readerEndpoint", READER.replace("us-east-1", "eu-west-1")), "is not the reader of cluster.endpoint"),
        (_set("cluster", "port", "8182"), "cluster.port must be an integer 1..65535"),
        (_set("cluster", "port", 70_000), "cluster.port must be an integer 1..65535"),
        (_set("cluster", "securityGroupId", "sg-xyz"), "cluster.securityGroupId must be a security group id"),
        (_set("cluster", "clusterArn", "arn:aws:rds:..."), "cluster has unknown field(s) clusterArn"),
        (_set("network", "vpcId", "vpc_1"), "network.vpcId must be a VPC id"),
        (_set("network", "subnets", []), "network.subnets must be a non-empty list"),
        (
            _subnet(1, "availabilityZone", "eu-west-1a"),
            "network.subnets[1].availabilityZone eu-west-1a is not in the cluster's region",
        ),
        (_subnet(0, "routeTableId", None), "network.subnets[0].routeTableId is missing"),
        (
            _subnet(1, "subnetId", "subnet-00000000000000001"),
            "network.subnets[1].subnetId subnet-00000000000000001 is listed twice",
        ),
        (
            _set("network", "dynamoDbPrefixListId", "com.amazonaws.us-east-1.dynamodb"),
            "network.dynamoDbPrefixListId must be a prefix list id",
        ),
        (_drop("settings", "vpcHasDynamoDbEndpoint"), "settings.vpcHasDynamoDbEndpoint must be true or false (it has no default"),
        (_set("settings", "userManagedSecurityGroup", "no"), "settings.userManagedSecurityGroup must be true or false"),
        (lambda spec: spec.pop("network"), "network must be a JSON object"),
    ],
)
def test_a_wrong_field_is_named(change: Callable[[dict[str, Any]], None], words: str) -> None:
    with pytest.raises(ExistingClusterError) as raised:
        parse(_edit(change))
    assert words in str(raised.value)


def test_the_file_itself_is_named_when_it_is_missing_or_not_json(tmp_path: Path) -> None:
    with pytest.raises(ExistingClusterError, match=r"nope\.json: no such file \(neptune-stream:existingCluster names it\)"):
        load(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"cluster": ')
    with pytest.raises(ExistingClusterError, match=r"broken\.json: not JSON"):
        load(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(_edit(_set("cluster", "port", 0))))
    with pytest.raises(ExistingClusterError, match=r"wrong\.json: cluster\.port must be"):
        load(wrong)


def _config(**context: str) -> StackConfig:
    return StackConfig.from_context(App(context={f"neptune-stream:{k}": v for k, v in context.items()}))


def test_the_context_names_the_file_and_the_settings() -> None:
    config = _config(existingCluster=str(EXISTING_CLUSTER_EXAMPLE), startFrom="Latest")
    assert config.existing_cluster is not None and config.existing_cluster.identifier == "example-graph"
    assert config.start_from == StartFrom.LATEST
    assert not config.reset_function, "no reset Lambda on a cluster the stack did not create, unless asked"
    assert config.defaults.removal_policy == RemovalPolicy.RETAIN, "the captured history is kept"
    assert _config().reset_function and _config().defaults.removal_policy == RemovalPolicy.DESTROY
    assert _config(existingCluster=str(EXISTING_CLUSTER_EXAMPLE), allowReset="true").reset_function
    with pytest.raises(ValueError, match=r"neptune-stream:startFrom must be one of TRIM_HORIZON, LATEST, got 'now'"):
        _config(startFrom="now")
    with pytest.raises(ValueError, match=r"neptune-stream:allowReset must be true or false"):
        _config(allowReset="sometimes")
    with pytest.raises(ExistingClusterError, match=r"missing\.json: no such file"):
        _config(existingCluster="missing.json")
