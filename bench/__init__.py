"""Benchmarks: speed, memory and scale against same-run references. Never run by tests."""
