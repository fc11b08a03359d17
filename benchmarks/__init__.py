"""Benchmarks run as scripts (``python -m benchmarks.<name>``), not collected as tests."""
