"""Runs the project's real Lambda handlers in-process for moto's Step Functions interpreter, which
would otherwise need Docker: an invoke hook that behaves like the Lambda service (payload in, payload
out, an unhandled exception reported as FunctionError with its errorType, a process that dies reported
as Runtime.ExitError, an invocation past its timeout reported as Sandbox.Timedout)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TextIO

from neptune_capture.contract import LambdaError
from neptune_local.template import ACCOUNT, REGION, LocalFunction

Handler = Callable[[dict[str, Any], Any], Any]
DEFAULT_TIMEOUT_SECONDS = 900.0
DEFAULT_MEMORY_MB = 128  # Lambda's default memory size
THREAD_PREFIX = "lambda-"  # every local invocation runs in a thread named for its function


class ProcessExit(BaseException):
    """The execution environment's process dying mid-invocation (killed, crashed). A BaseException, so
    the handler's own `except Exception` cannot swallow it, as it could not swallow a real crash."""


@dataclass
class LocalContext:
    function_name: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_limit_in_mb: int = 128
    aws_request_id: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(function: LocalFunction) -> Handler:
    """Loads the function's handler from its asset folder (what `cdk deploy` uploads) afresh, as a new
    Lambda execution environment would: its module-level setup (settings, clients) reads this
    pipeline's environment, not an earlier one's."""
    module_name, attribute = function.handler.rsplit(".", 1)
    path = function.code / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(f"local_lambda_{function.name.replace('-', '_')}_{_next_id()}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no handler module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler


_ids = iter(range(1, 1 << 62))


def _next_id() -> int:
    return next(_ids)


class LambdaRegistry:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.timeouts: dict[str, float] = {}
        self.memory: dict[str, int] = {}
        self.invocations: dict[str, int] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.in_flight = 0

    def register(
        self, arn: str, handler: Handler, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, memory_mb: int = DEFAULT_MEMORY_MB
    ) -> None:
        self.handlers[arn] = handler
        self.timeouts[arn] = timeout_seconds
        self.memory[arn] = memory_mb

    def invoke(self, parameters: dict[str, Any], region: str | None = None, state_credentials: Any = None) -> dict[str, Any]:
        arn = parameters["FunctionName"]
        raw = parameters.get("Payload") or b"{}"
        payload = json.loads(raw) if isinstance(raw, bytes | str) else raw
        handler = self.handlers.get(arn)
        if handler is None:
            return _error_response("ResourceNotFoundException", f"no local handler for {arn}")
        name = arn.rsplit(":", 1)[-1]
        timeout = self.timeouts[arn]
        with self.lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
            self.in_flight += 1
        outcome: dict[str, Any] = {}
        # Its own thread, so the caller can give up at the timeout as the Lambda service does; a handler
        # still blocked then stays counted in flight until it ends.
        # The context reports the template's memory size, as Lambda's does (the local run does not limit it).
        context = LocalContext(name, timeout, self.memory.get(arn, DEFAULT_MEMORY_MB))
        args = (handler, payload, context, outcome)
        worker = threading.Thread(target=self._run, args=args, name=THREAD_PREFIX + name, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            message = f"Task timed out after {timeout:.2f} seconds"
            with self.lock:
                self.errors.append(f"{LambdaError.TIMED_OUT}: {message}")
            return _error_response(LambdaError.TIMED_OUT, message)
        return outcome["response"]  # type: ignore[no-any-return]

    def _run(self, handler: Handler, payload: dict[str, Any], context: LocalContext, outcome: dict[str, Any]) -> None:
        try:
            result = handler(payload, context)
            outcome["response"] = {"StatusCode": 200, "Payload": result, "ExecutedVersion": "$LATEST"}
        except ProcessExit as exit_:
            self._failed(outcome, LambdaError.EXIT, f"Runtime exited with error: {exit_}")
        except Exception as error:  # a Lambda reports any unhandled exception as FunctionError
            self._failed(outcome, type(error).__name__, str(error), traceback.format_exc())
        finally:
            with self.lock:
                self.in_flight -= 1
                self.idle.notify_all()

    def _failed(self, outcome: dict[str, Any], error_type: str, message: str, trace: str = "") -> None:
        with self.lock:
            self.errors.append(f"{error_type}: {message}")
        outcome["response"] = _error_response(error_type, message, trace)

    def wait_idle(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.in_flight == 0, timeout)

    @contextmanager
    def installed(self) -> Iterator[LambdaRegistry]:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        original = lambda_eval_utils._invoke_lambda_function
        lambda_eval_utils._invoke_lambda_function = self.invoke
        try:
            yield self
        finally:
            lambda_eval_utils._invoke_lambda_function = original


class FunctionOutput(io.TextIOBase):
    """What an invocation prints (its log lines, its metrics) goes to the function log of the pipeline running
    now, as a Lambda's output goes to CloudWatch Logs; what the rest of the process prints still reaches the
    terminal. The log is looked up at each write, not kept: a logger a handler made under an earlier pipeline
    of the same process (Powertools configures a service's logger once) still writes to the current one."""

    active: ClassVar[TextIO | None] = None

    def __init__(self, terminal: TextIO) -> None:
        self.terminal = terminal
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        log = FunctionOutput.active
        in_function = threading.current_thread().name.startswith(THREAD_PREFIX)
        target = log if in_function and log is not None and not log.closed else self.terminal
        with self._lock:
            target.write(text)
        return len(text)

    def isatty(self) -> bool:  # progress bars and colours follow the real terminal
        return self.terminal.isatty()

    def flush(self) -> None:
        log = FunctionOutput.active
        if log is not None and not log.closed:
            log.flush()
        self.terminal.flush()


@contextmanager
def function_output_to(path: Path) -> Iterator[None]:
    """Installs FunctionOutput on stdout and stderr; handlers loaded meanwhile keep writing through it."""
    # Line-buffered: each line reaches the file as it is printed, so a reader (`neptune-stream watch`)
    # sees the run live.
    with path.open("a", encoding="utf-8", buffering=1) as log:
        saved, previous = (sys.stdout, sys.stderr), FunctionOutput.active
        FunctionOutput.active = log
        sys.stdout, sys.stderr = FunctionOutput(sys.stdout), FunctionOutput(sys.stderr)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
            FunctionOutput.active = previous


def _error_response(error_type: str, message: str, trace: str = "") -> dict[str, Any]:
    body = {"errorMessage": message, "errorType": error_type, "stackTrace": trace.splitlines()[-20:]}
    return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body, "ExecutedVersion": "$LATEST"}


__all__ = ["LambdaRegistry", "LocalContext", "ProcessExit", "function_output_to", "load_handler"]
