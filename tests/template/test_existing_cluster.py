"""Existing-cluster mode (`-c neptune-stream:existingCluster=FILE`): what the stack creates around a cluster
it did not create, and what it leaves alone. Both synths pass cdk-nag's AwsSolutions pack (a finding would
have failed the session fixture's synth)."""

from __future__ import annotations

import json
from typing import Any

from neptune_capture.contract import Output, StartFrom, State
from neptune_capture.schema import TableNames
from neptune_capture.settings import Env
from neptune_stream.existing_graph import SHARED_ENDPOINT_WARNING
from neptune_stream.existing_spec import load
from tests.conftest import EXISTING_CLUSTER_EXAMPLE
from tests.template.conftest import Synth, resolve_join

SPEC = load(EXISTING_CLUSTER_EXAMPLE)
# Everything the stack may create around someone's cluster; anything else is a finding.
ALLOWED_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::DynamoDB::Table",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::VPCEndpoint",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::Scheduler::Schedule",
    "AWS::StepFunctions::StateMachine",
}


def _types(synth: Synth) -> set[str]:
    return {r["Type"] for r in synth.json["Resources"].values()}


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in synth.resources("AWS::Lambda::Function").items() if k.startswith("Functions")}


def _one(synth: Synth, cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = synth.resources(cfn_type).items()
    return item


def test_creates_no_vpc_no_cluster_no_parameter_group(existing_synth: Synth) -> None:
    types = _types(existing_synth)
    assert types <= ALLOWED_TYPES, types - ALLOWED_TYPES
    assert not any(t.startswith(("AWS::Neptune::", "AWS::RDS::")) for t in types)
    assert not types & {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::FlowLog"}


def test_nothing_in_the_stack_can_change_or_erase_the_cluster(existing_synth: Synth) -> None:
    # The only neptune-db actions are reads of this cluster, on its resource id; no management API at all.
    policies = json.dumps(existing_synth.resources("AWS::IAM::Policy")) + json.dumps(existing_synth.resources("AWS::IAM::Role"))
    assert '"rds:' not in policies and '"neptune:' not in policies
    actions: set[str] = set()
    for policy in existing_synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            neptune = {a for a in listed if a.startswith("neptune-db:")}
            if neptune:
                assert resolve_join(statement["Resource"]) == (
                    f"arn:<Ref:AWS::Partition>:neptune-db:<Ref:AWS::Region>:<Ref:AWS::AccountId>:{SPEC.resource_id}/*"
                )
                actions |= neptune
    assert actions == {"neptune-db:GetEngineStatus", "neptune-db:GetStreamRecords"}
    # No reset function by default: the graph of someone's cluster is never erased from here.
    assert len(_functions(existing_synth)) == 2
    assert Output.RESET_FUNCTION not in existing_synth.json["Outputs"]


def test_the_lambdas_run_in_the_given_subnets_with_their_own_security_group(existing_synth: Synth) -> None:
    group, resource = _one(existing_synth, "AWS::EC2::SecurityGroup")
    assert resource["Properties"]["VpcId"] == SPEC.vpc_id
    for function in _functions(existing_synth).values():
        assert function["VpcConfig"]["SubnetIds"] == [s.subnet_id for s in SPEC.subnets]
        assert function["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [group, "GroupId"]}]


def test_the_clusters_security_group_admits_the_lambdas_on_its_port_only(existing_synth: Synth) -> None:
    group, _ = _one(existing_synth, "AWS::EC2::SecurityGroup")
    _, ingress = _one(existing_synth, "AWS::EC2::SecurityGroupIngress")
    assert ingress["Properties"] == {
        "Description": "neptune-stream Lambdas",
        "FromPort": SPEC.port,
        "ToPort": SPEC.port,
        "GroupId": SPEC.security_group_id,
        "IpProtocol": "tcp",
        "SourceSecurityGroupId": {"Fn::GetAtt": [group, "GroupId"]},
    }
    _, egress = _one(existing_synth, "AWS::EC2::SecurityGroupEgress")
    assert egress["Properties"]["DestinationSecurityGroupId"] == SPEC.security_group_id
    assert Output.CLUSTER_INGRESS_RULE not in existing_synth.json["Outputs"]


def test_a_dynamodb_endpoint_on_the_owners_route_tables_keeps_the_default_policy_and_says_so(existing_synth: Synth) -> None:
    """The endpoint carries every DynamoDB request from those subnets, the owner's other workloads' too: a
    policy admitting only the handler would cut them off, so it has none (the default, full access) and
    the synth warns that the routes change."""
    _, endpoint = _one(existing_synth, "AWS::EC2::VPCEndpoint")
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway" and props["VpcId"] == SPEC.vpc_id
    assert props["RouteTableIds"] == [s.route_table_id for s in SPEC.subnets]
    assert "PolicyDocument" not in props
    metadata = json.loads((existing_synth.outdir / "NeptuneStream.metadata.json").read_text())
    warnings = [(path, e["data"]) for path, entries in metadata.items() for e in entries if e["type"] == "aws:cdk:warning"]
    ((path, text),) = [(p, t) for p, t in warnings if SHARED_ENDPOINT_WARNING in t]
    assert path.endswith("/DynamoDbEndpoint") and "vpcHasDynamoDbEndpoint" in text


def test_the_schedule_fires_only_once_the_rule_and_the_endpoint_exist(existing_synth: Synth) -> None:
    schedule, _ = _one(existing_synth, "AWS::Scheduler::Schedule")
    ingress, _ = _one(existing_synth, "AWS::EC2::SecurityGroupIngress")
    endpoint, _ = _one(existing_synth, "AWS::EC2::VPCEndpoint")
    assert set(existing_synth.json["Resources"][schedule]["DependsOn"]) >= {ingress, endpoint}


def test_outputs_keep_the_contract_with_the_endpoints_from_the_file(existing_synth: Synth) -> None:
    outputs = existing_synth.json["Outputs"]
    assert set(outputs) == set(Output) - {Output.RESET_FUNCTION, Output.CLUSTER_INGRESS_RULE}
    assert outputs[Output.WRITER_ENDPOINT]["Value"] == f"{SPEC.endpoint}:{SPEC.port}"
    assert outputs[Output.READER_ENDPOINT]["Value"] == f"{SPEC.reader_endpoint}:{SPEC.port}"
    assert outputs[Output.CLUSTER_IDENTIFIER]["Value"] == SPEC.identifier
    handler = next(f for k, f in _functions(existing_synth).items() if k.startswith("FunctionsStreamHandler"))
    assert handler["Environment"]["Variables"][Env.NEPTUNE_ENDPOINT] == f"https://{SPEC.endpoint}:{SPEC.port}"
    assert handler["Environment"]["Variables"][Env.START_FROM] == StartFrom.TRIM_HORIZON


def test_the_captured_history_is_kept_whatever_happens_to_the_stack(existing_synth: Synth) -> None:
    tables = existing_synth.resources("AWS::DynamoDB::Table").values()
    assert len(tables) == 3
    for table in tables:
        assert table["DeletionPolicy"] == "Retain" and table["Properties"]["DeletionProtectionEnabled"] is True


def test_a_deploy_in_another_region_is_stopped_before_it_creates_anything(existing_synth: Synth) -> None:
    (rule,) = [r for name, r in existing_synth.json["Rules"].items() if name.startswith("ExistingGraphSameRegion")]
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert "us-east-1" in assertion["AssertDescription"]


def test_a_group_its_owner_manages_gets_no_rule_but_an_output_saying_which(existing_variant_synth: Synth) -> None:
    synth = existing_variant_synth
    assert "AWS::EC2::SecurityGroupIngress" not in _types(synth)
    group, _ = _one(synth, "AWS::EC2::SecurityGroup")
    command = resolve_join(synth.json["Outputs"][Output.CLUSTER_INGRESS_RULE]["Value"])
    assert command == (
        f"aws ec2 authorize-security-group-ingress --region us-east-1 --group-id {SPEC.security_group_id} "
        f"--protocol tcp --port {SPEC.port} --source-group <GetAtt:{group}.GroupId>"
    )


def test_a_vpc_with_its_endpoint_gets_none_and_the_prefix_list_bounds_https(existing_variant_synth: Synth) -> None:
    synth = existing_variant_synth
    assert "AWS::EC2::VPCEndpoint" not in _types(synth)
    _, group = _one(synth, "AWS::EC2::SecurityGroup")
    inline = group["Properties"].get("SecurityGroupEgress", [])
    rules = inline + [r["Properties"] for r in synth.resources("AWS::EC2::SecurityGroupEgress").values()]
    https = [r for r in rules if r["FromPort"] == 443]
    assert [r["DestinationPrefixListId"] for r in https] == ["pl-0000000000000000a"]
    assert not any("CidrIp" in r for r in rules)


def test_reset_and_the_start_point_are_settings(existing_variant_synth: Synth) -> None:
    functions = _functions(existing_variant_synth)
    assert len(functions) == 3 and Output.RESET_FUNCTION in existing_variant_synth.json["Outputs"]
    handler = next(f for k, f in functions.items() if k.startswith("FunctionsStreamHandler"))
    assert handler["Environment"]["Variables"][Env.START_FROM] == StartFrom.LATEST


def test_the_local_run_reads_the_stack_without_a_reset_function(existing_synth: Synth) -> None:
    stack = existing_synth.stack
    assert [f.name for f in stack.functions()] == ["stream-handler", "status"]
    definition = stack.state_machine_definition(TableNames("records", "history", "checkpoint"))
    assert definition["StartAt"] == State.POLL
