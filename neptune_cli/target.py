"""What a CLI command acts on: the local run (its endpoints file) or a deployed stack, both found through
the stack's outputs (contract.Output)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from neptune_capture.contract import DEFAULT_STREAM_ID, LOCAL_ENDPOINTS_FILE, Output
from neptune_capture.neptune_api import fast_reset, get_engine_status, make_client
from neptune_capture.schema import TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_stepfunctions import SFNClient


@dataclass
class Target:
    kind: str
    dynamodb: DynamoDBClient
    sfn: SFNClient
    tables: TableNames
    state_machine_arn: str
    stream_id: str
    neptune_endpoint: str | None = None  # local: reachable directly
    functions: dict[str, str] | None = None  # deployed: Neptune is only reachable from the VPC
    lambda_client: LambdaClient | None = None

    @classmethod
    def from_outputs(cls, kind: str, outputs: dict[str, str], **kwargs: Any) -> Target:
        return cls(
            kind=kind,
            tables=TableNames(outputs[Output.RECORDS_TABLE], outputs[Output.HISTORY_TABLE], outputs[Output.CHECKPOINT_TABLE]),
            state_machine_arn=outputs[Output.STATE_MACHINE],
            stream_id=outputs.get(Output.STREAM_ID, DEFAULT_STREAM_ID),
            functions={"status": outputs[Output.STATUS_FUNCTION], "reset": outputs[Output.RESET_FUNCTION]},
            **kwargs,
        )

    def engine_status(self) -> dict[str, Any]:
        if self.neptune_endpoint:
            return get_engine_status(make_client(self.neptune_endpoint))
        return self._invoke("status")

    def reset(self) -> dict[str, Any]:
        if self.neptune_endpoint:
            return fast_reset(make_client(self.neptune_endpoint))
        return self._invoke("reset")

    def _invoke(self, name: str) -> dict[str, Any]:
        assert self.functions is not None and self.lambda_client is not None
        response = self.lambda_client.invoke(FunctionName=self.functions[name], Payload=b"{}")
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise RuntimeError(f"{name} Lambda failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
        return payload


def local_target(data_dir: str) -> Target:
    from neptune_local import use_local_credentials

    path = Path(data_dir) / LOCAL_ENDPOINTS_FILE
    if not path.exists():
        raise SystemExit(f"no local run found ({path} is missing): start one with `./neptune-stream demo --keep-running`")
    info = json.loads(path.read_text())
    use_local_credentials()
    return Target.from_outputs(
        "local",
        info["outputs"],
        dynamodb=boto3.client("dynamodb", endpoint_url=info["aws"], region_name="us-east-1"),
        sfn=boto3.client("stepfunctions", endpoint_url=info["aws"], region_name="us-east-1"),
        neptune_endpoint=info["neptune"],
    )


def aws_target(stack: str) -> Target:
    description = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", []) if "OutputKey" in o and "OutputValue" in o
    }
    return Target.from_outputs(
        "aws",
        outputs,
        dynamodb=boto3.client("dynamodb"),
        sfn=boto3.client("stepfunctions"),
        lambda_client=boto3.client("lambda"),
    )
