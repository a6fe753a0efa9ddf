"""The three tables' names and attribute names, shared by the CDK stack, the handlers and the local run.
Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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

# An RDF record's statement: its terms in N-Quads syntax, and the kind of its object (iri, bnode, literal).
SUBJECT = "subject"
PREDICATE = "predicate"
OBJECT = "object"
GRAPH = "graph"
OBJECT_TYPE = "objectType"

# Update history and latest checkpoint tables.
STREAM_ID = "streamId"


def fence_id(stream_id: str, slot: int) -> str:
    """The key of a lease fence slot: an item of the checkpoint table beside the stream's checkpoint item."""
    return f"{stream_id}{FENCE_INFIX}{slot:02d}"


FENCE_INFIX = "#fence#"
# The history item's `kind`.
KIND = "kind"


class HistoryKind(StrEnum):
    BATCH = "BATCH"  # one committed transaction's records
    GAP = "GAP"  # an expired checkpoint skipped at the operator's word: changes lost from Neptune
    START_FROM_LATEST = "START_FROM_LATEST"  # the first capture began after the newest record, not with the oldest


COMMIT_DIGITS = 20
OP_DIGITS = 10


def position(commit_num: int, op_num: int) -> str:
    return f"{commit_num:0{COMMIT_DIGITS}d}:{op_num:0{OP_DIGITS}d}"
