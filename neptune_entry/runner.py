"""Runs a command body the way every entry point ends: an expected failure as two lines (the problem,
the next step) and its exit code, an unexpected one as a bug report, a traceback only with --debug."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from neptune_entry.arguments import entry_parser
from neptune_entry.errors import CliError
from neptune_entry.exit_codes import ExitCode


@dataclass
class Context:
    """What the failure messages may name: set once the command knows where it acts."""

    place: object | None = None  # neptune_ops.explain.Place (kept loose: this module stays stdlib-only)


# Turns an unexpected error into one a person can act on, given where the command acts (Context.place);
# None when it has nothing to say. The CLI and the local run pass neptune_ops.explain.explain_at (AWS and
# Neptune errors); this package imports no such thing itself.
Explainer = Callable[[Exception, object | None], CliError | None]


def run_entry_point(
    argv: list[str] | None,
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    *,
    explain: Explainer | None = None,
) -> int:
    """A one-command entry point: its arguments parsed (with --debug), then `run` guarded like every command."""
    args = entry_parser(prog, description, add_arguments).parse_args(argv)
    return guarded(lambda _: run(args), debug=args.debug, explain=explain)


def guarded(body: Callable[[Context], int], *, debug: bool, explain: Explainer | None = None) -> int:
    context = Context()
    try:
        return body(context)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except Exception as error:
        problem = error if isinstance(error, CliError) else explain(error, context.place) if explain else None
        if debug:
            traceback.print_exc()
        if problem is None:
            problem = CliError(
                f"unexpected {type(error).__name__}: {error}",
                "this is a bug: rerun with --debug and report the traceback"
                if not debug
                else "this is a bug: report the traceback above",
            )
        sys.stderr.write("\n".join(problem.lines()) + "\n")
        return problem.code
