"""The failures a person can meet and act on: each names the problem and the next step, and carries its
exit code. Standard library only (the emulator's and the demo's entry points raise them too)."""

from __future__ import annotations

from neptune_entry.exit_codes import ExitCode

START_LOCAL_RUN = "start one with `./neptune-stream demo --keep-running` (it stays up until Ctrl-C)"
OR_STACK = "or target a deployed stack with `--stack NAME`"


class CliError(Exception):
    """An expected failure: printed as two lines (the problem, then what to do), no traceback."""

    code = ExitCode.INTERNAL

    def __init__(self, problem: str, next_step: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.next_step = problem, next_step

    def lines(self) -> list[str]:
        return [f"error: {self.problem}"] + ([f"  next: {self.next_step}"] if self.next_step else [])


class UsageError(CliError):
    code = ExitCode.USAGE


class NoTargetError(CliError):
    code = ExitCode.NO_TARGET


class AwsError(CliError):
    code = ExitCode.AWS


class NeptuneError(CliError):
    code = ExitCode.NEPTUNE


class BusyError(CliError):
    code = ExitCode.BUSY


class NoDataError(CliError):
    code = ExitCode.NO_DATA


class CheckFailedError(CliError):
    code = ExitCode.CHECK_FAILED
