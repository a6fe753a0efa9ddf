"""Bad input and expected failures through the real entry point (`./neptune-stream` as a subprocess), none
of which needs a server: each ends with its documented exit code and a message naming the problem and
the next step, never a traceback (one appears with --debug only)."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

import pytest

from neptune_capture.contract import LOCAL_ENDPOINTS_FILE, Output
from neptune_entry.exit_codes import ExitCode
from tests.cli_entry import assert_fails, closed_port, run_cli, without_aws_credentials

# No server, but some forty processes of the installed entry point: part of `make test`, kept out of the
# fast tier (`make unit`) for time.
pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--changes", "-5"], ["--changes", "at least 1", "-5"]),
        (["--changes", "many"], ["--changes", "not a whole number"]),
        (["--rate", "0"], ["--rate", "above 0"]),
        (["--iterations-per-execution", "0"], ["--iterations-per-execution"]),
        (["--time-budget", "1000"], ["--time-budget", "at most 900"]),
        (["--drain-timeout", "-1"], ["--drain-timeout"]),
    ],
)
def test_demo_refuses_bad_arguments_before_starting_anything(args: list[str], words: list[str]) -> None:
    assert_fails(run_cli("demo", *args), ExitCode.USAGE, *words, "demo --help")


def test_demo_without_a_synthesized_app_says_to_synthesize(tmp_path: Path) -> None:
    assert_fails(run_cli("demo", "--cdk-out", str(tmp_path)), ExitCode.USAGE, "NeptuneStream.template.json", "make synth")


def test_demo_refuses_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    assert_fails(run_cli("demo", "--data-dir", str(tmp_path / "f")), ExitCode.USAGE, "is not a directory")


def test_emulator_refuses_a_port_out_of_range() -> None:
    assert_fails(run_cli("emulator", "--port", "99999"), ExitCode.USAGE, "--port", "1 to 65535", "99999")


def test_emulator_on_a_port_in_use_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_fails(run_cli("emulator", "--port", str(port)), ExitCode.BUSY, f"port {port}", "already in use", "--port 0")


def test_emulator_refuses_a_file_that_is_not_its_database(tmp_path: Path) -> None:
    (tmp_path / "graph.db").write_text("not sqlite")
    assert_fails(run_cli("emulator", "--db", str(tmp_path / "graph.db"), "--port", "0"), ExitCode.USAGE, "not a database")
    assert_fails(run_cli("emulator", "--db", str(tmp_path / "no" / "graph.db")), ExitCode.USAGE, "does not exist")


@pytest.mark.parametrize("command", [["status"], ["history", "v1"], ["stop"], ["reset", "--yes"]])
def test_without_a_local_run_every_command_says_how_to_start_one(command: list[str], tmp_path: Path) -> None:
    assert_fails(
        run_cli(*command, "--data-dir", str(tmp_path)), ExitCode.NO_TARGET, "no local run found", "demo --keep-running", "--stack"
    )


def _endpoints(data_dir: Path, port: int) -> None:
    outputs = {
        Output.RECORDS_TABLE: "r",
        Output.HISTORY_TABLE: "h",
        Output.CHECKPOINT_TABLE: "c",
        Output.STATE_MACHINE: "arn:aws:states:us-east-1:123456789012:stateMachine:neptune-stream",
        Output.STATUS_FUNCTION: "s",
        Output.RESET_FUNCTION: "x",
    }
    url = f"http://127.0.0.1:{port}"
    (data_dir / LOCAL_ENDPOINTS_FILE).write_text(json.dumps({"neptune": url, "gremlin": url, "aws": url, "outputs": outputs}))


@pytest.mark.parametrize("command", [["start"], ["watch", "--once"]])
def test_a_stale_endpoints_file_is_named_as_such(command: list[str], tmp_path: Path) -> None:
    """What a finished `make demo` leaves behind: ports that answer nothing."""
    port = closed_port()
    _endpoints(tmp_path, port)
    result = run_cli(*command, "--data-dir", str(tmp_path))
    assert_fails(result, ExitCode.NO_TARGET, f"127.0.0.1:{port}", "has ended", "demo --keep-running")


def test_debug_shows_the_traceback_too(tmp_path: Path) -> None:
    _endpoints(tmp_path, closed_port())
    result = run_cli("status", "--data-dir", str(tmp_path), "--debug")
    assert result.returncode == ExitCode.NO_TARGET
    assert "Traceback" in result.stderr and "EndpointConnectionError" in result.stderr
    assert result.stderr.strip().splitlines()[-2].startswith("error: no local run answers")


def test_a_damaged_endpoints_file_is_named(tmp_path: Path) -> None:
    (tmp_path / LOCAL_ENDPOINTS_FILE).write_text("{not json")
    assert_fails(run_cli("status", "--data-dir", str(tmp_path)), ExitCode.NO_TARGET, "is not a local run's endpoints file")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["reset"], ["erases the whole Neptune graph", "--yes"]),
        (["history", "v1", "--after", "12"], ["--after", "COMMIT:OP"]),
        (["history", "v1", "--since", "yesterday"], ["--since", "neither a duration"]),
        (["history", "v1", "--limit", "0"], ["--limit", "1 to 10,000"]),
        (["history", ""], ["ELEMENT_ID", "must not be empty"]),
        (["status", "--region", "us-east-1"], ["--region and --profile apply to a deployed stack only", "--stack"]),
        (["status", "--stack", "my_stack"], ["--stack", "not a stack name"]),
        (["status", "--stack", "NeptuneStream", "--region", "useast1"], ["--region", "not an AWS region name"]),
        (["watch", "--interval", "0"], ["--interval", "above 0"]),
        (["watch", "--once", "--iterations", "3"], ["not allowed with argument"]),
    ],
)
def test_bad_arguments_are_refused_with_the_argument_named(args: list[str], words: list[str], tmp_path: Path) -> None:
    assert_fails(run_cli(*args), ExitCode.USAGE, *words)


def test_both_targets_at_once_is_refused(tmp_path: Path) -> None:
    assert_fails(run_cli("status", "--stack", "NeptuneStream", "--data-dir", str(tmp_path)), ExitCode.USAGE, "give one of them")


def test_a_deployed_stack_without_credentials_says_how_to_sign_in(tmp_path: Path) -> None:
    env = without_aws_credentials(tmp_path, AWS_REGION="us-east-1")
    result = run_cli("status", "--stack", "NeptuneStream", env=env)
    assert_fails(result, ExitCode.AWS, "no usable AWS credentials", "aws sso login")


def test_a_deployed_stack_without_a_region_says_how_to_set_one(tmp_path: Path) -> None:
    env = without_aws_credentials(tmp_path, AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b")
    assert_fails(run_cli("start", "--stack", "NeptuneStream", env=env), ExitCode.AWS, "no AWS region", "--region")


def test_an_unknown_profile_is_named(tmp_path: Path) -> None:
    env = without_aws_credentials(tmp_path)
    assert_fails(run_cli("status", "--stack", "NeptuneStream", "--profile", "nightshift", env=env), ExitCode.AWS, "nightshift")


def test_an_unreachable_aws_endpoint_is_named(tmp_path: Path) -> None:
    port = closed_port()
    env = without_aws_credentials(
        tmp_path, AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b", AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}"
    )
    result = run_cli("status", "--stack", "NeptuneStream", "--region", "eu-west-1", env=env)
    assert_fails(result, ExitCode.AWS, f"cannot reach AWS at http://127.0.0.1:{port}", "region eu-west-1", "--region")


def test_help_documents_every_exit_code_for_every_command() -> None:
    from neptune_cli.main import build_parser

    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert all(f"{code.value:>3}  " in result.stdout for code in ExitCode)
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        assert all(f"{code.value:>3}  " in parser.format_help() for code in ExitCode), name
