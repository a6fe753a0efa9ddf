"""Independent checks of the synthesized template: cdk-nag (on every synth) and cfn-lint, each shown to
reject a bad template, so a pass means something."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from tests.template.conftest import Synth

# cfn-lint 1.x has no `python -m cfnlint`: its real entry point is the console script beside this Python.
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
# cfn-lint's exit code is a bit field: 2 errors, 4 warnings, 8 informational findings; anything else
# (1: it could not run) means nothing was linted.
ERROR, WARNING, INFORMATIONAL = 2, 4, 8
# cfn-lint warnings we accept, each with its reason.
ACCEPTED_CFN_LINT = {
    # CDK adds an explicit DependsOn on a role that a GetAtt already implies; harmless and not ours to change.
    "W3005",
}


def cfn_lint(template: dict[str, Any], tmp_path: Path) -> tuple[int, list[dict[str, Any]]]:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    result = subprocess.run([str(CFN_LINT), "--format", "json", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode & ~(ERROR | WARNING | INFORMATIONAL) == 0, (
        f"cfn-lint did not run: {result.returncode} {result.stderr}"
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout)  # a JSON list, empty only when nothing was found
    levels = {"Error": ERROR, "Warning": WARNING, "Informational": INFORMATIONAL}
    assert result.returncode == _bits(levels[f["Level"]] for f in findings), "exit code and findings disagree"
    return result.returncode, findings


def _bits(values: Any) -> int:
    code = 0
    for value in values:
        code |= value
    return code


def test_cfn_lint_reports_no_errors_and_only_named_warnings(synth: Synth, tmp_path: Path) -> None:
    code, findings = cfn_lint(synth.json, tmp_path)
    assert not code & ERROR
    unexpected = [f for f in findings if f["Rule"]["Id"] not in ACCEPTED_CFN_LINT]
    assert unexpected == [], json.dumps(unexpected, indent=1)[:3000]


def test_cfn_lint_fails_on_a_broken_template(synth: Synth, tmp_path: Path) -> None:
    broken = copy.deepcopy(synth.json)
    function = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    function["Properties"]["Runtime"] = "python2.0"  # no such runtime
    table = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    del table["Properties"]["KeySchema"]  # a required property
    code, findings = cfn_lint(broken, tmp_path)
    assert code & ERROR
    errors = {f["Rule"]["Id"] for f in findings if f["Level"] == "Error"}
    assert errors >= {"E3030", "E3003"}, errors  # an allowed value, a required property


def test_cdk_nag_runs_on_every_synth_and_rejects_a_finding() -> None:
    # The real stack synthesizes (the session fixture) only because it has no unacknowledged finding;
    # the same plugin must reject a stack that has one.
    app = App()
    stack = Stack(app, "Bad")
    sg = ec2.SecurityGroup(stack, "Open", vpc=ec2.Vpc(stack, "Vpc", nat_gateways=0, max_azs=1))
    sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"AwsSolutions-EC23"):
        app.synth()
