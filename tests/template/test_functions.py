from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from neptune_capture.contract import GraphModel
from neptune_capture.schema import TableNames
from neptune_capture.settings import DEFAULT_IN_FLIGHT, MAX_IN_FLIGHT, Env, HandlerSettings
from neptune_stream.assets import constraints
from neptune_stream.config import StackConfig
from neptune_stream.layer_bundle import POWERTOOLS_VERSION
from tests.template.conftest import Synth

FUNCTIONS = ("FunctionsStatus", "FunctionsReset", "FunctionsStreamHandler")


def _function(synth: Synth, prefix: str) -> tuple[str, dict[str, Any]]:
    (item,) = [
        (k, v["Properties"])
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if k.startswith(prefix) and not k.startswith(prefix + "Logs") and "ServiceRole" not in k
    ]
    return item


def _role(synth: Synth, function_prefix: str) -> tuple[str, dict[str, Any]]:
    _, props = _function(synth, function_prefix)
    role = props["Role"]["Fn::GetAtt"][0]
    return role, synth.json["Resources"][role]


def _statements(synth: Synth, function_prefix: str) -> list[dict[str, Any]]:
    """Every statement the function's role carries: its inline policies and the policies attached to it."""
    role, resource = _role(synth, function_prefix)
    statements: list[dict[str, Any]] = []
    for inline in resource["Properties"].get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for s in statements:
        actions |= {s["Action"]} if isinstance(s["Action"], str) else set(s["Action"])
    return actions


def test_lambdas_run_latest_python_on_arm64_in_isolated_subnets(synth: Synth) -> None:
    subnets = [{"Ref": k} for k in synth.resources("AWS::EC2::Subnet")]
    for prefix in FUNCTIONS:
        _, props = _function(synth, prefix)
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert sorted(props["VpcConfig"]["SubnetIds"], key=str) == sorted(subnets, key=str)
        assert props["LoggingConfig"]["LogGroup"]["Ref"].startswith(prefix + "Logs")
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["TracingConfig"] == {"Mode": "Active"}, "traced like the state machine"
        assert len(props["Layers"]) == 1, "one layer: the capture core with Powertools bundled"


def test_each_lambda_has_its_own_role(synth: Synth) -> None:
    roles = {json.dumps(_function(synth, p)[1]["Role"]) for p in FUNCTIONS}
    assert len(roles) == 3


def test_neptune_permissions_are_the_actions_each_uses_on_this_cluster_only(synth: Synth) -> None:
    cluster = next(iter(synth.resources("AWS::Neptune::DBCluster")))
    expected = {
        "FunctionsStatus": {"neptune-db:GetEngineStatus"},
        # GetStreamRecords: the reset reads the stream first, and refuses while capture has not stored all of it.
        "FunctionsReset": {"neptune-db:ResetDatabase", "neptune-db:GetStreamRecords"},
        # GetEngineStatus: each invocation checks that Neptune Streams is on before it reads the stream.
        "FunctionsStreamHandler": {"neptune-db:GetStreamRecords", "neptune-db:GetEngineStatus"},
    }
    for prefix, actions in expected.items():
        neptune = [s for s in _statements(synth, prefix) if "neptune-db" in json.dumps(s["Action"])]
        assert len(neptune) == 1 and _actions(neptune) == actions
        resource = json.dumps(neptune[0]["Resource"])
        assert f'["{cluster}", "ClusterResourceId"]' in resource


def test_nothing_grants_neptune_db_wildcards(synth: Synth) -> None:
    for policy in synth.resources("AWS::IAM::Policy").values():
        assert "neptune-db:*" not in json.dumps(policy)


def test_stream_handler_gets_only_the_table_actions_it_uses(synth: Synth) -> None:
    dynamo = [s for s in _statements(synth, "FunctionsStreamHandler") if "dynamodb" in json.dumps(s["Action"])]
    by_table: dict[str, set[str]] = {}
    for statement in dynamo:
        table = statement["Resource"]["Fn::GetAtt"][0].split("Tables")[1][:12]
        by_table.setdefault(table, set()).update(_actions([statement]))
    assert by_table == {
        "StreamRecord": {"dynamodb:PutItem"},
        "UpdateHistor": {"dynamodb:PutItem"},
        # The fence slots are checked inside transactions (ConditionCheck) and rewritten (Put, only they:
        # tests/template/test_correct_in_aws.py).
        "LatestCheckp": {"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
    }
    assert not _actions(_statements(synth, "FunctionsStatus")) & {"dynamodb:PutItem", "dynamodb:GetItem"}


DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    "anchor",
    [
        "plus exactly the item actions it uses:",  # what the stack creates
        "must allow the stream handler's role",  # an existing cluster's own DynamoDB endpoint
    ],
)
def test_the_docs_name_every_table_action_the_stream_handler_has(synth: Synth, anchor: str) -> None:
    """An operator writes their endpoint policy (or reviews the role) from these passages of the docs
    (docs/architecture.md, docs/existing-cluster.md)."""
    dynamo = [s for s in _statements(synth, "FunctionsStreamHandler") if "dynamodb" in json.dumps(s["Action"])]
    readme = " ".join(" ".join((DOCS / page).read_text() for page in ("architecture.md", "existing-cluster.md")).split())
    start = readme.index(anchor)
    passage = readme[start : readme.index(")", readme.index("checkpoint", start))]
    missing = {a for a in _actions(dynamo) if f"`{a.removeprefix('dynamodb:')}`" not in passage and f"`{a}`" not in passage}
    assert not missing, f"docs passage {passage!r} does not name {sorted(missing)}"


def test_reset_talks_to_the_writer_endpoint(synth: Synth) -> None:
    cluster = next(iter(synth.resources("AWS::Neptune::DBCluster")))
    _, props = _function(synth, "FunctionsReset")
    endpoint = json.dumps(props["Environment"]["Variables"]["NEPTUNE_ENDPOINT"])
    assert f'["{cluster}", "Endpoint"]' in endpoint and "ReadEndpoint" not in endpoint


def test_log_groups_have_retention(synth: Synth) -> None:
    for group in synth.resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 30


def _powertools_parameters(synth: Synth) -> list[str]:
    parameters = synth.json.get("Parameters", {})
    return [p["Default"] for p in parameters.values() if str(p.get("Default", "")).startswith("/aws/service/powertools")]


def test_powertools_ships_in_the_projects_layer_by_default(synth: Synth) -> None:
    # No public SSM parameter to resolve: nothing depends on the regions its publisher writes it in.
    assert _powertools_parameters(synth) == []
    (layer,) = synth.resources("AWS::Lambda::LayerVersion").values()
    shipped = synth.outdir / layer["Metadata"]["aws:asset:path"] / "python"
    assert (shipped / f"aws_lambda_powertools-{POWERTOOLS_VERSION}.dist-info").is_dir()
    assert (shipped / "aws_lambda_powertools" / "logging" / "logger.py").is_file()
    assert (shipped / "neptune_capture" / "contract.py").is_file()
    assert POWERTOOLS_VERSION in layer["Properties"]["Description"]


def test_the_public_powertools_layer_is_an_option_at_the_pinned_version(options_synth: Synth) -> None:
    assert _powertools_parameters(options_synth) == ["/aws/service/powertools/python/arm64/python3.14/3.37.0"]
    for prefix in FUNCTIONS:
        assert len(_function(options_synth, prefix)[1]["Layers"]) == 2
    (layer,) = options_synth.resources("AWS::Lambda::LayerVersion").values()
    shipped = options_synth.outdir / layer["Metadata"]["aws:asset:path"] / "python"
    assert sorted(p.name for p in shipped.iterdir()) == ["neptune_capture"]


def test_the_bundled_powertools_is_the_one_the_project_pins() -> None:
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in constraints().read_text().splitlines()
        if "==" in line
    }
    assert pins["aws-lambda-powertools"] == POWERTOOLS_VERSION


def test_an_idle_stream_handler_polls_again_within_a_second(synth: Synth) -> None:
    _, props = _function(synth, "FunctionsStreamHandler")
    env = props["Environment"]["Variables"]
    assert (float(env["IDLE_BASE_SECONDS"]), float(env["MAX_IDLE_WAIT_SECONDS"])) == (0.1, 1.0)
    with pytest.raises(ValueError, match="neptune-stream:idleBaseSeconds and neptune-stream:maxIdleWaitSeconds must satisfy"):
        StackConfig(idle_base_seconds=2, max_idle_wait_seconds=1)


def test_the_stream_handler_pipelines_the_measured_best_number_of_transactions(synth: Synth) -> None:
    _, props = _function(synth, "FunctionsStreamHandler")
    assert props["Environment"]["Variables"]["IN_FLIGHT"] == str(DEFAULT_IN_FLIGHT)
    with pytest.raises(ValueError, match=f"inFlight must be 1..{MAX_IN_FLIGHT}, got 0"):
        StackConfig(in_flight=0)
    with pytest.raises(ValueError, match=f"IN_FLIGHT must be 1..{MAX_IN_FLIGHT}, got {MAX_IN_FLIGHT + 1}"):
        HandlerSettings(tables=TableNames("r", "h", "c"), neptune_endpoint="x", in_flight=MAX_IN_FLIGHT + 1)


def test_the_graph_model_reaches_the_stream_handler_and_changes_no_permission(synth: Synth, rdf_synth: Synth) -> None:
    _, props = _function(synth, "FunctionsStreamHandler")
    _, rdf_props = _function(rdf_synth, "FunctionsStreamHandler")
    assert props["Environment"]["Variables"][Env.GRAPH_MODEL] == GraphModel.PROPERTY_GRAPH
    assert rdf_props["Environment"]["Variables"][Env.GRAPH_MODEL] == GraphModel.RDF
    # GetSparqlStream is authorized by the same action as GetPropertygraphStream (neptune-db:GetStreamRecords).
    assert _actions(_statements(rdf_synth, "FunctionsStreamHandler")) == _actions(_statements(synth, "FunctionsStreamHandler"))
    with pytest.raises(ValueError, match=r"neptune-stream:graphModel must be one of propertygraph, rdf, got 'sparql'"):
        StackConfig.from_context(App(context={"neptune-stream:graphModel": "sparql"}))
    assert StackConfig.from_context(App(context={"neptune-stream:graphModel": "RDF"})).graph_model == GraphModel.RDF
