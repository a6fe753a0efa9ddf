from __future__ import annotations

import os

# jsii prints a banner per process on Node 20 otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Tests never reach AWS: any client made without an endpoint would fail on these.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "NeptuneStream")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "neptune-stream")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk.assertions import Template
from aws_lambda_powertools.utilities.typing import LambdaContext

from neptune_capture.contract import STACK_NAME
from neptune_local.template import SynthesizedStack
from neptune_stream.app import build_app


@dataclass
class Synth:
    template: Template
    json: dict[str, Any]
    outdir: Path

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == cfn_type}

    @property
    def stack(self) -> SynthesizedStack:
        """The synthesized stack as the local run reads it (through its outputs)."""
        return SynthesizedStack(self.json, self.outdir)


def _synth(tmp: Path, context: dict[str, object] | None = None) -> Synth:
    # jsii start-up and a full synth cost seconds: one per session and configuration.
    # Asset metadata names each function's staged code, as `cdk synth` writes it: the local run loads it.
    settings = {"aws:cdk:disable-version-reporting": True, "aws:cdk:enable-asset-metadata": True}
    app = build_app({**(context or {}), **settings}, outdir=str(tmp))
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(STACK_NAME)
    data = json.loads(Path(assembly.directory, artifact.template_file).read_text())
    return Synth(Template.from_json(data), data, Path(assembly.directory))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(tmp_path_factory.mktemp("cdk-demo"))


@pytest.fixture(scope="session")
def production_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(
        tmp_path_factory.mktemp("cdk-prod"),
        {
            "neptune-stream:mode": "production",
            "neptune-stream:instanceClass": "db.r6g.xlarge",
            "neptune-stream:streamsExpiryDays": 30,
        },
    )


@pytest.fixture(scope="session")
def options_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The non-default routes, as `-c` passes them (strings): the publisher's Powertools layer, a paused
    schedule, another period."""
    return _synth(
        tmp_path_factory.mktemp("cdk-options"),
        {
            "neptune-stream:powertools": "public-layer",
            "neptune-stream:autoStart": "false",
            "neptune-stream:startScheduleMinutes": "10",
        },
    )


@pytest.fixture(scope="session")
def rdf_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack capturing the RDF graph, as `make demo DEMO_ARGS="--model rdf"` synthesizes it."""
    return _synth(tmp_path_factory.mktemp("cdk-rdf"), {"neptune-stream:graphModel": "rdf"})


EXISTING_CLUSTER_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "existing-cluster.json"


@pytest.fixture(scope="session")
def existing_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Existing-cluster mode with the committed example file, as `make synth CDK_FLAGS=...` runs it."""
    return _synth(tmp_path_factory.mktemp("cdk-existing"), {"neptune-stream:existingCluster": str(EXISTING_CLUSTER_EXAMPLE)})


@pytest.fixture(scope="session")
def existing_variant_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The other choice of every setting: a security group its owner manages, a VPC that has its DynamoDB
    endpoint already, the prefix list named, the reset Lambda asked for, capture starting from LATEST."""
    spec = json.loads(EXISTING_CLUSTER_EXAMPLE.read_text())
    spec["settings"] = {"userManagedSecurityGroup": True, "vpcHasDynamoDbEndpoint": True}
    spec["network"]["dynamoDbPrefixListId"] = "pl-0000000000000000a"
    spec["network"]["subnets"] = spec["network"]["subnets"][:1]
    directory = tmp_path_factory.mktemp("cdk-existing-variant")
    path = directory / "existing.json"
    path.write_text(json.dumps(spec))
    return _synth(
        directory / "out",
        {
            "neptune-stream:existingCluster": str(path),
            "neptune-stream:allowReset": "true",
            "neptune-stream:startFrom": "latest",
        },
    )


def resolve_join(value: Any) -> str:
    """Flatten a Fn::Join into a string, tokens shown as <Ref:...>/<GetAtt:...>, so the state-machine
    definition can be parsed as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(resolve_join(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<GetAtt:{'.'.join(value['Fn::GetAtt'])}>"
    raise AssertionError(f"unexpected token {value!r}")


def lambda_context(**attributes: Any) -> LambdaContext:
    """A stand-in for the context Lambda passes, typed as the handlers declare it."""
    return cast(LambdaContext, FakeLambdaContext(**attributes))


@dataclass
class FakeLambdaContext:
    """The attributes powertools reads from a real Lambda context."""

    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
