"""What the local run takes from the synthesized stack, found through the stack's Outputs (the same
contract the CLI uses for a deployed stack): the tables' definitions, the functions' code, timeouts and
environment, and the state machine's definition with its tokens bound to local names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neptune_capture.contract import LOCAL_REGION, STACK_NAME, Output
from neptune_capture.schema import TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REGION = LOCAL_REGION
ACCOUNT = "123456789012"
TABLE_OUTPUTS = {"records": Output.RECORDS_TABLE, "history": Output.HISTORY_TABLE, "checkpoint": Output.CHECKPOINT_TABLE}
# Local function names: the local ARN of each, and how the local run and the CLI call them.
FUNCTION_OUTPUTS = {
    "stream-handler": Output.STREAM_HANDLER_FUNCTION,
    "status": Output.STATUS_FUNCTION,
    "reset": Output.RESET_FUNCTION,
}
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:neptune-stream-{name}"


@dataclass(frozen=True)
class LocalFunction:
    name: str
    code: Path  # the function's asset folder in cdk.out: exactly what `cdk deploy` uploads
    handler: str  # "index.handler"
    timeout_seconds: float
    environment: dict[str, str]  # the deployed variables that are plain values (tokens left out)
    # What the template gives it; Lambda's default is 128 MB
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-function.html).
    memory_mb: int = 128

    @property
    def arn(self) -> str:
        return function_arn(self.name)


@dataclass(frozen=True)
class SynthesizedStack:
    template: dict[str, Any]
    directory: Path  # the cloud assembly (cdk.out): the assets live there

    def output_resource(self, output: Output) -> str:
        """The logical id of the resource an output refers to."""
        try:
            value = self.template["Outputs"][output]["Value"]
        except KeyError:
            raise KeyError(f"the synthesized stack has no output {output}: synthesize it again (`make synth`)") from None
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        raise ValueError(f"output {output} does not name a resource: {value!r}")

    def has_output(self, output: Output) -> bool:
        return output in self.template.get("Outputs", {})

    def resource(self, output: Output) -> dict[str, Any]:
        resource: dict[str, Any] = self.template["Resources"][self.output_resource(output)]
        return resource

    # -- tables
    def table_definitions(self, name_prefix: str = "neptune-stream-") -> dict[str, dict[str, Any]]:
        """CreateTable arguments for each table (by role), exactly as the template defines its keys."""
        found: dict[str, dict[str, Any]] = {}
        for role, output in TABLE_OUTPUTS.items():
            props = self.resource(output)["Properties"]
            kwargs: dict[str, Any] = {
                "TableName": f"{name_prefix}{role}",
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props["BillingMode"],
            }
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = [
                    {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                    for g in props["GlobalSecondaryIndexes"]
                ]
            found[role] = kwargs
        return found

    def create_tables(self, client: DynamoDBClient, name_prefix: str = "neptune-stream-") -> TableNames:
        """Creates any table still missing; returns the three names."""
        definitions = self.table_definitions(name_prefix)
        existing = set(client.list_tables().get("TableNames", []))
        for kwargs in definitions.values():
            if kwargs["TableName"] not in existing:
                client.create_table(**kwargs)
        return TableNames(**{role: kwargs["TableName"] for role, kwargs in definitions.items()})

    # -- functions
    def function(self, name: str) -> LocalFunction:
        resource = self.resource(FUNCTION_OUTPUTS[name])
        props = resource["Properties"]
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        if not asset:
            raise ValueError(f"function {name} has no staged asset in {self.directory}: synthesize with asset staging on")
        variables = props.get("Environment", {}).get("Variables", {})
        return LocalFunction(
            name=name,
            code=self.directory / asset,
            handler=props["Handler"],
            timeout_seconds=float(props.get("Timeout", 3)),
            environment={k: v for k, v in variables.items() if isinstance(v, str)},
            memory_mb=int(props.get("MemorySize", 128)),
        )

    def functions(self) -> list[LocalFunction]:
        """The stack's functions; an existing-cluster stack has no reset function unless it asked for one."""
        return [self.function(name) for name, output in FUNCTION_OUTPUTS.items() if self.has_output(output)]

    # -- start schedule
    def start_schedule(self, name: str, state_machine_arn: str, role_arn: str) -> dict[str, Any]:
        """CreateSchedule arguments for the deployed schedule (expression, state, input, retry policy), its
        target bound to the local state machine."""
        props = self.resource(Output.START_SCHEDULE)["Properties"]
        target = props["Target"]
        return {
            "Name": name,
            "ScheduleExpression": props["ScheduleExpression"],
            "FlexibleTimeWindow": props["FlexibleTimeWindow"],
            "State": props.get("State", "ENABLED"),
            "Target": {
                "Arn": state_machine_arn,
                "RoleArn": role_arn,
                "Input": target.get("Input", "{}"),
                **({"RetryPolicy": target["RetryPolicy"]} if "RetryPolicy" in target else {}),
            },
        }

    # -- state machine
    def state_machine_definition(self, tables: TableNames) -> dict[str, Any]:
        """The deployed definition, token for token: function ARNs and table names are the local ones."""
        machine = self.resource(Output.STATE_MACHINE)
        table_by_logical: dict[str, str] = {
            self.output_resource(output): getattr(tables, role) for role, output in TABLE_OUTPUTS.items()
        }
        function_by_logical = {
            self.output_resource(output): function_arn(name)
            for name, output in FUNCTION_OUTPUTS.items()
            if self.has_output(output)
        }

        def resolve(value: Any) -> str:
            if isinstance(value, str):
                return value
            if "Fn::Join" in value:
                separator, parts = value["Fn::Join"]
                return str(separator).join(resolve(p) for p in parts)
            if "Ref" in value:
                ref = value["Ref"]
                if ref in PSEUDO_PARAMETERS:
                    return PSEUDO_PARAMETERS[str(ref)]
                if ref in table_by_logical:
                    return table_by_logical[str(ref)]
            if "Fn::GetAtt" in value:
                logical, attribute = value["Fn::GetAtt"]
                if logical in function_by_logical and attribute == "Arn":
                    return function_by_logical[logical]
            raise ValueError(f"the local run cannot bind template token {value!r} in the state machine definition")

        definition: dict[str, Any] = json.loads(resolve(machine["Properties"]["DefinitionString"]))
        return definition


def load_stack(cdk_out: str | Path = "cdk.out") -> SynthesizedStack:
    directory = Path(cdk_out)
    path = directory / f"{STACK_NAME}.template.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `make synth` (or `make demo`, which synthesizes first)")
    return SynthesizedStack(json.loads(path.read_text()), directory)
