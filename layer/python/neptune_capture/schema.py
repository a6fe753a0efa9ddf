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


class CheckpointAttr(StrEnum):
    """Attributes of a stream's checkpoint item (its key is STREAM_ID). A fence slot carries only the
    lease's owner and id. The handler, the state machine (RecordFailure, ReleaseLease), the CLI's status
    and the local checks all read and write these names."""

    COMMIT_NUM = "commitNum"
    OP_NUM = "opNum"
    COMMIT_TIMESTAMP = "commitTimestamp"
    # Bumped by every checkpoint update, which is conditioned on the version it read.
    VERSION = "version"
    UPDATED_AT = "updatedAt"
    LEASE_OWNER = "leaseOwner"
    LEASE_ID = "leaseId"
    LEASE_EXPIRES_AT = "leaseExpiresAt"
    LEASE_ACQUIRED_AT = "leaseAcquiredAt"
    # The execution whose lease `neptune-stream stop` released: it may never take the lease again.
    LEASE_RELEASED_FROM = "leaseReleasedFrom"
    # Written by the state machine's RecordFailure state when a Poll fails for good.
    LAST_FAILURE = "lastFailure"
    LAST_FAILURE_CAUSE = "lastFailureCause"
    LAST_FAILURE_EXECUTION = "lastFailureExecution"
    LAST_FAILURE_AT = "lastFailureAt"
    GAP_AT = "gapAt"
    # Where the stream's first capture began (a StartFrom), when, and after which record (from LATEST).
    STARTED_FROM = "startedFrom"
    STARTED_AT = "startedAt"
    STARTED_AFTER = "startedAfter"


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
