"""Benchmarks: speed, memory and scale against same-run references. Never run by tests."""

from __future__ import annotations


def env_only(doc: str | None, argv: list[str] | None = None) -> None:
    """Benches read their settings from the environment (their docstrings list them); this
    answers --help and refuses stray arguments, which would otherwise start a long run."""
    import argparse

    argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)
