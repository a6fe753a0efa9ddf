"""What the local run cannot see, checked on the synthesized template against the AWS documentation each
finding cites (issue 11): alarms that reach people, least privilege, confused-deputy conditions, a stack
that can be destroyed and deployed again, and the schedule that restarts capture by itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from neptune_capture import schema
from neptune_capture.contract import DEFAULT_STREAM_ID, Output
from neptune_stream.config import StackConfig
from neptune_stream.pins import PINNED
from tests.template.conftest import Synth, resolve_join

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}


def _one(synth: Synth, cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = synth.resources(cfn_type).items()
    return item


def _this_accounts_alarms(statement: dict[str, Any]) -> None:
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert resolve_join(condition["ArnLike"]["aws:SourceArn"]) == (
        "arn:<Ref:AWS::Partition>:cloudwatch:<Ref:AWS::Region>:<Ref:AWS::AccountId>:alarm:*"
    )


def test_the_alarm_topic_policy_lets_this_accounts_alarms_publish(synth: Synth) -> None:
    # enforce_ssl writes a topic policy, which replaces the default one: it must allow CloudWatch itself
    # (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
    topic, _ = _one(synth, "AWS::SNS::Topic")
    _, policy = _one(synth, "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == CLOUDWATCH and allow["Action"] == "sns:Publish" and allow["Resource"] == {"Ref": topic}
    _this_accounts_alarms(allow)
    # The TLS-only statement stays.
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_the_alarm_key_lets_cloudwatch_use_it_without_a_condition_no_page_documents(synth: Synth) -> None:
    # The SNS guide's statement for AWS service publishers has none (issue 20; tests/template/test_first_deploy.py);
    # the topic policy above keeps the confused-deputy conditions.
    _, key = _one(synth, "AWS::KMS::Key")
    (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == CLOUDWATCH]
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "Condition" not in statement


def test_a_demo_destroy_removes_the_key_and_production_keeps_it(synth: Synth, production_synth: Synth) -> None:
    _, key = _one(synth, "AWS::KMS::Key")
    assert key["DeletionPolicy"] == "Delete" and key["Properties"]["PendingWindowInDays"] == 7
    _, key = _one(production_synth, "AWS::KMS::Key")
    assert key["DeletionPolicy"] == "Retain"


def test_a_demo_leaves_nothing_behind(synth: Synth) -> None:
    kept = {k: v["DeletionPolicy"] for k, v in synth.json["Resources"].items() if v.get("DeletionPolicy") not in (None, "Delete")}
    assert kept == {}


def test_no_role_carries_an_aws_managed_policy(synth: Synth) -> None:
    # AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole let a function write to every log group.
    for name, role in synth.resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name


def test_each_function_writes_to_its_own_log_group_only(synth: Synth) -> None:
    functions = {k: v for k, v in synth.resources("AWS::Lambda::Function").items() if k.startswith("Functions")}
    assert len(functions) == 3
    for name, function in functions.items():
        role = synth.json["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
        own_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        logs = [s for s in statements if any(a.startswith("logs:") for a in _actions(s))]
        assert logs == [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [own_group, "Arn"]},
            }
        ], name
        # The network-interface actions Lambda documents for a VPC function, on '*' as they must be.
        (eni,) = [s for s in statements if any(a.startswith("ec2:") for a in _actions(s))]
        assert "ec2:CreateNetworkInterface" in eni["Action"] and eni["Resource"] == "*"


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_dynamodb_endpoint_admits_only_the_functions_table_actions(synth: Synth) -> None:
    # The stream handler's writes, and the reset function's opening of a new capture generation (a RESET
    # history item, the checkpoint item: docs/reset-and-generations.md); nobody else, nothing more.
    _, endpoint = _one(synth, "AWS::EC2::VPCEndpoint")
    statements = endpoint["Properties"]["PolicyDocument"]["Statement"]

    def role_of(prefix: str) -> object:
        function = next(k for k in synth.resources("AWS::Lambda::Function") if k.startswith(prefix))
        return synth.json["Resources"][function]["Properties"]["Role"]

    roles = {"handler": role_of("FunctionsStreamHandler"), "reset": role_of("FunctionsReset")}
    granted: dict[tuple[str, str], set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        (who,) = [name for name, role in roles.items() if statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": role}}]
        table = statement["Resource"]["Fn::GetAtt"][0][len("Tables") : len("Tables") + 12]
        granted[(who, table)] = set(_actions(statement))
    assert granted == {
        ("handler", "StreamRecord"): {"dynamodb:PutItem"},
        ("handler", "UpdateHistor"): {"dynamodb:PutItem"},
        ("handler", "LatestCheckp"): {
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        },
        ("reset", "UpdateHistor"): {"dynamodb:PutItem"},
        ("reset", "LatestCheckp"): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    }


def test_the_handler_puts_on_the_checkpoint_table_only_the_lease_fence_slots(synth: Synth) -> None:
    # The checkpoint item is only ever updated; whole-item puts there are the fence slots'.
    handler = synth.json["Resources"][
        next(k for k in synth.resources("AWS::Lambda::Function") if k.startswith("FunctionsStreamHandler"))
    ]
    role = handler["Properties"]["Role"]["Fn::GetAtt"][0]
    puts = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:PutItem" in _actions(s) and "LatestCheckpoint" in json.dumps(s["Resource"])
    ]
    assert len(puts) == 1 and _actions(puts[0]) == ["dynamodb:PutItem"]
    assert puts[0]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{DEFAULT_STREAM_ID}#fence#*"]}}
    assert schema.fence_id(DEFAULT_STREAM_ID, 7) == f"{DEFAULT_STREAM_ID}#fence#07"


def test_the_flow_log_role_serves_only_this_accounts_flow_logs(synth: Synth) -> None:
    _, flow_log = _one(synth, "AWS::EC2::FlowLog")
    role = synth.json["Resources"][flow_log["Properties"]["DeliverLogsPermissionArn"]["Fn::GetAtt"][0]]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert resolve_join(trust["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":<Ref:AWS::AccountId>:vpc-flow-log/*")


@pytest.mark.parametrize("mode", ["demo", "production"])
def test_the_cluster_has_no_fixed_name_and_its_audit_group_follows_it(mode: str, synth: Synth, production_synth: Synth) -> None:
    stack = synth if mode == "demo" else production_synth
    cluster, props = _one(stack, "AWS::Neptune::DBCluster")
    assert "DBClusterIdentifier" not in props["Properties"], "a fixed name blocks replacement and redeploys"
    (audit,) = [
        g
        for g in stack.resources("AWS::Logs::LogGroup").values()
        if '"/aws/neptune/' in json.dumps(g["Properties"].get("LogGroupName", ""))
    ]
    assert resolve_join(audit["Properties"]["LogGroupName"]) == f"/aws/neptune/<Ref:{cluster}>/audit"
    # Created before any instance can write an audit log, so Neptune never creates it first.
    audit_id = next(k for k, v in stack.json["Resources"].items() if v is audit)
    for instance in stack.resources("AWS::Neptune::DBInstance").values():
        assert audit_id in instance["DependsOn"]
    assert stack.json["Outputs"][Output.CLUSTER_IDENTIFIER]["Value"] == {"Ref": cluster}


def test_the_engine_version_is_pinned_and_never_upgraded_behind_the_templates_back(synth: Synth) -> None:
    _, cluster = _one(synth, "AWS::Neptune::DBCluster")
    assert cluster["Properties"]["EngineVersion"] == PINNED.version == "1.4.7.0"
    for instance in synth.resources("AWS::Neptune::DBInstance").values():
        assert instance["Properties"]["AutoMinorVersionUpgrade"] is False


def test_a_retention_change_is_announced_with_its_reboot(synth: Synth) -> None:
    # The parameter is static: it applies only after a reboot (parameters.html).
    metadata = json.loads((synth.outdir / "NeptuneStream.metadata.json").read_text())
    infos = [entry["data"] for entries in metadata.values() for entry in entries if entry["type"] == "aws:cdk:info"]
    assert any("neptune_streams_expiry_days=7" in info and "reboot" in info for info in infos), infos


# -- the self-healing start


def _schedule(synth: Synth) -> tuple[str, dict[str, Any]]:
    return _one(synth, "AWS::Scheduler::Schedule")


def test_a_schedule_starts_the_state_machine_every_five_minutes_from_the_deploy(synth: Synth) -> None:
    name, schedule = _schedule(synth)
    props = schedule["Properties"]
    machine, _ = _one(synth, "AWS::StepFunctions::StateMachine")
    assert props["ScheduleExpression"] == "rate(5 minutes)" and props["State"] == "ENABLED"
    assert "StartDate" not in props, "no start date: the first start comes at once"
    assert props["Target"]["Arn"] == {"Ref": machine} and json.loads(props["Target"]["Input"]) == {}
    # Not before Neptune's instances answer.
    for instance in synth.resources("AWS::Neptune::DBInstance"):
        assert instance in schedule["DependsOn"]
    assert synth.json["Outputs"][Output.START_SCHEDULE]["Value"] == {"Ref": name}


def test_the_schedule_may_start_this_state_machine_only(synth: Synth) -> None:
    _, schedule = _schedule(synth)
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    trust = synth.json["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    machine, _ = _one(synth, "AWS::StepFunctions::StateMachine")
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine}}]


def test_auto_start_off_creates_the_schedule_paused_and_the_period_comes_from_context(options_synth: Synth) -> None:
    _, schedule = _schedule(options_synth)
    assert schedule["Properties"]["State"] == "DISABLED"
    assert schedule["Properties"]["ScheduleExpression"] == "rate(10 minutes)"


def test_bad_schedule_settings_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match=r"startScheduleMinutes must be 1\.\.60"):
        StackConfig(start_schedule_minutes=0)
    with pytest.raises(ValueError, match=r"powertools must be one of \('bundled', 'public-layer'\)"):
        StackConfig(powertools="docker")
    from aws_cdk import App, Stack

    stack = Stack(App(context={"neptune-stream:autoStart": "maybe"}), "S")
    with pytest.raises(ValueError, match="autoStart must be true or false, got 'maybe'"):
        StackConfig.from_context(stack)
