"""The benches read their settings from the environment; their command lines only explain."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["bench.run", "bench.scale_out"])
def test_help_lists_the_settings_and_runs_nothing(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert "BENCH_" in out.stdout


@pytest.mark.parametrize("module", ["bench.run", "bench.scale_out"])
def test_a_stray_argument_is_refused_not_ignored(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--sizes", "1000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "unrecognized arguments: --sizes 1000" in out.stderr
