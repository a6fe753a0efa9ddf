"""What the local run takes from the synthesized template: the state machine definition with its
tokens bound to local names, the functions' timeouts and environment, and the tables (see
neptune_stream/template_tables.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_PREFIXES = {"FunctionsStreamHandler": "stream-handler", "FunctionsStatus": "status", "FunctionsReset": "reset"}


def load_template(cdk_out: str | Path = "cdk.out") -> dict[str, Any]:
    path = Path(cdk_out) / "NeptuneStream.template.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `make synth` (or `make demo`, which synthesizes first)")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:neptune-stream-{name}"


def _functions(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(local name, properties) of each of the project's functions in the template."""
    for logical, resource in template["Resources"].items():
        name = next((n for prefix, n in FUNCTION_PREFIXES.items() if logical.startswith(prefix)), None)
        if name and resource["Type"] == "AWS::Lambda::Function":
            yield name, resource["Properties"]


def function_timeouts(template: dict[str, Any]) -> dict[str, float]:
    """Each function's deployed Timeout (seconds), by its local name: the local invoke enforces it."""
    return {name: float(properties.get("Timeout", 3)) for name, properties in _functions(template)}


def function_environment(template: dict[str, Any], name: str) -> dict[str, str]:
    """A function's deployed environment variables that are plain values (tokens left out)."""
    for each, properties in _functions(template):
        if each == name:
            variables = properties.get("Environment", {}).get("Variables", {})
            return {k: v for k, v in variables.items() if isinstance(v, str)}
    raise KeyError(f"no function {name!r} in the template")


def state_machine_definition(template: dict[str, Any], table_names: dict[str, str]) -> dict[str, Any]:
    """The deployed definition, token for token: function ARNs and table names are the local ones."""
    from neptune_stream.template_tables import ROLES

    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return str(sep).join(resolve(p) for p in parts)
        if "Ref" in value:
            ref = value["Ref"]
            pseudo = {
                "AWS::Partition": "aws",
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::URLSuffix": "amazonaws.com",
            }
            if ref in pseudo:
                return pseudo[ref]
            for role, prefix in ROLES.items():
                if ref.startswith(prefix):
                    return table_names[role]
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            for prefix, name in FUNCTION_PREFIXES.items():
                if logical.startswith(prefix) and attribute == "Arn" and "ServiceRole" not in logical:
                    return function_arn(name)
        raise ValueError(f"the local run cannot bind template token {value!r} in the state machine definition")

    definition: dict[str, Any] = json.loads(resolve(machine["Properties"]["DefinitionString"]))
    return definition
