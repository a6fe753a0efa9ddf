"""The local run: the same handlers against a local Neptune emulator, DynamoDB Local (AWS's own engine) and
Step Functions from moto."""

from neptune_ops.target import use_local_credentials

__all__ = ["use_local_credentials"]
