"""Template tests share the session-wide synthesized stacks from tests/conftest.py."""

from tests.conftest import Synth, resolve_join

__all__ = ["Synth", "resolve_join"]
