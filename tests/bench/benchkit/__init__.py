"""Helpers of the benchmark suite: timing harness, result tables, server processes."""
