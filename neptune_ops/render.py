"""How answers are shown: a rich table on a terminal, plain `key: value` lines when the output is a pipe
or a file, JSON with --json. Pure formatting, no I/O besides the console it is given."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

MINUTE, HOUR, DAY = 60, 3600, 86_400


def make_console() -> Console:
    """The console every command prints to. On a pipe or in a log file rich would wrap lines at 80 columns
    (its width when there is no terminal, https://rich.readthedocs.io/en/stable/console.html#terminal-detection):
    there a line is written as long as it is."""
    console = Console()
    if not console.is_terminal:
        console.soft_wrap = True
    return console


def now_ms() -> int:
    return int(time.time() * 1000)


def duration(seconds: float) -> str:
    """A duration as a person reads it: 0.25 s, 42 s, 3 min 5 s, 2 h 10 min, 3 d 4 h."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < MINUTE:
        return f"{seconds:.0f} s"
    whole = int(seconds)
    if whole < HOUR:
        return f"{whole // MINUTE} min {whole % MINUTE} s"
    if whole < DAY:
        return f"{whole // HOUR} h {whole % HOUR // MINUTE} min"
    return f"{whole // DAY} d {whole % DAY // HOUR} h"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """ "1 execution", "2 executions", "0 executions"."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when(ms: int, now_ms: int) -> str:
    """An instant with how long ago (or how far ahead) it is."""
    delta = (now_ms - ms) / 1000
    relative = f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"
    return f"{relative} ({utc(ms)})"


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    level: str = "ok"  # ok, warn or bad: the colour on a terminal


STYLES = {"ok": "", "warn": "yellow", "bad": "bold red"}


def rows_table(title: str, rows: Sequence[Row]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for row in rows:
        table.add_row(escape(row.label), escape(row.value), style=STYLES[row.level])
    return table


def show_rows(console: Console, title: str, rows: Sequence[Row]) -> None:
    if console.is_terminal:
        console.print(rows_table(title, rows))
        return
    width = max((len(r.label) for r in rows), default=0)
    console.print(title, markup=False, highlight=False)
    for row in rows:
        console.print(f"  {row.label + ':':<{width + 1}} {row.value}", markup=False, highlight=False, soft_wrap=True)


def show_json(console: Console, value: Any) -> None:
    console.print(json.dumps(value, indent=2, default=str), markup=False, highlight=False, soft_wrap=True)


def show_line(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)
