"""The command-line parser every entry point shares (`neptune-stream`, `python -m neptune_local.demo`,
`python -m neptune_emulator`) and its value types: a bad value is refused before anything starts, in two
lines naming the argument, the value and what is accepted. Standard library only."""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from neptune_capture.contract import STACK_NAME
from neptune_entry.exit_codes import ExitCode, epilog

MAX_PORT = 65_535


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage error is two lines (the problem, then where help is) instead of the whole
    usage block, and exits with ExitCode.USAGE."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message}{did_you_mean(message, self)}\n  next: see `{self.prog} --help`\n")
        sys.exit(ExitCode.USAGE)


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)'")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (.*)")


def did_you_mean(message: str, parser: argparse.ArgumentParser) -> str:
    """ "; did you mean ...?" for a mistyped command or option (argparse's own suggest_on_error exists only from
    Python 3.14: https://docs.python.org/3.14/library/argparse.html#suggest-on-error), else nothing. Options are
    looked for in the parser and its commands' parsers: argparse reports a command's unknown option from the
    top-level parser."""
    words: list[str] = []
    if choice := _INVALID_CHOICE.search(message):
        words = [choice[1]]
    elif unknown := _UNRECOGNIZED.search(message):
        words = [w.split("=", 1)[0] for w in unknown[1].split() if w.startswith("-")]
    known = _known_words(parser)
    guesses = []
    for word in words:
        close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
        if close:
            guesses.append(close[0])
    return f"; did you mean {', '.join(guesses)}?" if guesses else ""


def _known_words(parser: argparse.ArgumentParser) -> list[str]:
    words: list[str] = []
    for action in parser._actions:  # argparse keeps no public list of its options and commands
        words += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.append(name)
                words += _known_words(sub)
        elif action.choices is not None and not action.option_strings:
            words += [str(c) for c in action.choices]
    return sorted(set(words))


def add_debug_argument(parser: argparse.ArgumentParser, default: object = False) -> None:
    parser.add_argument("--debug", action="store_true", default=default, help="show the traceback of an error")


def entry_parser(prog: str, description: str | None, add_arguments: Callable[[argparse.ArgumentParser], None]) -> CliParser:
    """The parser of a one-command entry point (`python -m neptune_emulator`, `python -m neptune_local.demo`)."""
    parser = CliParser(prog=prog, description=description, epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    add_debug_argument(parser)
    return parser


def _number(text: str, kind: Callable[[str], float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):  # "nan" and "inf" parse as floats
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            accepted = f"{minimum} to {maximum:,}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {value}")
        return value

    return parse


def float_above(minimum: float, maximum: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _number(text, float)
        if value <= minimum or (maximum is not None and value > maximum):
            accepted = f"above {minimum:g}" + (f" and at most {maximum:g}" if maximum is not None else "")
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text}")
        return value

    return parse


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"a TCP port is 1 to {MAX_PORT} (0: any free one), got {value}")
    return value


def writable_directory(text: str) -> Path:
    """A directory that exists, or that can be created where the first existing parent is writable."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    existing = next(p for p in (path, *path.resolve().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be written ({existing} is not a writable directory)")
    return path


def database_file(text: str) -> str:
    """A SQLite file to open or create (its directory must exist), or `:memory:`."""
    if text == ":memory:":
        return text
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a database file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {path.parent} does not exist (create it, or pick another path)")
    return text


def synthesized_app(text: str) -> Path:
    """A cloud assembly holding the stack's template (what `cdk synth` writes)."""
    path = Path(text)
    if not (path / f"{STACK_NAME}.template.json").is_file():
        raise argparse.ArgumentTypeError(
            f"{text} holds no {STACK_NAME}.template.json: synthesize first with `make synth` (`make demo` does it)"
        )
    return path


# CloudFormation's pattern for a stack name, [A-Za-z][A-Za-z0-9-]{0,127}
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CfnStackDetail.html); DescribeStacks also
# takes a stack id (its ARN) (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html).
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_STACK_ARN = re.compile(r"arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack/[A-Za-z][A-Za-z0-9-]{0,127}/.+")
# A shape check only (us-east-1, us-gov-west-1, cn-north-1): a well-formed name AWS does not know is
# refused by AWS, and reported as such.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def stack_name(text: str) -> str:
    if _STACK_NAME.fullmatch(text) or _STACK_ARN.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a stack name (a letter, then letters, digits or hyphens, at most 128; e.g. {STACK_NAME})"
    )


def region(text: str) -> str:
    if _REGION.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not an AWS region name (e.g. us-east-1, eu-west-2)")


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file")
    return path


def non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def event_id(text: str) -> tuple[int, int, int]:
    """(commitNum, opNum, generation) of "COMMIT:OP", or "GENERATION/COMMIT:OP" for an event of a capture
    generation after a reset (as `history` prints it)."""
    match = re.fullmatch(r"(?:(\d+)/)?(\d+):(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an event id: COMMIT:OP, e.g. 1042:3, or GENERATION/COMMIT:OP after a reset (as `history` prints it)"
        )
    return int(match[2]), int(match[3]), int(match[1] or 0)


_DURATION = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_since(text: str, now_ms: int) -> int:
    """Epoch milliseconds for `--since`: a duration back from now (90s, 15m, 2h, 7d) or an ISO 8601 date
    or time (a time without an offset is UTC)."""
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        return now_ms - int(duration[1]) * _UNIT_SECONDS[duration[2]] * 1000
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (90s, 15m, 2h, 7d) nor an ISO 8601 time (2024-05-01, 2024-05-01T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    at_ms = int(moment.timestamp() * 1000)
    if at_ms > now_ms:
        raise argparse.ArgumentTypeError(f"{text!r} is in the future")
    return at_ms


def since(text: str) -> int:
    return parse_since(text, int(datetime.now(UTC).timestamp() * 1000))
