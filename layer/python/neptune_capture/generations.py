"""Capture generations: telling that the stream under a checkpoint is no longer the one it was read from.
Pure: no I/O. The key design and the exactly-once invariants are in docs/reset-and-generations.md.

A fast reset "deletes all stream data from your database and completely resets streams"
(https://docs.aws.amazon.com/neptune/latest/userguide/manage-console-fast-reset.html); the emulator, like the
engine the issue was found on, then numbers commits from 1 again, so a checkpoint's (commitNum, opNum) names
an event of the old stream, or of the new one, or nothing. Neptune's documentation does not say which numbers
the stream starts from after a reset, nor that a checkpoint's event can be asked about: what this module
relies on is documented for any stream. AT_SEQUENCE_NUMBER reads "starting from a specified event sequence
number (commitNum and opNum)" and a read with nothing there answers StreamRecordsNotFoundException (HTTP 404,
https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html and
https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-exceptions.html). So the checkpoint's
own event, read back with AT_SEQUENCE_NUMBER, is the same event (same id, same commitTimestamp) exactly
while the stream is the same: after a reset it is missing, or it is another transaction, committed after the
reset and so with another commitTimestamp."""

from __future__ import annotations

from .events import EventId, StreamEvent


def restart_evidence(position: EventId, commit_timestamp: int | None, found: StreamEvent | None) -> str | None:
    """None while the stream still holds the event at `position` as it was captured (`commit_timestamp`);
    otherwise what shows the stream restarted under the checkpoint, in words for the history and the log.
    `found`: the stream's first event at or after `position` (an AT_SEQUENCE_NUMBER read of one record),
    None when the stream answered that it holds none."""
    if found is None:
        return (
            f"the stream holds no event at or after the checkpoint {position} (StreamRecordsNotFoundException for "
            "AT_SEQUENCE_NUMBER): it ends before it"
        )
    if found.event_id != position:
        return f"the stream no longer holds the checkpoint's event {position}: the first event at or after it is {found.event_id}"
    if commit_timestamp is not None and found.commit_timestamp != commit_timestamp:
        return (
            f"event {position} now has commitTimestamp {found.commit_timestamp}, but the one captured there had "
            f"{commit_timestamp}: it is another transaction"
        )
    return None
