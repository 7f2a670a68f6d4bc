"""Every benchmark script still runs (``--quick``), so none rots unnoticed.

The figures are not checked: timing belongs to the scripts, run by hand.
What is checked is that each script runs to the end and prints its
targets, measured the shared way (``benchmarks/_measure.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))
TIMEOUT = 300.0


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_the_benchmark_script_runs_and_prints_its_method(script: str) -> None:
    if script == "bench_tls.py":
        pytest.importorskip("trustme")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "median of paired ratios" in done.stdout, done.stdout[-2000:]


def test_every_benchmark_script_measures_through_the_shared_module() -> None:
    for script in SCRIPTS:
        text = (BENCHMARKS / script).read_text(encoding="utf-8")
        assert "from _measure import" in text, script
