"""The local invoke hook answers as the Lambda service does: result, unhandled error, crash, timeout."""

from __future__ import annotations

import threading
from typing import Any

from neptune_local.lambda_runtime import LambdaRegistry, ProcessExit

ARN = "arn:aws:lambda:us-east-1:123456789012:function:neptune-stream-test"


def invoke(handler: Any, timeout: float = 600.0) -> dict[str, Any]:
    registry = LambdaRegistry()
    registry.register(ARN, handler, timeout)
    return registry.invoke({"FunctionName": ARN, "Payload": b'{"n": 2}'})


def test_a_result_is_the_payload() -> None:
    response = invoke(lambda event, context: {"double": event["n"] * 2, "left": context.get_remaining_time_in_millis() > 0})
    assert response["Payload"] == {"double": 4, "left": True} and "FunctionError" not in response


def test_an_unhandled_exception_is_a_function_error_named_by_its_type() -> None:
    def handler(event: Any, context: Any) -> None:
        raise KeyError("missing")

    response = invoke(handler)
    assert response["FunctionError"] == "Unhandled" and response["Payload"]["errorType"] == "KeyError"


def test_a_process_that_dies_is_runtime_exit_error_even_if_the_handler_catches_exceptions() -> None:
    def handler(event: Any, context: Any) -> None:
        try:
            raise ProcessExit("killed")
        except Exception:  # a real crash cannot be caught by the handler either
            pass

    response = invoke(handler)
    assert response["Payload"]["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: killed" in response["Payload"]["errorMessage"]


def test_an_invocation_past_its_timeout_is_sandbox_timedout() -> None:
    release = threading.Event()
    registry = LambdaRegistry()
    registry.register(ARN, lambda event, context: release.wait(), timeout_seconds=0.2)
    response = registry.invoke({"FunctionName": ARN, "Payload": b"{}"})
    assert response["Payload"]["errorType"] == "Sandbox.Timedout"
    assert response["Payload"]["errorMessage"] == "Task timed out after 0.20 seconds"
    assert registry.in_flight == 1, "the overrunning handler is still counted until it ends"
    release.set()
    assert registry.wait_idle(600), "the released handler never ended"
