#!/usr/bin/env python3
"""CDK entry point: one environment-agnostic stack, checked by cdk-nag's AwsSolutions pack on every synth."""

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from neptune_stream.stack import NeptuneStreamStack


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> App:
    app = App(context=context, outdir=outdir)
    NeptuneStreamStack(app, "NeptuneStream", description="neptune-stream: Neptune Streams change capture into DynamoDB")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
