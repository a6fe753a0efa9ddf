"""Each construct alone in a bare Stack, given only the L2 interfaces it takes (imported resources where
it needs a sibling's): it stands on its own and creates what its module says."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_neptune_alpha as neptune
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template

from neptune_capture.contract import State
from neptune_capture.settings import Env
from neptune_capture.tuning import CaptureTuning
from neptune_stream.defaults import Defaults
from neptune_stream.functions import Functions, FunctionSettings
from neptune_stream.graph import Graph
from neptune_stream.monitoring import Monitoring
from neptune_stream.network import Network
from neptune_stream.tables import Tables
from neptune_stream.workflow import Workflow

DEFAULTS = Defaults(production=False, log_retention_days=7)
ACCOUNT, REGION = "123456789012", "us-east-1"


def bare_stack() -> Stack:
    return Stack(App(), "Bare")


def imported_vpc(stack: Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["a", "b"], isolated_subnet_ids=["subnet-1", "subnet-2"]
    )


def imported_table(stack: Stack, name: str) -> ddb.ITable:
    return ddb.Table.from_table_arn(stack, name, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")


def test_network_alone() -> None:
    stack = bare_stack()
    Network(stack, "Network", defaults=DEFAULTS)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})


def test_graph_alone() -> None:
    stack = bare_stack()
    vpc = imported_vpc(stack)
    client = ec2.SecurityGroup(stack, "Client", vpc=vpc)
    Graph(
        stack,
        "Graph",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        client_security_group=client,
        instance_class="db.r6g.large",
        streams_expiry_days=3,
        defaults=DEFAULTS,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Neptune::DBCluster", {"IamAuthEnabled": True, "StorageEncrypted": True})
    template.has_resource_properties(
        "AWS::Neptune::DBClusterParameterGroup",
        {"Parameters": Match.object_like({"neptune_streams": "1", "neptune_streams_expiry_days": "3"})},
    )
    template.resource_count_is("AWS::Neptune::DBInstance", 1)


def test_tables_alone() -> None:
    stack = bare_stack()
    Tables(stack, "Tables", defaults=Defaults(production=True))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::DynamoDB::Table", 3)
    template.all_resources_properties("AWS::DynamoDB::Table", {"DeletionProtectionEnabled": True})


def test_functions_alone_with_an_imported_cluster_and_tables() -> None:
    stack = bare_stack()
    vpc = imported_vpc(stack)
    cluster = neptune.DatabaseCluster.from_database_cluster_attributes(
        stack,
        "Cluster",
        cluster_endpoint_address="graph.cluster-abc.us-east-1.neptune.amazonaws.com",
        cluster_identifier="graph",
        cluster_resource_identifier="cluster-ABCDEFG",
        port=8182,
        reader_endpoint_address="graph.cluster-ro-abc.us-east-1.neptune.amazonaws.com",
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "GraphSg", "sg-1"),
    )
    Functions(
        stack,
        "Functions",
        cluster=cluster,
        records=imported_table(stack, "records"),
        history=imported_table(stack, "history"),
        checkpoint=imported_table(stack, "checkpoint"),
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "LambdaSg", "sg-2"),
        settings=FunctionSettings(
            stream_id="s", tuning=CaptureTuning(page_limit=500, in_flight=3, idle_base_seconds=0.2, max_idle_wait_seconds=2)
        ),
        defaults=DEFAULTS,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::Function", 3)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": Match.object_like(
                    {
                        Env.STREAM_ID: "s",
                        Env.PAGE_LIMIT: "500",
                        Env.IN_FLIGHT: "3",
                        Env.RECORDS_TABLE: "records",
                        Env.NEPTUNE_ENDPOINT: "https://graph.cluster-abc.us-east-1.neptune.amazonaws.com:8182",
                    }
                )
            },
        },
    )
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "cluster-ABCDEFG/*" in policies and "neptune-db:*" not in policies


def test_workflow_alone() -> None:
    stack = bare_stack()
    handler = lambda_.Function.from_function_arn(stack, "Handler", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:h")
    Workflow(
        stack,
        "Workflow",
        stream_handler=handler,
        checkpoint=imported_table(stack, "checkpoint"),
        stream_id="s",
        iterations_per_execution=7,
        defaults=DEFAULTS,
    )
    template = Template.from_stack(stack)
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    definition = _definition(machine)
    assert set(definition["States"]) == set(State)
    assert definition["States"][State.POLL]["Parameters"]["iterationsPerExecution"] == 7


def test_monitoring_alone() -> None:
    stack = bare_stack()
    handler = lambda_.Function.from_function_arn(stack, "Handler", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:h")
    machine = sfn.StateMachine.from_state_machine_arn(stack, "Machine", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m")
    Monitoring(stack, "Monitoring", stream_handler=handler, state_machine=machine, lag_alarm_seconds=60, defaults=DEFAULTS)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)  # no alarm on retried handler errors (issue 20)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "StreamLagMs", "Threshold": 60_000})
    template.resource_count_is("AWS::SNS::Topic", 1)


def _definition(machine: Mapping[str, Any]) -> dict[str, Any]:
    def flatten(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            return "".join(flatten(p) for p in value["Fn::Join"][1])
        return "TOKEN"

    parsed: dict[str, Any] = json.loads(flatten(machine["Properties"]["DefinitionString"]))
    return parsed
