"""CDK constructs of neptune-stream, one module per concern. NeptuneStreamCapture (capture.py) composes them
into the capture of one cluster's stream; NeptuneStreamStack (stack.py) adds a network and a cluster, or an
existing cluster, and the outputs; app.py builds the app.

The names a CDK app needs are importable from here; importing them loads the CDK libraries (the package
itself loads nothing until a name is asked for, so `python -m neptune_stream.summary` stays light)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neptune_capture.contract import GraphModel, StartFrom
    from neptune_capture.tuning import CaptureTuning
    from neptune_stream.capture import CaptureConfigError, ClusterAttributes, NeptuneStreamCapture, NeptuneStreamCaptureProps
    from neptune_stream.stack import NeptuneStreamStack

__all__ = [
    "CaptureConfigError",
    "CaptureTuning",
    "ClusterAttributes",
    "GraphModel",
    "NeptuneStreamCapture",
    "NeptuneStreamCaptureProps",
    "NeptuneStreamStack",
    "StartFrom",
]
_HOMES = {
    "CaptureConfigError": "neptune_stream.capture",
    "ClusterAttributes": "neptune_stream.capture",
    "NeptuneStreamCapture": "neptune_stream.capture",
    "NeptuneStreamCaptureProps": "neptune_stream.capture",
    "NeptuneStreamStack": "neptune_stream.stack",
    "CaptureTuning": "neptune_capture.tuning",
    "GraphModel": "neptune_capture.contract",
    "StartFrom": "neptune_capture.contract",
}


def __getattr__(name: str) -> Any:
    """PEP 562: the public names load their modules on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module 'neptune_stream' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
