"""Independent checks of the synthesized template: cdk-nag (on every synth), cfn-lint and checkov, each
shown to reject a bad template, so a pass means something."""

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
CHECKOV = Path(sys.executable).with_name("checkov")
# cfn-lint's exit code is a bit field: 2 errors, 4 warnings, 8 informational findings; anything else
# (1: it could not run) means nothing was linted.
ERROR, WARNING, INFORMATIONAL = 2, 4, 8
# cfn-lint warnings we accept, each with its reason.
ACCEPTED_CFN_LINT = {
    # CDK adds an explicit DependsOn on a role that a GetAtt already implies; harmless and not ours to change.
    "W3005",
}


# checkov findings we accept, each with its reason (as cdk-nag acknowledgements are); skipped by id.
ACCEPTED_CHECKOV = {
    "CKV_AWS_158": "log groups are encrypted at rest by CloudWatch Logs itself ('Log group data is always encrypted "
    "in CloudWatch Logs': https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html); they hold "
    "log lines and flow records, not captured graph data, and a customer key per group adds a key policy and its cost",
    "CKV_AWS_119": "the tables are encrypted with the AWS managed KMS key (SSESpecification SSEEnabled); a customer "
    "managed key would add its own policy, rotation and a per-request KMS cost for no reader the managed key admits",
    "CKV_AWS_116": "the functions are invoked synchronously (Step Functions, the CLI); a dead-letter queue only "
    "receives failed asynchronous invocations "
    "(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html): a failed Poll is "
    "recorded on the checkpoint item and raises the StateMachineStopped alarm instead",
    "CKV_AWS_115": "reserved concurrency would be taken from the account's pool for good; one poller runs at a time by "
    "its lease, and a throttled invocation is retried by the state machine (Lambda.TooManyRequestsException)",
    "CKV_AWS_173": "the variables hold table names, an endpoint and tuning numbers, no secret; Lambda encrypts them at "
    "rest with its AWS managed key",
    "CKV_AWS_111": "the network-interface actions of a VPC function, which Lambda documents on resource '*' "
    "(https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html); every other write is on named resources",
}


def checkov(template: dict[str, Any], tmp_path: Path, skip: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """checkov through its console script, offline (--skip-download: no platform calls), on one template."""
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    command = [
        str(CHECKOV),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
        "-f",
        str(path),
    ]
    if skip:
        command += ["--skip-check", ",".join(skip)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # checkov exits 1 when a check failed, 0 when none did; anything else (or no JSON) means it did not run.
    assert result.returncode in (0, 1), f"checkov did not run: {result.returncode} {result.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["summary"]["resource_count"] > 0, "checkov scanned nothing"
    assert (result.returncode == 1) == bool(report["results"]["failed_checks"]), "exit code and findings disagree"
    return result.returncode, report


def test_checkov_passes_with_only_named_skips(synth: Synth, tmp_path: Path) -> None:
    code, report = checkov(synth.json, tmp_path, ACCEPTED_CHECKOV)
    failed = [(f["check_id"], f["resource"], f["check_name"]) for f in report["results"]["failed_checks"]]
    assert failed == [] and code == 0
    assert report["summary"]["passed"] > 100
    # Every accepted check still applies to this template: none is a stale skip.
    _, unskipped = checkov(synth.json, tmp_path, {})
    assert {f["check_id"] for f in unskipped["results"]["failed_checks"]} == set(ACCEPTED_CHECKOV)


def test_checkov_passes_on_the_existing_cluster_stack_with_the_same_skips(existing_synth: Synth, tmp_path: Path) -> None:
    code, report = checkov(existing_synth.json, tmp_path, ACCEPTED_CHECKOV)
    failed = [(f["check_id"], f["resource"], f["check_name"]) for f in report["results"]["failed_checks"]]
    assert failed == [] and code == 0


def test_checkov_fails_on_a_bad_template(synth: Synth, tmp_path: Path) -> None:
    broken = copy.deepcopy(synth.json)
    table = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    del table["Properties"]["PointInTimeRecoverySpecification"]  # no backups
    cluster = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::Neptune::DBCluster")
    cluster["Properties"]["StorageEncrypted"] = False
    code, report = checkov(broken, tmp_path, ACCEPTED_CHECKOV)
    assert code == 1
    failed = {f["check_id"] for f in report["results"]["failed_checks"]}
    assert failed == {"CKV_AWS_28", "CKV_AWS_44"}, failed  # DynamoDB point-in-time recovery, Neptune encryption


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


def test_cfn_lint_passes_on_the_existing_cluster_stack(existing_synth: Synth, tmp_path: Path) -> None:
    # Its Rules section included: the region assertion is checked like any other part of the template.
    code, findings = cfn_lint(existing_synth.json, tmp_path)
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
