"""The CDK app: one environment-agnostic stack, checked by cdk-nag's AwsSolutions pack on every synth."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from neptune_stream.stack import STACK_NAME, NeptuneStreamStack


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> App:
    app = App(context=context, outdir=outdir)
    NeptuneStreamStack(app, STACK_NAME, description="neptune-stream: Neptune Streams change capture into DynamoDB")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
