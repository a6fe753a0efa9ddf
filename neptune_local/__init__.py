"""The local run: the same handlers against a local Neptune emulator, DynamoDB Local (AWS's own engine) and
Step Functions from moto."""

import os


def use_local_credentials() -> None:
    """SigV4 needs some credentials even for local endpoints; never overrides real ones. Letters only: DynamoDB
    Local refuses access key ids with other characters
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
