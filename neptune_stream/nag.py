"""cdk-nag AwsSolutions findings this stack accepts, each with the reason it is right here.

Acknowledgements are scoped to the construct that raises them, never to the whole stack, so a new
resource with the same problem is still reported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations

if TYPE_CHECKING:
    from neptune_stream.stack import NeptuneStreamStack

LAMBDA_BASIC = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
LAMBDA_VPC = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]"


def acknowledge_findings(stack: NeptuneStreamStack) -> None:
    cluster_resource = f"<{stack.get_logical_id(stack.graph.cluster.node.default_child)}.ClusterResourceId>"  # type: ignore[arg-type]
    neptune_data_plane = (
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:neptune-db:<AWS::Region>:<AWS::AccountId>:{cluster_resource}/*]"
    )

    for fn in stack.functions.all:
        Validations.of(fn).acknowledge(
            Acknowledgment(
                id=LAMBDA_BASIC,
                reason="AWS-maintained minimum for writing the function's own CloudWatch logs; nothing broader",
            ),
            Acknowledgment(
                id=LAMBDA_VPC,
                reason="AWS-maintained minimum for the ENIs a VPC function needs; its EC2 actions only work on resource '*'",
            ),
            Acknowledgment(
                id=neptune_data_plane,
                reason="neptune-db actions are granted on this cluster's own data-plane ARN; IAM requires the '/*' suffix "
                "for it and the action list (one action per function) carries the least privilege",
            ),
        )

    handler = stack.functions.stream_handler
    state_machine = stack.workflow.state_machine
    Validations.of(state_machine).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="X-Ray tracing and CloudWatch Logs delivery, which Step Functions documents as resource '*' only",
        ),
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(handler.node.default_child)}.Arn>:*]",  # type: ignore[arg-type]
            reason="lambda:InvokeFunction on the stream handler and its versions/aliases only",
        ),
    )
