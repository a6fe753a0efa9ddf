"""`history ELEMENT_ID`: one element's captured changes in stream order, a page at a time. For the RDF
graph the element is a resource, the subject of the statements: its IRI (with or without its angle
brackets) or a blank node's `_:label`, and each change is a statement (predicate, object, graph).

The records table's `byElement` index is keyed by element id and stream position, so a page is one Query
from just after the previous page's last event (`--after COMMIT:OP`, which the page prints); `--since`
keeps changes committed from then on.

`--as-of POINT` folds the element's changes instead (neptune_capture.asof): its state at a commit, an event or a
time: labels and every property value, an edge's ends, a resource's statements; or that it did not exist yet, or
had been dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neptune_capture import schema
from neptune_capture.asof import Change, ElementState, Point, fold
from neptune_capture.items import element_key
from neptune_capture.nquads import NEPTUNE_DEFAULT_GRAPH
from neptune_capture.schema import RecordAttr as R
from neptune_entry.errors import NoDataError
from neptune_ops import captured
from neptune_ops.render import utc
from neptune_ops.target import Target

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
VALUE_WIDTH = 60


@dataclass(frozen=True)
class Page:
    element_id: str
    changes: list[dict[str, Any]]
    next_after: str | None  # the event id to pass as --after for the next page; None: this was the last

    def as_dict(self) -> dict[str, Any]:
        return {"elementId": self.element_id, "changes": self.changes, "next": self.next_after}


def element_id_of(text: str) -> str:
    """The index key an id names: an IRI may be given in N-Quads' angle brackets, as a statement writes it."""
    stripped = text.strip()
    return stripped[1:-1] if stripped.startswith("<") and stripped.endswith(">") else stripped


def change(item: dict[str, Any]) -> dict[str, Any]:
    """One record item as `history --json` prints it. The output names a change's fields as the record does
    (RecordAttr, themselves Neptune's names) on purpose: renaming a record attribute renames it here too."""
    plain: dict[str, Any] = {k: next(iter(v.values())) for k, v in item.items()}
    out: dict[str, Any] = {
        "eventId": {"commitNum": int(plain[schema.COMMIT_NUM]), "opNum": int(plain[schema.OP_NUM])},
        # The capture generation: the same event id names another change after each reset of the graph.
        "generation": int(plain.get(schema.GENERATION, 0)),
        R.COMMIT_TIMESTAMP: int(plain[R.COMMIT_TIMESTAMP]),
        R.OP: plain[R.OP],
    }
    if schema.SUBJECT in plain:  # a statement of the RDF graph
        out |= {k: plain[k] for k in (schema.SUBJECT, schema.PREDICATE, schema.OBJECT, schema.GRAPH, schema.OBJECT_TYPE)}
    else:
        out |= {R.TYPE: plain[R.TYPE], R.KEY: plain.get(R.KEY), R.VALUE: plain.get(R.VALUE)}
    if R.FROM in plain:
        out[R.FROM], out[R.TO] = plain[R.FROM], plain.get(R.TO)
    if R.TRUNCATED in plain:
        out[R.TRUNCATED] = True
    return out


def read_page(
    target: Target, element_id: str, *, limit: int, after: tuple[int, int, int] | None = None, since_ms: int | None = None
) -> Page:
    condition = "#e = :e"
    names = {"#e": schema.ELEMENT_ID}
    values: dict[str, Any] = {":e": {"S": element_key(element_id_of(element_id))}}
    if after is not None:
        condition += " AND #p > :after"
        names["#p"] = schema.POSITION
        values[":after"] = {"S": schema.position(after[0], after[1], after[2])}
    request: dict[str, Any] = {
        "TableName": target.tables.records,
        "IndexName": schema.ELEMENT_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        # One more than asked tells whether a next page exists; a filter is applied after Limit items are
        # read, so pages are read until enough match.
        "Limit": limit + 1,
    }
    if since_ms is not None:
        request["FilterExpression"] = "commitTimestamp >= :since"
        values[":since"] = {"N": str(since_ms)}
    found: list[dict[str, Any]] = []
    while len(found) <= limit:
        response = target.dynamodb.query(**request)
        found += [change(i) for i in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    page, more = found[:limit], len(found) > limit
    return Page(element_id, page, event_label(page[-1]) if more and page else None)


def event_label(change: dict[str, Any]) -> str:
    """How the CLI writes an event id: COMMIT:OP, prefixed by GENERATION/ after the graph's first reset."""
    event = f"{change['eventId']['commitNum']}:{change['eventId']['opNum']}"
    return f"{change['generation']}/{event}" if change.get("generation") else event


def nothing_found(element_id: str, after: tuple[int, int, int] | None, since_ms: int | None, where: str) -> NoDataError:
    scope = "".join(
        [
            f" after event {after[0]}:{after[1]}" if after else "",
            f" committed since {utc(since_ms)}" if since_ms is not None else "",
        ]
    )
    if scope:
        return NoDataError(
            f"no captured change of element {element_id!r}{scope} ({where})",
            "that was the last page; drop --after/--since to read from the first change",
        )
    return NoDataError(
        f"no captured change of element {element_id!r} ({where})",
        "check the id (ids are case-sensitive, as Gremlin's `id()` returns them; for RDF, the subject's IRI or "
        "`_:label`); a change made before capture started, or one not captured yet (see `./neptune-stream status`), "
        "is not there",
    )


def headers(page: Page) -> tuple[str, ...]:
    return RDF_HEADERS if page.changes and schema.SUBJECT in page.changes[0] else HEADERS


def _cell(value: object, truncated: bool) -> str:
    text = "" if value is None else str(value)
    if len(text) > VALUE_WIDTH:
        text = text[: VALUE_WIDTH - 1] + "…"
    return text + (" (stored truncated)" if truncated else "")


def table_rows(page: Page) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for c in page.changes:
        event = event_label(c)
        if schema.SUBJECT in c:
            graph = "" if c[schema.GRAPH] == f"<{NEPTUNE_DEFAULT_GRAPH}>" else str(c[schema.GRAPH])
            row = (event, utc(c[R.COMMIT_TIMESTAMP]), str(c[R.OP]), str(c[schema.PREDICATE]))
            rows.append((*row, _cell(c[schema.OBJECT], bool(c.get(R.TRUNCATED))), graph))
            continue
        value = _cell(c[R.VALUE], bool(c.get(R.TRUNCATED)))
        edge = f" {c[R.FROM]} -> {c[R.TO]}" if R.FROM in c else ""
        rows.append(
            (
                event,
                utc(c[R.COMMIT_TIMESTAMP]),
                str(c[R.OP]),
                str(c[R.TYPE]),
                (c[R.KEY] or "") + edge,
                value,
            )
        )
    return rows


HEADERS = ("event", "committed", "op", "type", "key", "value")
# A statement's graph is left blank when it is Neptune's default named graph.
RDF_HEADERS = ("event", "committed", "op", "predicate", "object", "graph")


# -- --as-of
def state_as_of(target: Target, element_id: str, point: Point) -> ElementState:
    """The element's state at `point`, folded from all its captured changes (those after the point are counted,
    so the answer can tell "not yet" from "never captured")."""
    source = captured.Source(target.dynamodb, target.tables, target.stream_id)
    key = element_id_of(element_id)
    return fold(key, (Change.from_item(item) for item in captured.element_records(source, key)), point)


def never_captured(element_id: str, where: str) -> NoDataError:
    return nothing_found(element_id, None, None, where)


def _event(event: object) -> str:
    return str(event).replace("/", ":")


def _values(values: list[dict[str, Any]]) -> str:
    return ", ".join(f"{v[R.VALUE]!r} ({v[R.DATA_TYPE]}{', stored truncated' if v.get(R.TRUNCATED) else ''})" for v in values)


def state_lines(state: ElementState, point: Point) -> list[str]:
    """The state as lines a person reads."""
    head = f"{state.element_id} as of {point.describe()}: "
    if state.status == "not yet":
        lines = [head + f"did not exist yet (its first captured change, {_event(state.next_change)}, comes after)"]
    elif state.status == "dropped":
        lines = [head + f"had been dropped (by its change {_event(state.last)}; {state.applied} changes up to then)"]
    else:
        after = f"; {state.later} after" if state.later else ""
        lines = [head + f"present ({state.applied} changes applied, the newest {_event(state.last)}{after})"]
    out = state.as_dict()
    if "vertex" in out:
        lines.append(f"  vertex, labels: {', '.join(out['vertex']['labels']) or '(none)'}")
        lines += [f"    {key}: {_values(values)}" for key, values in out["vertex"]["properties"].items()]
    if "edge" in out:
        edge = out["edge"]
        lines.append(f"  edge {edge['label']}: {edge['from']} -> {edge['to']}")
        lines += [f"    {key}: {_values(values)}" for key, values in edge["properties"].items()]
    for statement in out.get("statements", []):
        graph = "" if statement["graph"] == f"<{NEPTUNE_DEFAULT_GRAPH}>" else f" {statement['graph']}"
        lines.append(f"  {statement['predicate']} {statement['object']}{graph}")
    if state.anomalies:
        lines.append(
            f"  note: {len(state.anomalies)} change(s) did not apply (the capture may not begin with this element's "
            f"first change): {state.anomalies[0]}"
        )
    return lines
