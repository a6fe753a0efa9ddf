"""The three tables' names and attribute names, shared by the CDK stack, the handlers and the local run.
Standard library only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableNames:
    records: str
    history: str
    checkpoint: str


# Stream records table: one item per stream event.
RECORD_PK = "commitNum"
RECORD_SK = "opNum"
ELEMENT_INDEX = "byElement"
ELEMENT_ID = "elementId"
# Zero-padded "commitNum:opNum", so string order is stream order (GSI and history sort key).
POSITION = "position"

# Update history and latest checkpoint tables.
STREAM_ID = "streamId"

COMMIT_DIGITS = 20
OP_DIGITS = 10


def position(commit_num: int, op_num: int) -> str:
    return f"{commit_num:0{COMMIT_DIGITS}d}:{op_num:0{OP_DIGITS}d}"
