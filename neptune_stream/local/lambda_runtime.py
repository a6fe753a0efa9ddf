"""Runs the project's real Lambda handlers in-process for moto's Step Functions interpreter, which
would otherwise need Docker: an invoke hook that behaves like the Lambda service (payload in, payload
out, an unhandled exception reported as FunctionError with its errorType)."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from neptune_stream import LAMBDAS
from neptune_stream.local.template import ACCOUNT, REGION

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    function_name: str
    timeout_seconds: float = 900.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(folder: str) -> Handler:
    """Loads lambdas/<folder>/index.py afresh, as a new Lambda execution environment would: its
    module-level setup (settings, clients) reads this pipeline's environment, not an earlier one's."""
    path = LAMBDAS / folder / "index.py"
    spec = importlib.util.spec_from_file_location(f"neptune_stream_local_{folder}_{_next_id()}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


_ids = iter(range(1, 1 << 62))


def _next_id() -> int:
    return next(_ids)


class LambdaRegistry:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.invocations: dict[str, int] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.in_flight = 0

    def register(self, arn: str, handler: Handler) -> None:
        self.handlers[arn] = handler

    def invoke(self, parameters: dict[str, Any], region: str | None = None, state_credentials: Any = None) -> dict[str, Any]:
        arn = parameters["FunctionName"]
        raw = parameters.get("Payload") or b"{}"
        payload = json.loads(raw) if isinstance(raw, bytes | str) else raw
        handler = self.handlers.get(arn)
        if handler is None:
            return _error_response("ResourceNotFoundException", f"no local handler for {arn}")
        name = arn.rsplit(":", 1)[-1]
        with self.lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
            self.in_flight += 1
        try:
            result = handler(payload, LocalContext(name))
        except Exception as error:  # a Lambda reports any unhandled exception as FunctionError
            with self.lock:
                self.errors.append(f"{type(error).__name__}: {error}")
            return _error_response(type(error).__name__, str(error), traceback.format_exc())
        finally:
            with self.lock:
                self.in_flight -= 1
                self.idle.notify_all()
        return {"StatusCode": 200, "Payload": result, "ExecutedVersion": "$LATEST"}

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


def _error_response(error_type: str, message: str, trace: str = "") -> dict[str, Any]:
    body = {"errorMessage": message, "errorType": error_type, "stackTrace": trace.splitlines()[-20:]}
    return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body, "ExecutedVersion": "$LATEST"}


__all__ = ["LambdaRegistry", "LocalContext", "load_handler"]
