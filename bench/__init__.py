"""Benchmarks: they print measured figures and assert nothing."""

import neptune_stream  # noqa: F401 - puts the Lambda layer's code on sys.path, as for the app and tests
