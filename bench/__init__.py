"""Benchmarks: they print measured figures and assert nothing."""
