"""The three tables' names and attribute names, shared by the CDK stack, the handlers and the local run.
Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class TableNames:
    records: str
    history: str
    checkpoint: str


# Stream records table: one item per stream event, keyed by its generation-qualified position alone (see
# position()): Neptune reuses (commitNum, opNum) after a fast reset, so the event id is no key by itself.
POSITION = "position"
RECORD_PK = POSITION
# Plain attributes of every record item: the event id as Neptune gave it, and the capture generation.
COMMIT_NUM = "commitNum"
OP_NUM = "opNum"
GENERATION = "generation"
ELEMENT_INDEX = "byElement"
ELEMENT_ID = "elementId"

# An RDF record's statement: its terms in N-Quads syntax, and the kind of its object (iri, bnode, literal).
SUBJECT = "subject"
PREDICATE = "predicate"
OBJECT = "object"
GRAPH = "graph"
OBJECT_TYPE = "objectType"


class RecordAttr(StrEnum):
    """The other attributes of a record item. A property-graph record keeps the names Neptune's stream record
    gives them (a record's `commitTimestamp`, `op`, `isLastOp`:
    https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-reponse.html; its `data`'s `id`,
    `type`, `key`, `value`, `from`, `to`: https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html),
    so a record reads like the change it captured. Written by `items`, read by the
    CLI's `history`, as-of and export, and the local checks."""

    ID = "id"
    TYPE = "type"
    OP = "op"
    COMMIT_TIMESTAMP = "commitTimestamp"
    IS_LAST_OP = "isLastOp"
    KEY = "key"
    FROM = "from"
    TO = "to"
    DATA_TYPE = "dataType"
    VALUE = "value"
    # A value (or RDF object) longer than the item limit allows is kept as a prefix, flagged, with the size
    # and hash of the whole; pathological ids or keys are capped and named in TRUNCATED_FIELDS.
    TRUNCATED = "truncated"
    ORIGINAL_VALUE_BYTES = "originalValueBytes"
    VALUE_SHA256 = "valueSha256"
    TRUNCATED_FIELDS = "truncatedFields"


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
    # The capture generation (absent: 0), when it began (ms) and why (GenerationReason). A new generation
    # begins after a fast reset of the graph: docs/reset-and-generations.md.
    GENERATION = "generation"
    GENERATION_STARTED_AT = "generationStartedAt"
    GENERATION_REASON = "generationReason"


def fence_id(stream_id: str, slot: int) -> str:
    """The key of a lease fence slot: an item of the checkpoint table beside the stream's checkpoint item."""
    return f"{stream_id}{FENCE_INFIX}{slot:02d}"


FENCE_INFIX = "#fence#"
# The history item's `kind`.
KIND = "kind"


class HistoryAttr(StrEnum):
    """Attributes of an update history item (its keys are STREAM_ID and POSITION, its kind KIND). Written by
    `plan`, read by `status`, the captured-range reader, the local checks and the benchmarks."""

    # BATCH: the events of one committed transaction, first to last, and what they were.
    FIRST_COMMIT_NUM = "firstCommitNum"
    FIRST_OP_NUM = "firstOpNum"
    LAST_COMMIT_NUM = "lastCommitNum"
    LAST_OP_NUM = "lastOpNum"
    LAST_POSITION = "lastPosition"
    RECORD_COUNT = "recordCount"
    COUNTS_BY_OP = "countsByOp"
    COUNTS_BY_TYPE = "countsByType"
    FIRST_COMMIT_TIMESTAMP = "firstCommitTimestamp"
    LAST_COMMIT_TIMESTAMP = "lastCommitTimestamp"
    LAST_TRX_TIMESTAMP = "lastTrxTimestamp"
    LAG_MS = "lagMs"
    # Every kind: when it was written, by which execution, and (GAP, START_FROM_LATEST, RESET) why.
    PROCESSED_AT = "processedAt"
    EXECUTION_ID = "executionId"
    REASON = "reason"
    # GAP and RESET: the last event captured before the gap or the reset.
    LAST_CAPTURED_COMMIT_NUM = "lastCapturedCommitNum"
    LAST_CAPTURED_OP_NUM = "lastCapturedOpNum"
    LAST_CAPTURED_POSITION = "lastCapturedPosition"
    # START_FROM_LATEST: the record capture began after.
    STARTED_AFTER_COMMIT_NUM = "startedAfterCommitNum"
    STARTED_AFTER_OP_NUM = "startedAfterOpNum"
    STARTED_AFTER_COMMIT_TIMESTAMP = "startedAfterCommitTimestamp"
    STARTED_AFTER_IS_LAST_OP = "startedAfterIsLastOp"
    # RESET: the generation that ended, and the evidence of the restart.
    PREVIOUS_GENERATION = "previousGeneration"
    DETAIL = "detail"


class HistoryKind(StrEnum):
    BATCH = "BATCH"  # one committed transaction's records
    GAP = "GAP"  # an expired checkpoint skipped at the operator's word: changes lost from Neptune
    START_FROM_LATEST = "START_FROM_LATEST"  # the first capture began after the newest record, not with the oldest
    RESET = "RESET"  # the first item of a generation: the graph was reset, capture began again from its new stream


class GenerationReason(StrEnum):
    """Why a capture generation began."""

    RESET_BY_PROJECT = "reset through neptune-stream"
    STREAM_RESTARTED = "stream restarted (a reset made outside neptune-stream)"


COMMIT_DIGITS = 20
OP_DIGITS = 10


GENERATION_DIGITS = 6
# Generation 0 positions carry no prefix (so items written before generations existed keep their keys);
# later ones start with "g" and the zero-padded generation. Digits sort before "g": string order is
# generation order, then stream order, in the history table and the element index alike.
GENERATION_MARK = "g"
GENERATION_SEPARATOR = "#"


def generation_prefix(generation: int) -> str:
    if generation < 0:
        raise ValueError(f"a generation is never negative, got {generation}")
    return f"{GENERATION_MARK}{generation:0{GENERATION_DIGITS}d}{GENERATION_SEPARATOR}" if generation else ""


def position(commit_num: int, op_num: int, generation: int) -> str:
    """The one key of an event in the tables: the record item's key, its sort key in the element index, and
    a history item's sort key. Every reader and writer builds it here."""
    return f"{generation_prefix(generation)}{commit_num:0{COMMIT_DIGITS}d}:{op_num:0{OP_DIGITS}d}"


def parse_position(text: str) -> tuple[int, int, int]:
    """(generation, commitNum, opNum) of a position (a history item's "#gap"-style suffix is ignored)."""
    generation = 0
    if text.startswith(GENERATION_MARK):
        head, _, text = text.partition(GENERATION_SEPARATOR)
        generation = int(head[len(GENERATION_MARK) :])
    commit, _, rest = text.partition(":")
    return generation, int(commit), int(rest.split("#", 1)[0])


def generation_bounds(generation: int) -> tuple[str, str]:
    """Inclusive bounds of every position (and suffixed history key) of one generation, for a Query's
    BETWEEN on the history table or the element index."""
    low = position(0, 0, generation)
    high = position(10**COMMIT_DIGITS - 1, 10**OP_DIGITS - 1, generation) + "~"  # "~" sorts after "#gap" etc.
    return low, high


def record_generation_and_event(item: Mapping[str, Any]) -> tuple[int, int, int]:
    """(generation, commitNum, opNum) of a record item as DynamoDB returns it (low-level attribute values);
    an item written before generations existed has no generation attribute: generation 0."""
    generation = int(item[GENERATION]["N"]) if GENERATION in item else 0
    return generation, int(item[COMMIT_NUM]["N"]), int(item[OP_NUM]["N"])
