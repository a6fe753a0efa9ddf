"""How cdk-nag names a finding about a resource: the id a construct acknowledges right after it creates
the resource (cdk-nag renders tokens as <LogicalId.Attribute> and pseudo parameters as <AWS::Name>)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import IConstruct

MANAGED_POLICY = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]"


def managed_policy(name: str) -> str:
    return MANAGED_POLICY.format(name=name)


def wildcard_resource(scope: IConstruct, resource: str) -> str:
    """The IAM5 finding id for a policy resource (an ARN with a wildcard), tokens rendered."""
    return f"AwsSolutions-IAM5[Resource::{render(Stack.of(scope).resolve(resource))}]"


def render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return f"<{logical}.{attribute}>"
    raise ValueError(f"cannot render {value!r} as cdk-nag does")
