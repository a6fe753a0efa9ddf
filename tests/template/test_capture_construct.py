"""NeptuneStreamCapture as a CDK app adopting it uses it: given a cluster it defines or one named by its
attributes, it creates the capture and exposes it as attributes, outputs nothing itself, refuses wrong props
at synth with the prop named, and two captures live in one app without a collision."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_neptune_alpha as neptune
from aws_cdk.assertions import Match, Template

from neptune_capture.contract import SERVICE_DIMENSION, SERVICE_NAME, service_name
from neptune_capture.settings import Env
from neptune_stream import (
    CaptureConfigError,
    CaptureTuning,
    ClusterAttributes,
    GraphModel,
    NeptuneStreamCapture,
    NeptuneStreamCaptureProps,
)

ENDPOINT = "people-graph.cluster-abcdefghijkl.us-east-1.neptune.amazonaws.com"
RESOURCE_ID = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def vpc_of(stack: Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a", "us-east-1b"],
        isolated_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    )  # fmt: skip


def attributes(stack: Stack, **overrides: Any) -> ClusterAttributes:
    values: dict[str, Any] = {
        "cluster_resource_id": RESOURCE_ID,
        "endpoint": ENDPOINT,
        "security_group": ec2.SecurityGroup.from_security_group_id(stack, "GraphSg", "sg-0123456789abcdef0"),
    }
    return ClusterAttributes(**{**values, **overrides})


def cluster_in(stack: Stack, vpc: ec2.IVpc, construct_id: str) -> neptune.DatabaseCluster:
    return neptune.DatabaseCluster(
        stack, construct_id, vpc=vpc, instance_type=neptune.InstanceType.of("db.r6g.large"), iam_authentication=True,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )  # fmt: skip


def props(stack: Stack, **overrides: Any) -> NeptuneStreamCaptureProps:
    # The publisher's Powertools layer: no pip run for these synths (the bundled layer has its own tests).
    values: dict[str, Any] = {"vpc": vpc_of(stack), "bundled_powertools": False, **overrides}
    if "cluster_attributes" not in overrides:
        values["cluster_attributes"] = attributes(stack)
    return NeptuneStreamCaptureProps(**values)


def env_of(template: Template, description_part: str) -> list[dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function")
    return [
        f["Properties"]["Environment"]["Variables"]
        for f in functions.values()
        if description_part in f["Properties"]["Description"]
    ]


@pytest.fixture(scope="module")
def two_captures() -> Template:
    """One stack, two clusters it defines, two captures with their own stream ids."""
    stack = Stack(App(), "TwoGraphs")
    vpc = vpc_of(stack)
    for name, stream_id in (("Orders", "orders"), ("People", "people")):
        NeptuneStreamCapture(
            stack,
            f"{name}Capture",
            NeptuneStreamCaptureProps(
                vpc=vpc, cluster=cluster_in(stack, vpc, f"{name}Graph"), stream_id=stream_id, bundled_powertools=False
            ),
        )
    return Template.from_stack(stack)


def test_two_captures_in_one_stack_each_have_their_own_everything(two_captures: Template) -> None:
    template = two_captures
    template.resource_count_is("AWS::DynamoDB::Table", 6)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 2)
    template.resource_count_is("AWS::Scheduler::Schedule", 2)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 2)
    template.resource_count_is("AWS::SNS::Topic", 2)
    handlers = env_of(template, "Captures Neptune Streams")
    assert sorted(h[Env.STREAM_ID] for h in handlers) == ["orders", "people"]
    # Each handler reads its own cluster and writes its own tables.
    assert len({json.dumps(h[Env.NEPTUNE_ENDPOINT]) for h in handlers}) == 2
    assert len({json.dumps(h[Env.CHECKPOINT_TABLE]) for h in handlers}) == 2
    # Each publishes under its own service, and each capture's alarms read only its own.
    assert sorted(h[Env.POWERTOOLS_SERVICE_NAME] for h in handlers) == [service_name("orders"), service_name("people")]
    lag_alarms = [
        a
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "StreamLagMs"
    ]
    services = sorted(d["Value"] for a in lag_alarms for d in a["Properties"]["Dimensions"] if d["Name"] == SERVICE_DIMENSION)
    assert services == [service_name("orders"), service_name("people")]
    assert SERVICE_NAME not in services


def test_two_captures_in_two_stacks_of_one_app_synthesize() -> None:
    app = App()
    for name, stream_id in (("Orders", "orders"), ("People", "people")):
        stack = Stack(app, name)
        NeptuneStreamCapture(stack, "Capture", props(stack, stream_id=stream_id))
    assembly = app.synth()
    assert sorted(s.stack_name for s in assembly.stacks) == ["Orders", "People"]


def test_one_stream_id_captured_twice_in_one_app_is_refused() -> None:
    app = App()
    first = Stack(app, "First")
    NeptuneStreamCapture(first, "Capture", props(first, stream_id="orders"))
    second = Stack(app, "Second")
    with pytest.raises(CaptureConfigError, match=r"stream_id 'orders' is already captured by First/Capture .* next: give each"):
        NeptuneStreamCapture(second, "Capture", props(second, stream_id="orders"))


@pytest.fixture(scope="module")
def imported() -> tuple[NeptuneStreamCapture, Template]:
    stack = Stack(App(), "Imported")
    capture = NeptuneStreamCapture(stack, "Capture", props(stack, stream_id="people", graph_model="rdf", start_from="latest"))
    return capture, Template.from_stack(stack)


def test_a_cluster_named_by_its_attributes_is_read_and_admits_the_functions(
    imported: tuple[NeptuneStreamCapture, Template],
) -> None:
    capture, template = imported
    (handler,) = env_of(template, "Captures Neptune Streams")
    assert handler[Env.NEPTUNE_ENDPOINT] == f"https://{ENDPOINT}:8182"
    assert handler[Env.GRAPH_MODEL] == "rdf" and handler[Env.START_FROM] == "LATEST"
    # The only change to the owner's cluster: its group admits the functions' group on Neptune's port.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"GroupId": "sg-0123456789abcdef0", "FromPort": 8182, "ToPort": 8182, "SourceSecurityGroupId": Match.any_value()},
    )
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert f"{RESOURCE_ID}/*" in policies
    assert capture.cluster.cluster_identifier == "people-graph"
    template.resource_count_is("AWS::Neptune::DBCluster", 0)


def test_the_construct_exposes_its_resources_and_outputs_nothing(imported: tuple[NeptuneStreamCapture, Template]) -> None:
    capture, template = imported
    assert template.find_outputs("*") == {}
    assert capture.graph_model is GraphModel.RDF and capture.stream_id == "people"
    assert capture.reset_function is None, "a reset function erases the graph: only when asked for"
    assert sorted(capture.alarms) == ["ExpiredCheckpoint", "NotPolling", "StateMachineStopped", "StreamLag"]
    stack = Stack.of(capture)
    for resource, cfn_type in (
        (capture.records_table, "AWS::DynamoDB::Table"),
        (capture.state_machine, "AWS::StepFunctions::StateMachine"),
        (capture.stream_handler, "AWS::Lambda::Function"),
        (capture.schedule, "AWS::Scheduler::Schedule"),
        (capture.alarm_topic, "AWS::SNS::Topic"),
        (capture.dashboard, "AWS::CloudWatch::Dashboard"),
    ):
        logical = stack.get_logical_id(resource.node.default_child)  # type: ignore[arg-type]
        assert template.to_json()["Resources"][logical]["Type"] == cfn_type


def test_data_is_retained_by_default(imported: tuple[NeptuneStreamCapture, Template]) -> None:
    _, template = imported
    tables = template.find_resources("AWS::DynamoDB::Table")
    assert len(tables) == 3
    for table in tables.values():
        assert table["DeletionPolicy"] == "Retain" and table["Properties"]["DeletionProtectionEnabled"] is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"cluster_attributes": None},
            r"cluster and cluster_attributes: exactly one is needed, got neither; next: give `cluster`",
        ),
        ({"stream_id": "two words"}, r"stream_id must be 1 to 64 letters, .* got 'two words'; next:"),
        ({"stream_id": "a#fence#b"}, r"stream_id must be"),
        ({"graph_model": "cypher"}, r"graph_model must be one of propertygraph, rdf, got 'cypher'; next:"),
        ({"start_from": "yesterday"}, r"start_from must be one of TRIM_HORIZON, LATEST, got 'yesterday'"),
        ({"log_retention_days": 31}, r"log_retention_days must be one of \[1, 3, .*got 31; next:"),
    ],
)
def test_a_wrong_prop_fails_the_synth_naming_it(overrides: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Wrong")
    with pytest.raises(CaptureConfigError, match=message):
        NeptuneStreamCapture(stack, "Capture", props(stack, **overrides))
    assert "Capture" not in [c.node.id for c in stack.node.children if c.node.children], "nothing built before the check"


def test_wrong_cluster_attributes_fail_the_synth_naming_them() -> None:
    stack = Stack(App(), "BadResourceId")
    with pytest.raises(CaptureConfigError, match=r"cluster_attributes.cluster_resource_id must look like cluster-"):
        NeptuneStreamCapture(stack, "A", props(stack, cluster_attributes=attributes(stack, cluster_resource_id="people-graph")))
    stack = Stack(App(), "BadEndpoint")
    with pytest.raises(CaptureConfigError, match=r"cluster_attributes.endpoint is not a Neptune cluster endpoint"):
        NeptuneStreamCapture(stack, "B", props(stack, cluster_attributes=attributes(stack, endpoint="graph.example.com")))
    stack = Stack(App(), "Both")
    with pytest.raises(CaptureConfigError, match=r"exactly one is needed, got both"):
        properties = props(stack)
        NeptuneStreamCapture(stack, "C", props_with_cluster(properties, cluster_in(stack, properties.vpc, "G")))


def props_with_cluster(properties: NeptuneStreamCaptureProps, cluster: neptune.IDatabaseCluster) -> NeptuneStreamCaptureProps:
    return dataclasses.replace(properties, cluster=cluster)


def test_tuning_out_of_bounds_names_the_tuning_field() -> None:
    with pytest.raises(ValueError, match=r"tuning.in_flight must be 1..32, got 0"):
        CaptureTuning(in_flight=0)
    with pytest.raises(ValueError, match=r"tuning.idle_base_seconds and tuning.max_idle_wait_seconds must satisfy"):
        CaptureTuning(idle_base_seconds=2, max_idle_wait_seconds=1)
    with pytest.raises(ValueError, match=r"tuning.lag_alarm_seconds must be 1 or more"):
        CaptureTuning(lag_alarm_seconds=0)
