"""The architecture picture (docs/images/architecture.svg, shown by the README and docs/architecture.md) is
drawn from the synthesized template by neptune_stream/diagram.py, and the committed file is what it draws
from today's template."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from neptune_capture.contract import STACK_NAME
from neptune_stream.diagram import architecture, readable, references, render_svg
from tests.cli_entry import refusal_of_module
from tests.template.conftest import Synth

ROOT = Path(__file__).resolve().parents[2]
PICTURE = ROOT / "docs" / "images" / "architecture.svg"
SVG = "{http://www.w3.org/2000/svg}"


def _by_type(synth: Synth, cfn_type: str) -> set[str]:
    return set(synth.resources(cfn_type))


def test_the_picture_holds_the_main_resources_and_the_references_between_them(synth: Synth) -> None:
    arch = architecture(synth.json)
    members = {m: n.key for n in arch.nodes for m in n.members}
    for cfn_type in (
        "AWS::StepFunctions::StateMachine",
        "AWS::Lambda::Function",
        "AWS::DynamoDB::Table",
        "AWS::Neptune::DBCluster",
    ):
        assert _by_type(synth, cfn_type) <= set(members), cfn_type
    (schedule,) = _by_type(synth, "AWS::Scheduler::Schedule")
    (machine,) = _by_type(synth, "AWS::StepFunctions::StateMachine")
    (cluster,) = _by_type(synth, "AWS::Neptune::DBCluster")
    handler = next(f for f in _by_type(synth, "AWS::Lambda::Function") if f.startswith("FunctionsStreamHandler"))
    edges = set(arch.edges)
    assert (members[schedule], members[machine]) in edges
    assert (members[machine], members[handler]) in edges
    assert (members[handler], members[cluster]) in edges
    for table in _by_type(synth, "AWS::DynamoDB::Table"):
        assert (members[handler], members[table]) in edges, table
    # Every arrow points to a later column: the layers are a topological order.
    layer = {n.key: n.layer for n in arch.nodes}
    assert all(layer[a] < layer[b] for a, b in arch.edges)
    # Many alarms alike become one node that names how many it holds.
    alarms = _by_type(synth, "AWS::CloudWatch::Alarm")
    assert len({members[a] for a in alarms}) < len(alarms)


def test_the_svg_draws_one_box_per_node_and_one_path_per_reference(synth: Synth) -> None:
    arch = architecture(synth.json, "title")
    root = ET.fromstring(render_svg(arch))
    assert len(root.findall(f"{SVG}g")) == len(arch.nodes)
    assert len(root.findall(f"{SVG}path")) == len(arch.edges)


def test_the_committed_picture_is_drawn_from_todays_template(synth: Synth) -> None:
    drawn = render_svg(architecture(synth.json, f"{STACK_NAME}: main resources"))
    assert PICTURE.read_text() == drawn, "docs/images/architecture.svg is stale: run `make diagram` and commit it"


def test_references_are_found_in_every_form_a_template_writes_them() -> None:
    value = {
        "A": {"Ref": "One"},
        "B": {"Fn::GetAtt": ["Two", "Arn"]},
        "C": {"Fn::GetAtt": "Three.Endpoint"},
        "D": {"Fn::Sub": "arn:${Four}:${Five.Arn}:${AWS::Region}:${!Literal}"},
        "E": {"Fn::Sub": ["${x}", {"x": {"Ref": "Six"}}]},
        "F": [{"Fn::Join": ["", [{"Ref": "Seven"}]]}],
    }
    assert set(references(value)) == {"One", "Two", "Three", "Four", "Five", "AWS::Region", "x", "Six", "Seven"}
    assert readable("FunctionsStreamHandler1A2B3C4D") == "FunctionsStreamHandler"


def test_the_cdks_own_custom_resource_providers_are_left_out() -> None:
    """The CDK adds a function for its own custom resources (cdk.json's restrictDefaultSecurityGroup flag
    adds one): plumbing, and absent from a synth without that flag, so the picture leaves it out."""
    template = {
        "Resources": {
            "Handler": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "index.handler"}},
            "Provider": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "__entrypoint__.handler"}},
        }
    }
    assert [n.key for n in architecture(template).nodes] == ["Handler"]


def test_a_template_without_resources_is_refused_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="no Resources"):
        architecture({"Outputs": {}})
    with pytest.raises(ValueError, match="none of the resources"):
        architecture({"Resources": {"Role": {"Type": "AWS::IAM::Role"}}})


def test_the_command_says_what_is_wrong_and_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "Broken.template.json"
    bad.write_text(json.dumps({"Resources": {}}))
    problem, _ = refusal_of_module("neptune_stream.diagram", str(bad), str(tmp_path / "out.svg"))
    assert "no Resources" in problem
    assert not (tmp_path / "out.svg").exists()
