"""Helpers shared by the benchmark scripts: timing, medians, tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def best_of(fn: Callable[[], float], repeat: int) -> list[float]:
    """Run *fn* (which returns seconds) *repeat* times; return every figure."""
    return [fn() for _ in range(repeat)]


def interleaved(
    cases: dict[str, Callable[[], float]], repeat: int
) -> dict[str, list[float]]:
    """Run every case once per round, *repeat* rounds, so drift hits all alike."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            out[name].append(fn())
    return out


def table(title: str, rows: Sequence[tuple[str, float, float]], unit: str) -> str:
    """Format ``(name, median, ratio)`` rows."""
    lines = [title, f"  {'case':<28} {'median ' + unit:>16} {'ratio':>8}"]
    for name, median, ratio in rows:
        lines.append(f"  {name:<28} {median:>16.3f} {ratio:>7.3f}x")
    return "\n".join(lines)


def ratios(
    results: dict[str, list[float]], baseline: str, scale: float = 1.0
) -> list[tuple[str, float, float]]:
    """Median of each case and its ratio to *baseline*'s median."""
    base = statistics.median(results[baseline])
    return [
        (name, statistics.median(vals) * scale, statistics.median(vals) / base)
        for name, vals in results.items()
    ]


now = time.perf_counter
