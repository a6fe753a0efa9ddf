"""`neptune-stream preflight`: before the first `cdk deploy` (twenty minutes and more, most of it Neptune's),
what would make it fail, asked of AWS with the user's own credentials and read-only calls: the region offers
the pinned engine and the instance class, the account is CDK-bootstrapped there, Lambda knows the runtime
and architecture, an existing cluster is what its file says (Streams and IAM authentication on, its VPC,
subnets and security group there), and the quotas a deploy would use up. One line per check; any problem
ends with exit code 1 (CHECK_FAILED) after every check has run.

The checks take clients and give back results (no printing), so the unit tests drive them through botocore's
Stubber (tests/unit/test_preflight.py)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from neptune_capture.contract import ContextKey
from neptune_entry.errors import AwsError, CheckFailedError, UsageError
from neptune_ops.explain import CREDENTIALS_REJECTED, NO_REGION_NEXT
from neptune_ops.target import AWS_CONFIG, STREAMS_PARAMETER
from neptune_stream import existing_spec
from neptune_stream.existing_spec import ExistingCluster
from neptune_stream.pins import DEFAULT_INSTANCE_CLASS, LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, PINNED

# CDK's default bootstrap qualifier, and the version the synthesized template's CheckBootstrapVersion rule
# requires at least ("hnb659fds", https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html; the rule
# refuses versions 1 to 5).
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_STACK = "CDKToolkit"
MIN_BOOTSTRAP_VERSION = 6
BOOTSTRAP_NEXT = "run `npx cdk bootstrap` with these credentials and this region (https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html)"
# "VPCs per Region", default 5 (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html); the
# stack creates one VPC unless it captures an existing cluster.
VPC_QUOTA = ("vpc", "L-F678F1CE")
DEFAULT_VPCS_PER_REGION = 5
# The stack's three functions share the account's unreserved concurrency (none is reserved).
FUNCTIONS = 3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    next_step: str | None = None

    def lines(self) -> list[str]:
        head = f"{'ok' if self.ok else 'problem':<8} {self.name}: {self.detail}"
        return [head] + ([f"         next: {self.next_step}"] if self.next_step and not self.ok else [])

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "next": None if self.ok else self.next_step}


@dataclass(frozen=True)
class Plan:
    """What a deploy would create, as the CDK context gives it."""

    region: str
    instance_class: str
    existing: ExistingCluster | None = None
    engine_version: str = PINNED.version
    runtime: str = LAMBDA_RUNTIME
    architecture: str = LAMBDA_ARCHITECTURE


@dataclass(frozen=True)
class Clients:
    neptune: Any
    ssm: Any
    cloudformation: Any
    lambda_: Any
    ec2: Any
    service_quotas: Any

    @classmethod
    def from_session(cls, session: boto3.Session) -> Clients:
        def client(name: str) -> Any:
            return session.client(name, config=AWS_CONFIG)  # type: ignore[call-overload]

        return cls(
            client("neptune"), client("ssm"), client("cloudformation"), client("lambda"), client("ec2"), client("service-quotas")
        )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _guarded(name: str, needs: str, body: Callable[[], Check]) -> Check:
    """A check AWS refuses to answer (access denied, throttled) is a problem of its own, not the end of the
    others; rejected credentials end them all (explain turns that into its two lines and exit code 4)."""
    try:
        return body()
    except ClientError as error:
        if _code(error) in CREDENTIALS_REJECTED:
            raise
        return Check(
            name,
            False,
            f"could not check ({_code(error)}: {error.response.get('Error', {}).get('Message', '')})",
            f"allow {needs} to these credentials, or check it yourself",
        )


def engine_offered(c: Clients, plan: Plan) -> Check:
    name = "neptune engine"

    def body() -> Check:
        found = c.neptune.describe_db_engine_versions(Engine="neptune", EngineVersion=plan.engine_version)["DBEngineVersions"]
        if not found:
            return Check(
                name,
                False,
                f"{plan.region} does not offer Neptune {plan.engine_version}",
                "deploy in a region that does (`aws neptune describe-db-engine-versions --engine neptune`)",
            )
        return Check(name, True, f"{plan.engine_version} offered in {plan.region}")

    return _guarded(name, "neptune:DescribeDBEngineVersions", body)


def instance_class_offered(c: Clients, plan: Plan) -> Check:
    name = "neptune instance class"

    def body() -> Check:
        options = c.neptune.describe_orderable_db_instance_options(
            Engine="neptune", EngineVersion=plan.engine_version, DBInstanceClass=plan.instance_class, Vpc=True
        )["OrderableDBInstanceOptions"]
        zones = sorted({z["Name"] for o in options for z in o.get("AvailabilityZones", []) if "Name" in z})
        if not options:
            return Check(
                name,
                False,
                f"{plan.instance_class} is not offered with Neptune {plan.engine_version} in {plan.region}",
                f"pick one that is (`{ContextKey.INSTANCE_CLASS.flag('...')}`; "
                "`aws neptune describe-orderable-db-instance-options --engine neptune`)",
            )
        return Check(name, True, f"{plan.instance_class} offered in {', '.join(zones) or plan.region}")

    return _guarded(name, "neptune:DescribeOrderableDBInstanceOptions", body)


def cdk_bootstrap(c: Clients, plan: Plan) -> Check:
    name = "cdk bootstrap"

    def from_stack() -> Check:
        try:
            (stack,) = c.cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
        except ClientError as error:
            if _code(error) == "ValidationError":  # "Stack with id CDKToolkit does not exist"
                return Check(name, False, f"{plan.region} is not bootstrapped (no {BOOTSTRAP_STACK} stack)", BOOTSTRAP_NEXT)
            raise
        outputs = {o.get("OutputKey"): o.get("OutputValue") for o in stack.get("Outputs", [])}
        return _version_check(name, outputs.get("BootstrapVersion"), f"the {BOOTSTRAP_STACK} stack")

    def body() -> Check:
        try:
            value = c.ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
        except ClientError as error:
            if _code(error) == "ParameterNotFound":
                return Check(
                    name, False, f"{plan.region} is not bootstrapped ({BOOTSTRAP_PARAMETER} does not exist)", BOOTSTRAP_NEXT
                )
            if _code(error) in CREDENTIALS_REJECTED:
                raise
            return from_stack()  # ssm:GetParameter refused: the bootstrap stack tells the version too
        return _version_check(name, value, BOOTSTRAP_PARAMETER)

    return _guarded(name, f"ssm:GetParameter on {BOOTSTRAP_PARAMETER} or cloudformation:DescribeStacks", body)


def _version_check(name: str, value: str | None, source: str) -> Check:
    if value is None or not str(value).isdigit():
        return Check(name, False, f"{source} gives no bootstrap version ({value!r})", BOOTSTRAP_NEXT)
    if int(value) < MIN_BOOTSTRAP_VERSION:
        return Check(
            name,
            False,
            f"bootstrap version {value} ({source}); the template needs {MIN_BOOTSTRAP_VERSION} or later",
            BOOTSTRAP_NEXT.replace("run", "run again", 1),
        )
    return Check(name, True, f"version {value} ({source})")


def lambda_runtime(c: Clients, plan: Plan) -> Check:
    """No Lambda API lists the runtimes a region offers (the docs are silent on one). ListLayers filters by
    CompatibleRuntime and CompatibleArchitecture and answers InvalidParameterValueException for a value it
    does not accept (https://docs.aws.amazon.com/lambda/latest/api/API_ListLayers.html): an answer means this
    region's Lambda knows both names. Whether it also creates functions with them, the docs do not say apart."""
    name = "lambda runtime"

    def body() -> Check:
        try:
            c.lambda_.list_layers(CompatibleRuntime=plan.runtime, CompatibleArchitecture=plan.architecture, MaxItems=1)
        except ClientError as error:
            if _code(error) != "InvalidParameterValueException":
                raise
            return Check(
                name,
                False,
                f"Lambda in {plan.region} does not accept {plan.runtime} on {plan.architecture}",
                "deploy in a region that offers it (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)",
            )
        return Check(name, True, f"{plan.runtime} on {plan.architecture} known in {plan.region}")

    return _guarded(name, "lambda:ListLayers", body)


def lambda_concurrency(c: Clients, plan: Plan) -> Check:
    name = "lambda concurrency"

    def body() -> Check:
        limit = c.lambda_.get_account_settings()["AccountLimit"]
        free = int(limit.get("UnreservedConcurrentExecutions", 0))
        if free < FUNCTIONS:
            return Check(
                name,
                False,
                f"{free} unreserved concurrent executions in {plan.region}; the stack's {FUNCTIONS} functions need {FUNCTIONS}",
                "ask for more (Service Quotas, Lambda 'Concurrent executions') or release reserved concurrency",
            )
        return Check(name, True, f"{free} unreserved concurrent executions (of {limit.get('ConcurrentExecutions')})")

    return _guarded(name, "lambda:GetAccountSettings", body)


def vpc_quota(c: Clients, plan: Plan) -> Check:
    name = "vpc quota"

    def body() -> Check:
        used = sum(len(page.get("Vpcs", [])) for page in c.ec2.get_paginator("describe_vpcs").paginate())
        try:
            quota = int(c.service_quotas.get_service_quota(ServiceCode=VPC_QUOTA[0], QuotaCode=VPC_QUOTA[1])["Quota"]["Value"])
            source = "Service Quotas"
        except ClientError as error:
            if _code(error) in CREDENTIALS_REJECTED:
                raise
            quota, source = DEFAULT_VPCS_PER_REGION, f"the default; Service Quotas said {_code(error)}"
        if used + 1 > quota:
            return Check(
                name,
                False,
                f"{used} of {quota} VPCs in {plan.region} ({source}): the stack's own VPC does not fit",
                "delete an unused VPC, raise 'VPCs per Region' in Service Quotas, or capture an existing cluster "
                f"({ContextKey.EXISTING_CLUSTER.flag('FILE')})",
            )
        return Check(name, True, f"{used} of {quota} VPCs used ({source}); the stack adds 1")

    return _guarded(name, "ec2:DescribeVpcs", body)


def existing_cluster(c: Clients, plan: Plan, spec: ExistingCluster) -> list[Check]:
    """The file's cluster as Neptune's management API describes it, and its network as EC2 does."""
    name = f"cluster {spec.identifier}"
    found: dict[str, Any] = {}

    def cluster() -> Check:
        try:
            (described,) = c.neptune.describe_db_clusters(DBClusterIdentifier=spec.identifier)["DBClusters"]
        except ClientError as error:
            if _code(error) != "DBClusterNotFoundFault":
                raise
            return Check(name, False, f"no such cluster in {plan.region}", "check the file's cluster.identifier and the region")
        mismatched = [
            f"{field} is {described.get(key)!r}, the file says {expected!r}"
            for field, key, expected in (
                ("resourceId", "DbClusterResourceId", spec.resource_id),
                ("endpoint", "Endpoint", spec.endpoint),
                ("readerEndpoint", "ReaderEndpoint", spec.reader_endpoint),
            )
            if described.get(key) != expected
        ]
        if mismatched:
            return Check(
                name, False, "; ".join(mismatched), "write the cluster's values into the file (examples/existing-cluster.json)"
            )
        found.update(described)  # the file's cluster: the checks below are about it
        return Check(name, True, f"exists, engine {described.get('EngineVersion')}, {described.get('Status')}")

    checks = [_guarded(name, "neptune:DescribeDBClusters", cluster)]
    if not found:
        return checks
    iam_on = bool(found.get("IAMDatabaseAuthenticationEnabled"))
    checks.append(
        Check(
            "iam authentication",
            iam_on,
            "on" if iam_on else f"off on {spec.identifier}: the stack's functions sign every request",
            "turn it on (https://docs.aws.amazon.com/neptune/latest/userguide/iam-auth-enable.html)",
        )
    )
    checks.append(_guarded("neptune streams", "neptune:DescribeDBClusterParameters", lambda: _streams(c, found)))
    checks += _network(c, spec, found)
    return checks


def _streams(c: Clients, cluster: dict[str, Any]) -> Check:
    group = cluster.get("DBClusterParameterGroup")
    value = None
    for page in c.neptune.get_paginator("describe_db_cluster_parameters").paginate(DBClusterParameterGroupName=group):
        for parameter in page.get("Parameters", []):
            if parameter.get("ParameterName") == STREAMS_PARAMETER:
                value = parameter.get("ParameterValue")
    if value != "1":
        return Check(
            "neptune streams",
            False,
            f"{STREAMS_PARAMETER}={value} in parameter group {group}",
            f"set {STREAMS_PARAMETER}=1 and reboot the instances "
            "(https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html)",
        )
    return Check("neptune streams", True, f"{STREAMS_PARAMETER}=1 in parameter group {group}")


def _network(c: Clients, spec: ExistingCluster, cluster: dict[str, Any]) -> list[Check]:
    def vpc() -> Check:
        try:
            c.ec2.describe_vpcs(VpcIds=[spec.vpc_id])
        except ClientError as error:
            if _code(error) != "InvalidVpcID.NotFound":
                raise
            return Check("vpc", False, f"{spec.vpc_id} does not exist", "write the cluster's VPC into the file's network.vpcId")
        return Check("vpc", True, f"{spec.vpc_id} exists")

    def subnets() -> Check:
        ids = [s.subnet_id for s in spec.subnets]
        try:
            described = {s["SubnetId"]: s for s in c.ec2.describe_subnets(SubnetIds=ids)["Subnets"]}
        except ClientError as error:
            if _code(error) != "InvalidSubnetID.NotFound":
                raise
            return Check(
                "subnets",
                False,
                f"not all of {', '.join(ids)} exist",
                "write the cluster's subnets into the file's network.subnets",
            )
        wrong = [
            f"{s.subnet_id} is in {described[s.subnet_id].get('VpcId')}/{described[s.subnet_id].get('AvailabilityZone')}, "
            f"the file says {spec.vpc_id}/{s.availability_zone}"
            for s in spec.subnets
            if s.subnet_id in described
            and (described[s.subnet_id].get("VpcId"), described[s.subnet_id].get("AvailabilityZone"))
            != (spec.vpc_id, s.availability_zone)
        ]
        if wrong:
            return Check("subnets", False, "; ".join(wrong), "correct the file's network.subnets")
        return Check("subnets", True, f"{len(ids)} in {spec.vpc_id}")

    def security_group() -> Check:
        group = spec.security_group_id
        attached = {g.get("VpcSecurityGroupId") for g in cluster.get("VpcSecurityGroups", [])}
        try:
            (described,) = c.ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
        except ClientError as error:
            if _code(error) != "InvalidGroup.NotFound":
                raise
            return Check("security group", False, f"{group} does not exist", "write the cluster's security group into the file")
        if described.get("VpcId") != spec.vpc_id or group not in attached:
            return Check(
                "security group",
                False,
                f"{group} is in {described.get('VpcId')}, on the cluster: {group in attached}",
                "name a security group of the cluster, in its VPC (cluster.securityGroupId)",
            )
        return Check("security group", True, f"{group} is the cluster's, in {spec.vpc_id}")

    return [
        _guarded("vpc", "ec2:DescribeVpcs", vpc),
        _guarded("subnets", "ec2:DescribeSubnets", subnets),
        _guarded("security group", "ec2:DescribeSecurityGroups", security_group),
    ]


def run_checks(c: Clients, plan: Plan) -> list[Check]:
    checks: list[Check] = []
    if plan.existing is None:
        checks += [engine_offered(c, plan), instance_class_offered(c, plan), vpc_quota(c, plan)]
    else:
        checks += existing_cluster(c, plan, plan.existing)
    checks += [cdk_bootstrap(c, plan), lambda_runtime(c, plan), lambda_concurrency(c, plan)]
    return checks


CDK_JSON = Path("cdk.json")
CONTEXT = "neptune-stream:"


def plan_from(args: argparse.Namespace, cdk_json: Path = CDK_JSON) -> Plan:
    """The deploy the options describe, else the one cdk.json's context does (as `cdk deploy` would read it)."""
    context: dict[str, Any] = {}
    if cdk_json.is_file():
        try:
            context = dict(json.loads(cdk_json.read_text()).get("context", {}))
        except (ValueError, AttributeError) as error:
            raise UsageError(f"{cdk_json} is not valid JSON with a context object ({error})", f"fix {cdk_json}") from None
    existing_path = args.existing_cluster or context.get(CONTEXT + "existingCluster")
    existing = None
    if existing_path:
        try:
            existing = existing_spec.load(str(existing_path))
        except ValueError as error:
            raise UsageError(str(error), "correct the file (README, 'Capturing an existing cluster')") from None
    region = args.region or os.environ.get("AWS_REGION") or None
    session = session_for(region, args.profile)
    instance_class = args.instance_class or str(context.get(CONTEXT + "instanceClass") or DEFAULT_INSTANCE_CLASS)
    return Plan(region=str(session.region_name), instance_class=instance_class, existing=existing)


def session_for(region: str | None, profile: str | None) -> boto3.Session:
    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise AwsError("no AWS region is configured for the deploy to check", NO_REGION_NEXT)
    return session


def verdict(checks: list[Check]) -> None:
    """Raises the command's failure (exit 1) when any check found a problem."""
    problems = [c.name for c in checks if not c.ok]
    if problems:
        raise CheckFailedError(
            f"{len(problems)} of {len(checks)} checks found a problem: {', '.join(problems)}",
            "fix each as its `next:` line says, then run `neptune-stream preflight` again before `cdk deploy`",
        )
