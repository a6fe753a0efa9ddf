"""The file that names an existing Neptune cluster (`-c neptune-stream:existingCluster=FILE`), read and
checked before anything is synthesized: every id, endpoint and setting the stack needs, with no lookup
that would need AWS credentials. A bad file fails the synth with the field named and what it expects.
Standard library only.

The file (docs/existing-cluster.md; an example with fake ids: examples/existing-cluster.json):

    {"cluster": {"identifier", "resourceId", "endpoint", "readerEndpoint", "port", "securityGroupId"},
     "network": {"vpcId", "subnets": [{"subnetId", "availabilityZone", "routeTableId"}, ...],
                 "dynamoDbPrefixListId"?},
     "settings": {"userManagedSecurityGroup", "vpcHasDynamoDbEndpoint"}}"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neptune_capture.contract import ContextKey

NEPTUNE_PORT = 8182
# Neptune's cluster identifiers: "from 1 to 63 letters, numbers, or hyphens", a letter first, "Cannot end with a
# hyphen or contain two consecutive hyphens", "stored as a lowercase string" (CreateDBCluster's constraints:
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/neptune/aws.sdk.kotlin.services.neptune.model/-create-db-cluster-request/db-cluster-identifier.html).
IDENTIFIER = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$")
# The DbClusterResourceId DescribeDBClusters reports, which Neptune's IAM data-access ARNs name.
RESOURCE_ID = re.compile(r"^cluster-[A-Z0-9]+$")
# <identifier>.cluster-<hash>.<region>.neptune.amazonaws.com[.cn]; "-ro-" for the reader endpoint.
ENDPOINT = re.compile(
    r"^(?P<identifier>[a-z][a-z0-9-]*)\.cluster-(?P<ro>ro-)?(?P<hash>[a-z0-9]+)\."
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.neptune\.amazonaws\.com(?:\.cn)?$"
)
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ROUTE_TABLE_ID = re.compile(r"^rtb-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
PREFIX_LIST_ID = re.compile(r"^pl-[0-9a-f]{8,17}$")
AVAILABILITY_ZONE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d[a-z]$")


class ExistingClusterError(ValueError):
    """The existing-cluster file is missing, unreadable, or has a field that is wrong: the message names it."""


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    availability_zone: str
    route_table_id: str


@dataclass(frozen=True)
class ExistingCluster:
    identifier: str
    resource_id: str
    endpoint: str
    reader_endpoint: str
    port: int
    security_group_id: str
    vpc_id: str
    subnets: tuple[Subnet, ...]
    # False: the stack adds the ingress rule to the cluster's security group. True: the group is yours
    # alone, and the stack only outputs the rule for you to add.
    user_managed_security_group: bool
    # True: the VPC already routes the subnets to DynamoDB through a gateway endpoint (a second one on the
    # same route tables would fail the deploy), so the stack creates none.
    vpc_has_dynamodb_endpoint: bool
    # The DynamoDB prefix list of the region (pl-...): the Lambdas' HTTPS egress is then limited to it.
    dynamodb_prefix_list_id: str | None = None

    @property
    def region(self) -> str:
        match = ENDPOINT.match(self.endpoint)
        assert match is not None  # checked when the file was read
        return match["region"]

    @property
    def availability_zones(self) -> list[str]:
        return sorted({s.availability_zone for s in self.subnets})


def load(path: str | Path) -> ExistingCluster:
    file = Path(path)
    try:
        raw = json.loads(file.read_text())
    except FileNotFoundError:
        raise ExistingClusterError(f"{file}: no such file ({ContextKey.EXISTING_CLUSTER.qualified} names it)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ExistingClusterError(f"{file}: cannot be read: {error}") from None
    except json.JSONDecodeError as error:
        raise ExistingClusterError(f"{file}: not JSON: {error}") from None
    try:
        return parse(raw)
    except ExistingClusterError as error:
        raise ExistingClusterError(f"{file}: {error}") from None


def parse(raw: Any) -> ExistingCluster:
    top = _object(raw, "the file", {"cluster", "network", "settings"})
    cluster = _object(
        top.get("cluster"), "cluster", {"identifier", "resourceId", "endpoint", "readerEndpoint", "port", "securityGroupId"}
    )
    network = _object(top.get("network"), "network", {"vpcId", "subnets", "dynamoDbPrefixListId"})
    settings = _object(top.get("settings"), "settings", {"userManagedSecurityGroup", "vpcHasDynamoDbEndpoint"})

    identifier = _matching(cluster, "cluster", "identifier", IDENTIFIER, "a cluster identifier (lowercase, e.g. my-graph)")
    endpoint = _matching(
        cluster,
        "cluster",
        "endpoint",
        ENDPOINT,
        "the cluster endpoint, e.g. my-graph.cluster-abc123.us-east-1.neptune.amazonaws.com",
    )
    reader = _matching(
        cluster,
        "cluster",
        "readerEndpoint",
        ENDPOINT,
        "the reader endpoint, e.g. my-graph.cluster-ro-abc123.us-east-1.neptune.amazonaws.com",
    )
    writer_parts, reader_parts = ENDPOINT.match(endpoint), ENDPOINT.match(reader)
    assert writer_parts is not None and reader_parts is not None
    if writer_parts["ro"]:
        raise ExistingClusterError(
            f"cluster.endpoint is a reader endpoint (.cluster-ro-): give the cluster (writer) endpoint, got {endpoint!r}"
        )
    if not reader_parts["ro"]:
        raise ExistingClusterError(f"cluster.readerEndpoint must be the reader endpoint (.cluster-ro-), got {reader!r}")
    if writer_parts["identifier"] != identifier:
        raise ExistingClusterError(
            f"cluster.endpoint names cluster {writer_parts['identifier']!r} but cluster.identifier is {identifier!r}: "
            "both must come from the same `aws neptune describe-db-clusters` entry"
        )
    for key in ("identifier", "hash", "region"):
        if reader_parts[key] != writer_parts[key]:
            raise ExistingClusterError(f"cluster.readerEndpoint {reader!r} is not the reader of cluster.endpoint {endpoint!r}")
    region = writer_parts["region"]

    port = cluster.get("port", NEPTUNE_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65_535:
        raise ExistingClusterError(f"cluster.port must be an integer 1..65535 (Neptune's default: {NEPTUNE_PORT}), got {port!r}")

    subnets_raw = network.get("subnets")
    if not isinstance(subnets_raw, list) or not subnets_raw:
        raise ExistingClusterError(
            "network.subnets must be a non-empty list of {subnetId, availabilityZone, routeTableId}: the subnets the "
            f"Lambdas run in, which must reach the cluster; got {subnets_raw!r}"
        )
    subnets = tuple(_subnet(entry, f"network.subnets[{i}]", region) for i, entry in enumerate(subnets_raw))
    seen: set[str] = set()
    for i, subnet in enumerate(subnets):
        if subnet.subnet_id in seen:
            raise ExistingClusterError(f"network.subnets[{i}].subnetId {subnet.subnet_id} is listed twice")
        seen.add(subnet.subnet_id)

    prefix_list = network.get("dynamoDbPrefixListId")
    if prefix_list is not None:
        prefix_list = _matching(network, "network", "dynamoDbPrefixListId", PREFIX_LIST_ID, "a prefix list id (pl-...) or null")

    return ExistingCluster(
        identifier=identifier,
        resource_id=_matching(
            cluster,
            "cluster",
            "resourceId",
            RESOURCE_ID,
            "the cluster's DbClusterResourceId, e.g. cluster-ABCDEFGHIJ0123456789KLMNOP",
        ),
        endpoint=endpoint,
        reader_endpoint=reader,
        port=port,
        security_group_id=_matching(cluster, "cluster", "securityGroupId", SECURITY_GROUP_ID, "a security group id (sg-...)"),
        vpc_id=_matching(network, "network", "vpcId", VPC_ID, "a VPC id (vpc-...)"),
        subnets=subnets,
        user_managed_security_group=_boolean(settings, "settings", "userManagedSecurityGroup"),
        vpc_has_dynamodb_endpoint=_boolean(settings, "settings", "vpcHasDynamoDbEndpoint"),
        dynamodb_prefix_list_id=prefix_list,
    )


def _subnet(raw: Any, where: str, region: str) -> Subnet:
    entry = _object(raw, where, {"subnetId", "availabilityZone", "routeTableId"})
    zone = _matching(entry, where, "availabilityZone", AVAILABILITY_ZONE, "an Availability Zone name, e.g. us-east-1a")
    if not zone.startswith(region):
        raise ExistingClusterError(
            f"{where}.availabilityZone {zone} is not in the cluster's region {region} (from cluster.endpoint)"
        )
    return Subnet(
        subnet_id=_matching(entry, where, "subnetId", SUBNET_ID, "a subnet id (subnet-...)"),
        availability_zone=zone,
        route_table_id=_matching(entry, where, "routeTableId", ROUTE_TABLE_ID, "the subnet's route table id (rtb-...)"),
    )


def _object(raw: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ExistingClusterError(f"{where} must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ExistingClusterError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    return raw


def _matching(entry: Mapping[str, Any], where: str, key: str, pattern: re.Pattern[str], expected: str) -> str:
    value = entry.get(key)
    if value is None:
        raise ExistingClusterError(f"{where}.{key} is missing: {expected}")
    if not isinstance(value, str) or not pattern.match(value):
        raise ExistingClusterError(f"{where}.{key} must be {expected}, got {value!r}")
    return value


def _boolean(entry: Mapping[str, Any], where: str, key: str) -> bool:
    value = entry.get(key)
    if not isinstance(value, bool):
        raise ExistingClusterError(f"{where}.{key} must be true or false (it has no default: say which), got {value!r}")
    return value


__all__ = ["ExistingCluster", "ExistingClusterError", "Subnet", "load", "parse"]
