"""The local run: the same handlers against a local Neptune emulator and DynamoDB from moto."""

from neptune_ops.target import use_local_credentials

__all__ = ["use_local_credentials"]
