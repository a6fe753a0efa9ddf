"""`neptune-stream preflight` against botocore's Stubber: each check's request as AWS's API takes it (the Stubber
validates parameters against the service model), each answer as AWS gives it, and the line a person reads."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from neptune_cli import main as cli
from neptune_cli.commands import preflight as p
from neptune_entry.errors import CheckFailedError, UsageError
from neptune_entry.exit_codes import ExitCode
from neptune_stream import existing_spec
from neptune_stream.pins import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, PINNED

REGION = "us-east-1"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "existing-cluster.json"
SPEC = existing_spec.load(str(EXAMPLE))


class Stubs:
    """One stubbed client per service preflight calls, and the Clients it is handed."""

    def __init__(self) -> None:
        names = {
            "neptune": "neptune",
            "ssm": "ssm",
            "cloudformation": "cloudformation",
            "lambda_": "lambda",
            "ec2": "ec2",
            "service_quotas": "service-quotas",
        }
        made = {field: boto3.client(service, region_name=REGION) for field, service in names.items()}  # type: ignore[call-overload]
        self.stubbers = {field: Stubber(client) for field, client in made.items()}
        for stubber in self.stubbers.values():
            stubber.activate()
        self.clients = p.Clients(**made)

    def __getattr__(self, field: str) -> Stubber:
        stubbers: dict[str, Stubber] = self.__dict__["stubbers"]
        return stubbers[field]

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs() -> Stubs:
    return Stubs()


PLAN = p.Plan(region=REGION, instance_class="db.r6g.large")


def engine_ok(s: Stubs) -> None:
    s.neptune.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": [{"Engine": "neptune", "EngineVersion": PINNED.version}]},
        {"Engine": "neptune", "EngineVersion": PINNED.version},
    )


def instance_ok(s: Stubs, options: list[dict[str, Any]] | None = None) -> None:
    s.neptune.add_response(
        "describe_orderable_db_instance_options",
        {
            "OrderableDBInstanceOptions": options
            if options is not None
            else [{"DBInstanceClass": "db.r6g.large", "AvailabilityZones": [{"Name": "us-east-1a"}, {"Name": "us-east-1b"}]}]
        },
        {"Engine": "neptune", "EngineVersion": PINNED.version, "DBInstanceClass": "db.r6g.large", "Vpc": True},
    )


def vpcs_ok(s: Stubs, used: int = 1, quota: float = 5.0) -> None:
    s.ec2.add_response("describe_vpcs", {"Vpcs": [{"VpcId": f"vpc-{i:017x}"} for i in range(used)]}, {})
    s.service_quotas.add_response(
        "get_service_quota", {"Quota": {"Value": quota}}, {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"}
    )


def bootstrap_ok(s: Stubs, version: str = "28") -> None:
    s.ssm.add_response("get_parameter", {"Parameter": {"Value": version}}, {"Name": "/cdk-bootstrap/hnb659fds/version"})


def lambda_ok(s: Stubs, unreserved: int = 990) -> None:
    s.lambda_.add_response(
        "list_layers",
        {"Layers": []},
        {"CompatibleRuntime": LAMBDA_RUNTIME, "CompatibleArchitecture": LAMBDA_ARCHITECTURE, "MaxItems": 1},
    )
    s.lambda_.add_response(
        "get_account_settings", {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": unreserved}}, {}
    )


def by_name(checks: list[p.Check]) -> dict[str, p.Check]:
    return {c.name: c for c in checks}


def test_a_ready_account_passes_every_check_with_one_line_each(stubs: Stubs) -> None:
    engine_ok(stubs)
    instance_ok(stubs)
    vpcs_ok(stubs)
    bootstrap_ok(stubs)
    lambda_ok(stubs)
    checks = p.run_checks(stubs.clients, PLAN)
    stubs.done()
    assert [c.name for c in checks] == [
        "neptune engine",
        "neptune instance class",
        "vpc quota",
        "cdk bootstrap",
        "lambda runtime",
        "lambda concurrency",
    ]
    assert all(c.ok for c in checks), checks
    assert all(len(c.lines()) == 1 and c.lines()[0].startswith("ok ") for c in checks)
    assert "us-east-1a, us-east-1b" in by_name(checks)["neptune instance class"].detail
    p.verdict(checks)  # no problem: no failure


def test_a_region_without_the_engine_or_the_class_says_so_and_what_next(stubs: Stubs) -> None:
    stubs.neptune.add_response(
        "describe_db_engine_versions", {"DBEngineVersions": []}, {"Engine": "neptune", "EngineVersion": PINNED.version}
    )
    instance_ok(stubs, options=[])
    vpcs_ok(stubs)
    bootstrap_ok(stubs)
    lambda_ok(stubs)
    checks = by_name(p.run_checks(stubs.clients, PLAN))
    engine, klass = checks["neptune engine"], checks["neptune instance class"]
    assert not engine.ok and f"does not offer Neptune {PINNED.version}" in engine.detail
    assert not klass.ok and "instanceClass" in (klass.next_step or "")
    problem_lines = engine.lines()
    assert problem_lines[0].startswith("problem ") and problem_lines[1].strip().startswith("next: ")
    with pytest.raises(CheckFailedError, match="2 of 6 checks found a problem: neptune engine, neptune instance class") as failed:
        p.verdict(list(checks.values()))
    assert failed.value.code == ExitCode.CHECK_FAILED


def test_an_account_not_bootstrapped_is_told_to_bootstrap(stubs: Stubs) -> None:
    stubs.ssm.add_client_error("get_parameter", "ParameterNotFound")
    check = p.cdk_bootstrap(stubs.clients, PLAN)
    assert not check.ok and "not bootstrapped" in check.detail and "cdk bootstrap" in (check.next_step or "")


def test_an_old_bootstrap_is_a_problem_and_the_stack_answers_when_ssm_is_refused(stubs: Stubs) -> None:
    bootstrap_ok(stubs, version="5")
    old = p.cdk_bootstrap(stubs.clients, PLAN)
    assert not old.ok and "needs 6 or later" in old.detail
    stubs.ssm.add_client_error("get_parameter", "AccessDeniedException")
    stubs.cloudformation.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "CDKToolkit",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": "BootstrapVersion", "OutputValue": "28"}],
                }
            ]
        },
        {"StackName": "CDKToolkit"},
    )
    fallback = p.cdk_bootstrap(stubs.clients, PLAN)
    assert fallback.ok and "CDKToolkit" in fallback.detail
    stubs.done()


def test_a_full_vpc_quota_and_no_concurrency_are_problems(stubs: Stubs) -> None:
    vpcs_ok(stubs, used=5, quota=5.0)
    vpcs = p.vpc_quota(stubs.clients, PLAN)
    assert not vpcs.ok and "5 of 5 VPCs" in vpcs.detail and "existingCluster" in (vpcs.next_step or "")
    stubs.lambda_.add_response(
        "get_account_settings", {"AccountLimit": {"ConcurrentExecutions": 2, "UnreservedConcurrentExecutions": 2}}, {}
    )
    assert not p.lambda_concurrency(stubs.clients, PLAN).ok


def test_service_quotas_refused_falls_back_to_the_documented_default(stubs: Stubs) -> None:
    stubs.ec2.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-00000000000000001"}]}, {})
    stubs.service_quotas.add_client_error("get_service_quota", "AccessDeniedException")
    check = p.vpc_quota(stubs.clients, PLAN)
    assert check.ok and "1 of 5" in check.detail and "default" in check.detail


def test_a_runtime_lambda_refuses_is_a_problem(stubs: Stubs) -> None:
    stubs.lambda_.add_client_error("list_layers", "InvalidParameterValueException")
    check = p.lambda_runtime(stubs.clients, PLAN)
    assert not check.ok and LAMBDA_RUNTIME in check.detail


def test_a_refused_check_is_reported_and_the_others_still_run(stubs: Stubs) -> None:
    stubs.neptune.add_client_error("describe_db_engine_versions", "AccessDenied", "not allowed")
    check = p.engine_offered(stubs.clients, PLAN)
    assert not check.ok and "could not check (AccessDenied" in check.detail
    assert "neptune:DescribeDBEngineVersions" in (check.next_step or "")


def test_rejected_credentials_end_every_check(stubs: Stubs) -> None:
    from botocore.exceptions import ClientError

    stubs.neptune.add_client_error("describe_db_engine_versions", "ExpiredToken")
    with pytest.raises(ClientError):
        p.engine_offered(stubs.clients, PLAN)


# -- an existing cluster


def cluster(**overrides: Any) -> dict[str, Any]:
    described = {
        "DBClusterIdentifier": SPEC.identifier,
        "DbClusterResourceId": SPEC.resource_id,
        "Endpoint": SPEC.endpoint,
        "ReaderEndpoint": SPEC.reader_endpoint,
        "EngineVersion": "1.4.6.1",
        "Status": "available",
        "IAMDatabaseAuthenticationEnabled": True,
        "DBClusterParameterGroup": "their-params",
        "VpcSecurityGroups": [{"VpcSecurityGroupId": SPEC.security_group_id, "Status": "active"}],
    }
    return {**described, **overrides}


def existing_responses(s: Stubs, described: dict[str, Any], streams: str = "1", subnet_vpc: str | None = None) -> None:
    s.neptune.add_response("describe_db_clusters", {"DBClusters": [described]}, {"DBClusterIdentifier": SPEC.identifier})
    s.neptune.add_response(
        "describe_db_cluster_parameters",
        {
            "Parameters": [
                {"ParameterName": "neptune_enable_audit_log", "ParameterValue": "0"},
                {"ParameterName": "neptune_streams", "ParameterValue": streams},
            ]
        },
        {"DBClusterParameterGroupName": "their-params"},
    )
    s.ec2.add_response("describe_vpcs", {"Vpcs": [{"VpcId": SPEC.vpc_id}]}, {"VpcIds": [SPEC.vpc_id]})
    s.ec2.add_response(
        "describe_subnets",
        {
            "Subnets": [
                {"SubnetId": n.subnet_id, "VpcId": subnet_vpc or SPEC.vpc_id, "AvailabilityZone": n.availability_zone}
                for n in SPEC.subnets
            ]
        },
        {"SubnetIds": [n.subnet_id for n in SPEC.subnets]},
    )
    s.ec2.add_response(
        "describe_security_groups",
        {"SecurityGroups": [{"GroupId": SPEC.security_group_id, "VpcId": SPEC.vpc_id}]},
        {"GroupIds": [SPEC.security_group_id]},
    )


EXISTING = p.Plan(region=REGION, instance_class="db.r6g.large", existing=SPEC)


def test_an_existing_cluster_as_its_file_says_passes(stubs: Stubs) -> None:
    existing_responses(stubs, cluster())
    bootstrap_ok(stubs)
    lambda_ok(stubs)
    checks = p.run_checks(stubs.clients, EXISTING)
    stubs.done()
    assert [c.name for c in checks][:6] == [
        f"cluster {SPEC.identifier}",
        "iam authentication",
        "neptune streams",
        "vpc",
        "subnets",
        "security group",
    ]
    assert all(c.ok for c in checks), [c.lines() for c in checks if not c.ok]
    # No engine or VPC quota check: the stack creates neither.
    assert "neptune engine" not in by_name(checks) and "vpc quota" not in by_name(checks)


def test_streams_off_iam_off_and_a_subnet_elsewhere_are_each_named(stubs: Stubs) -> None:
    existing_responses(stubs, cluster(IAMDatabaseAuthenticationEnabled=False), streams="0", subnet_vpc="vpc-0000000000000000f")
    checks = by_name(p.existing_cluster(stubs.clients, EXISTING, SPEC))
    assert not checks["iam authentication"].ok and "iam-auth-enable" in (checks["iam authentication"].next_step or "")
    assert not checks["neptune streams"].ok and "neptune_streams=0" in checks["neptune streams"].detail
    assert not checks["subnets"].ok and "vpc-0000000000000000f" in checks["subnets"].detail
    assert checks["vpc"].ok and checks["security group"].ok


def test_a_cluster_that_is_not_there_or_not_the_files_is_a_problem(stubs: Stubs) -> None:
    stubs.neptune.add_client_error("describe_db_clusters", "DBClusterNotFoundFault")
    (missing,) = p.existing_cluster(stubs.clients, EXISTING, SPEC)
    assert not missing.ok and "no such cluster" in missing.detail
    stubs.neptune.add_response(
        "describe_db_clusters",
        {"DBClusters": [cluster(DbClusterResourceId="cluster-OTHER")]},
        {"DBClusterIdentifier": SPEC.identifier},
    )
    other = p.existing_cluster(stubs.clients, EXISTING, SPEC)[0]
    assert not other.ok and "resourceId is 'cluster-OTHER'" in other.detail


# -- the command


def test_the_plan_comes_from_cdk_json_unless_the_options_say_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(
        json.dumps({"context": {"neptune-stream:instanceClass": "db.r6g.xlarge", "neptune-stream:existingCluster": str(EXAMPLE)}})
    )
    args = argparse.Namespace(region=REGION, profile=None, instance_class=None, existing_cluster=None)
    plan = p.plan_from(args, cdk_json)
    assert plan.instance_class == "db.r6g.xlarge" and plan.existing == SPEC and plan.engine_version == PINNED.version
    args.instance_class = "db.r6g.2xlarge"
    assert p.plan_from(args, cdk_json).instance_class == "db.r6g.2xlarge"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    args.existing_cluster = bad
    with pytest.raises(UsageError):
        p.plan_from(args, cdk_json)


def test_the_command_prints_a_line_per_check_and_exits_1_on_a_problem(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no cdk.json: the defaults
    monkeypatch.setattr(p.Clients, "from_session", classmethod(lambda cls, session: stubs.clients))
    engine_ok(stubs)
    instance_ok(stubs)
    vpcs_ok(stubs)
    stubs.ssm.add_client_error("get_parameter", "ParameterNotFound")
    lambda_ok(stubs)
    code = cli.main(["preflight", "--region", REGION])
    out, err = capsys.readouterr()
    assert code == ExitCode.CHECK_FAILED
    lines = out.strip().splitlines()
    assert sum(line.startswith(("ok ", "problem ")) for line in lines) == 6
    assert any(line.startswith("problem  cdk bootstrap") for line in lines)
    assert err.strip().splitlines()[0] == "error: 1 of 6 checks found a problem: cdk bootstrap"
    assert err.strip().splitlines()[1].startswith("  next: ")
