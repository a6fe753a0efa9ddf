"""Where the pipeline's transactions run: threads in Lambda and the local run, a scripted scheduler in the
tests (which then decide, example by example, in which order in-flight transactions land)."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Lanes(Protocol):
    def submit(self, fn: Callable[[], T]) -> Future[T]: ...

    def wait_any(self, futures: Collection[Future[Any]]) -> None:
        """Returns once at least one of `futures` is done."""
        ...

    def close(self) -> None: ...


class ThreadLanes:
    """A thread per transaction in flight. Each runs in a copy of the caller's context, and its name
    starts with the caller's thread name, so what the invocation set up (logging keys, the local run's
    per-invocation fault injection) follows its transactions."""

    def __init__(self, workers: int) -> None:
        prefix = f"{threading.current_thread().name}-write"
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        context = contextvars.copy_context()
        return self._executor.submit(context.run, fn)

    def wait_any(self, futures: Collection[Future[Any]]) -> None:
        wait(futures, return_when=FIRST_COMPLETED)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
