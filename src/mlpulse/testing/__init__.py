"""Helpers for tests and benchmarks: a collector in a child process, fakes, strategies."""
