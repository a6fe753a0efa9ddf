"""What bites the first deploy in a real account (issue 20), checked on the synthesized templates against the
AWS page each finding cites: the state machine's log group, the schedule's first firing, alarm delivery
through the encrypted topic, least privilege on the checkpoint table, the Poll and ContinueAsNew retries,
the engine's life, and alarms that page a person only for what needs one."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match

from neptune_capture.contract import DEFAULT_STREAM_ID
from neptune_stream import graph, pins
from neptune_stream.defaults import Defaults
from neptune_stream.functions import ARCHITECTURE, RUNTIME, STREAM_HANDLER_TIMEOUT
from tests.template.conftest import Synth, resolve_join

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}
# Every DynamoDB action that writes an item
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html, access level
# "Write"); ConditionCheckItem writes nothing but lets a transaction depend on an item, so it is held to the
# same keys.
WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:ConditionCheckItem",
    "dynamodb:*",
}
FENCE_SLOTS = f"{DEFAULT_STREAM_ID}#fence#*"


def _one(synth: Synth, cfn_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = synth.resources(cfn_type).items()
    return item


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _identity_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every identity-policy statement: AWS::IAM::Policy and inline role policies."""
    found: list[tuple[str, dict[str, Any]]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        for role in policy["Properties"].get("Roles", []):
            found += [(role["Ref"], s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    for role_id, role in synth.resources("AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            found += [(role_id, s) for s in inline["PolicyDocument"]["Statement"]]
    return found


def _checkpoint_table(synth: Synth) -> str:
    (table,) = [k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith("TablesLatestCheckpoint")]
    return table


def _on_table(statement: dict[str, Any], table: str) -> bool:
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return any(r == "*" or table in json.dumps(r) for r in resources)


# -- 1. The state machine's log group


@pytest.mark.parametrize("which", ["synth", "existing_synth"])
def test_the_state_machine_logs_to_a_vended_log_group_named_per_stack(which: str, request: pytest.FixtureRequest) -> None:
    # Step Functions adds a log group to the account's CloudWatch Logs resource policy (5,120 characters at
    # most) unless it is named under /aws/vendedlogs/ (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html).
    synth: Synth = request.getfixturevalue(which)
    _, machine = _one(synth, "AWS::StepFunctions::StateMachine")
    (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    name = synth.json["Resources"][group_id]["Properties"]["LogGroupName"]
    flat = json.dumps(name)
    assert flat.startswith('{"Fn::Join"'), name
    joined = name["Fn::Join"][1]
    assert joined[0].startswith("/aws/vendedlogs/states/"), joined
    # The stack's name and the id CloudFormation gives this very stack: a second stack, or the same one
    # deployed again after a destroy that retained the old group, never collides with it.
    assert '"AWS::StackName"' in flat and '"AWS::StackId"' in flat, name


# -- 2. The schedule after its permission


@pytest.mark.parametrize("which", ["synth", "existing_synth"])
def test_the_schedule_is_created_after_its_role_and_the_role_s_policy(which: str, request: pytest.FixtureRequest) -> None:
    # A rate schedule without a start date "starts invoking the target immediately"
    # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html): its role must already
    # carry states:StartExecution, which CloudFormation only guarantees through DependsOn
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html).
    synth: Synth = request.getfixturevalue(which)
    _, schedule = _one(synth, "AWS::Scheduler::Schedule")
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    policies = [k for k, p in synth.resources("AWS::IAM::Policy").items() if {"Ref": role_id} in p["Properties"]["Roles"]]
    assert policies, "the scheduler role has its StartExecution policy"
    depends = schedule.get("DependsOn", [])
    for needed in [role_id, *policies]:
        assert needed in depends, f"{needed} not in DependsOn {depends}"


# -- 3. Alarm delivery through the KMS-encrypted topic


def test_the_alarm_key_lets_cloudwatch_use_it_as_the_sns_guide_says(synth: Synth) -> None:
    # The SNS guide's key policy statement for AWS service publishers: the service principal,
    # kms:GenerateDataKey* and kms:Decrypt, no condition
    # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services). No page
    # says CloudWatch sends aws:SourceAccount or aws:SourceArn on that KMS call: a condition on them could drop
    # every notification without a trace.
    _, key = _one(synth, "AWS::KMS::Key")
    (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == CLOUDWATCH]
    assert set(_actions(statement)) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "Condition" not in statement, statement["Condition"]


# -- 4. Least privilege that holds on the checkpoint table


@pytest.mark.parametrize("which", ["synth", "rdf_synth", "existing_synth"])
def test_no_write_action_on_the_checkpoint_table_is_unconditioned(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    table = _checkpoint_table(synth)
    writes = [
        (role, s)
        for role, s in _identity_statements(synth)
        if s["Effect"] == "Allow" and set(_actions(s)) & WRITE_ACTIONS and _on_table(s, table)
    ]
    assert writes, "some role writes the checkpoint table"
    for role, statement in writes:
        keys = statement.get("Condition", {})
        assert any("dynamodb:LeadingKeys" in values for op, values in keys.items() if op.startswith("ForAllValues:")), (
            f"{role} may {_actions(statement)} any item of the checkpoint table"
        )


def _leading_keys(synth: Synth, role_prefix: str) -> dict[str, list[str] | None]:
    """Each checkpoint-table action of the role, with the keys it is limited to."""
    table = _checkpoint_table(synth)
    found: dict[str, list[str] | None] = {}
    for role, statement in _identity_statements(synth):
        if role.startswith(role_prefix) and _on_table(statement, table):
            condition = statement.get("Condition", {})
            keys = next((v["dynamodb:LeadingKeys"] for v in condition.values() if "dynamodb:LeadingKeys" in v), None)
            for action in _actions(statement):
                if action.startswith("dynamodb:"):
                    found[action] = keys
    return found


def test_the_handler_writes_only_the_checkpoint_item_and_the_fence_slots(synth: Synth) -> None:
    # store.py: the lease and every checkpoint move are UpdateItems of the stream's item (key streamId);
    # transactions ConditionCheck that item (taking the lease) or a fence slot (data); Put rewrites the
    # fence slots (schema.fence_id). GetItem reads the checkpoint item only.
    assert _leading_keys(synth, "FunctionsStreamHandlerRole") == {
        "dynamodb:UpdateItem": [DEFAULT_STREAM_ID],
        "dynamodb:GetItem": [DEFAULT_STREAM_ID],
        "dynamodb:ConditionCheckItem": [DEFAULT_STREAM_ID, FENCE_SLOTS],
        "dynamodb:PutItem": [FENCE_SLOTS],
    }


def test_the_state_machine_updates_only_the_checkpoint_item(synth: Synth) -> None:
    # RecordFailure and ReleaseLease: UpdateItems of the stream's checkpoint item, run under the state
    # machine's role (https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html).
    machine_role = _one(synth, "AWS::StepFunctions::StateMachine")[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert _leading_keys(synth, machine_role) == {"dynamodb:UpdateItem": [DEFAULT_STREAM_ID]}


def test_the_status_function_touches_no_table(synth: Synth) -> None:
    for role, statement in _identity_statements(synth):
        if role.startswith("FunctionsStatusRole"):
            assert not any(a.startswith("dynamodb:") for a in _actions(statement)), (role, statement)


def test_the_reset_function_reads_and_updates_only_the_checkpoint_item(synth: Synth) -> None:
    # It opens the next capture generation (docs/reset-and-generations.md): the checkpoint item and a RESET
    # history item, nothing else.
    assert _leading_keys(synth, "FunctionsResetRole") == {
        "dynamodb:GetItem": [DEFAULT_STREAM_ID],
        "dynamodb:UpdateItem": [DEFAULT_STREAM_ID],
    }


def test_the_dynamodb_endpoint_admits_each_function_that_uses_a_table(synth: Synth) -> None:
    # The gateway endpoint's policy names each principal (aws:PrincipalArn): a role it does not name is
    # refused there whatever its own policy says (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-ddb.html).
    (endpoint,) = [e for e in synth.resources("AWS::EC2::VPCEndpoint").values() if "PolicyDocument" in e["Properties"]]
    admitted = {
        s["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Fn::GetAtt"][0]
        for s in endpoint["Properties"]["PolicyDocument"]["Statement"]
    }
    users = {role for role, s in _identity_statements(synth) if any(a.startswith("dynamodb:") for a in _actions(s))}
    machine_role = _one(synth, "AWS::StepFunctions::StateMachine")[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    # The state machine's DynamoDB tasks are called by Step Functions itself, not from the VPC.
    assert users - {machine_role} == admitted


# -- 5. The Poll task's timeout, ContinueAsNew's retries


@pytest.fixture(scope="module")
def definition(synth: Synth) -> dict[str, Any]:
    _, sm = _one(synth, "AWS::StepFunctions::StateMachine")
    parsed: dict[str, Any] = json.loads(resolve_join(sm["Properties"]["DefinitionString"]))
    return parsed


def test_the_poll_task_times_out_after_the_function_would(synth: Synth, definition: dict[str, Any]) -> None:
    # Without TimeoutSeconds a task waits as long as the execution runs ("Use timeouts to avoid stuck
    # executions", https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html): the retried
    # States.Timeout could never happen. Above the function's timeout, so Lambda ends a slow invocation first.
    handler = next(v for k, v in synth.resources("AWS::Lambda::Function").items() if k.startswith("FunctionsStreamHandler"))
    function_timeout = handler["Properties"]["Timeout"]
    assert function_timeout == STREAM_HANDLER_TIMEOUT.to_seconds()
    poll = definition["States"]["Poll"]
    assert function_timeout < poll["TimeoutSeconds"] <= function_timeout + 120, poll.get("TimeoutSeconds")
    assert any("States.Timeout" in r["ErrorEquals"] for r in poll["Retry"])


def test_continue_as_new_retries_only_what_is_transient(definition: dict[str, Any]) -> None:
    # StartExecution's errors (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html):
    # ExecutionLimitExceeded and throttling pass; an access denial, a deleted state machine or a bad input
    # do not, and retrying them six times only delays the failure an operator must see.
    retries = definition["States"]["ContinueAsNew"]["Retry"]
    errors = {e for r in retries for e in r["ErrorEquals"]}
    assert not errors & {"States.ALL", "States.TaskFailed", "StepFunctions.AWSStepFunctionsException"}, errors
    assert "StepFunctions.ExecutionLimitExceededException" in errors and "StepFunctions.SdkClientException" in errors


# -- 6. The engine version and its end of life


def test_the_pinned_engine_is_the_supported_one_with_the_longest_life(synth: Synth) -> None:
    _, cluster = _one(synth, "AWS::Neptune::DBCluster")
    pinned = cluster["Properties"]["EngineVersion"]
    release = pins.ENGINE_RELEASES[pinned]
    assert release.end_of_life is not None and release.page.startswith("https://docs.aws.amazon.com/neptune/")
    usable = [r for r in pins.ENGINE_RELEASES.values() if r.end_of_life is not None]
    assert release.end_of_life == max(r.end_of_life for r in usable if r.end_of_life is not None)
    assert release.end_of_life > date(2027, 3, 6), "1.4.6.1 and older end on 2027-03-06"
    _, parameters = _one(synth, "AWS::Neptune::DBClusterParameterGroup")
    assert parameters["Properties"]["Family"] == release.family


def test_the_runtime_preflight_checks_is_the_one_the_functions_use(synth: Synth) -> None:
    assert (RUNTIME.name, ARCHITECTURE.name) == (pins.LAMBDA_RUNTIME, pins.LAMBDA_ARCHITECTURE)
    for function in synth.resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Runtime"] == pins.LAMBDA_RUNTIME
        assert function["Properties"]["Architectures"] == [pins.LAMBDA_ARCHITECTURE]


def _graph_stack(today: date) -> Stack:
    app = App()
    stack = Stack(app, "EngineLife")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    group = ec2.SecurityGroup(stack, "Clients", vpc=vpc)
    graph.Graph(
        stack,
        "Graph",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        client_security_group=group,
        instance_class="db.r6g.large",
        streams_expiry_days=7,
        defaults=Defaults(),
        today=today,
    )
    return stack


def test_a_synth_warns_when_the_pinned_engine_ends_within_six_months() -> None:
    end = pins.ENGINE_RELEASES[pins.PINNED.version].end_of_life
    assert end is not None
    near = Annotations.from_stack(_graph_stack(date(end.year, end.month, 1)))
    near.has_warning("/EngineLife/Graph/Cluster", Match.string_like_regexp(f"ends on {end.isoformat()}.*neptune_stream/pins.py"))
    far = Annotations.from_stack(_graph_stack(date(end.year - 1, end.month, 1)))
    assert not far.find_warning("*", Match.string_like_regexp("ends on"))


# -- 7. Alarms page a person only for what needs one


@pytest.mark.parametrize("which", ["synth", "existing_synth"])
def test_no_alarm_fires_on_the_retried_errors_of_the_first_minutes(which: str, request: pytest.FixtureRequest) -> None:
    # The stream handler's 403s while an IAM change reaches Neptune ("up to 10 minutes",
    # https://docs.aws.amazon.com/neptune/latest/userguide/iam-dp-actions.html) are Lambda Errors that Poll
    # retries; an alarm on them pages a person for nothing after every first deploy.
    synth: Synth = request.getfixturevalue(which)
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        metrics = json.dumps(alarm["Properties"])
        assert '"AWS/Lambda"' not in metrics, f"{name} alarms on a Lambda metric: {metrics}"
    watched = json.dumps(alarms)
    # What needs a person stays: an execution that failed for good, nothing polling.
    assert '"ExecutionsFailed"' in watched and '"PollingInvocations"' in watched
