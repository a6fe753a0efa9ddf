"""The local run: the same handlers against a local Neptune emulator and DynamoDB from moto."""
