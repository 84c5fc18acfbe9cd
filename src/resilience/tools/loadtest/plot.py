"""A PNG of a load run over time: latency (p50, p99) and throughput (calls, errors per second).

matplotlib is optional (the ``demo`` extra) and imported only when a plot is written; the
figure is drawn with the Agg canvas directly, so the process-wide pyplot backend is untouched.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from typing import NamedTuple

from resilience._base.optional import require
from resilience.tools.loadtest.report import Results, percentile

_STEPS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class Interval(NamedTuple):
    """Calls that started in ``[start, start + width)``; rates per second, latencies in s."""

    start: float
    calls_per_s: float
    errors_per_s: float
    p50: float
    p99: float


def intervals(results: Results, *, points: int = 60) -> list[Interval]:
    """Group calls by start time into about ``points`` intervals of a round width."""
    span = max(results.offsets, default=0.0)
    width = next((step for step in _STEPS if step * points >= span), _STEPS[-1])
    latencies: dict[int, list[float]] = defaultdict(list)
    errors: dict[int, int] = defaultdict(int)
    for offset, latency, code in zip(
        results.offsets, results.latencies, results.codes, strict=True
    ):
        index = math.floor(offset / width)
        latencies[index].append(latency)
        errors[index] += code != "OK"
    rows = []
    for index in sorted(latencies):
        ordered = sorted(latencies[index])
        rows.append(
            Interval(
                index * width,
                len(ordered) / width,
                errors[index] / width,
                percentile(ordered, 50),
                percentile(ordered, 99),
            )
        )
    return rows


def write_plot(results: Results, path: str | os.PathLike[str], *, title: str = "load test") -> None:
    """Draw latency and throughput over time into the PNG file ``path``."""
    require("matplotlib", "demo")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = intervals(results)
    starts = [row.start for row in rows]
    figure = Figure(figsize=(9, 6), layout="tight")
    FigureCanvasAgg(figure)
    latency, throughput = figure.subplots(2, 1, sharex=True)
    latency.step(starts, [row.p50 * 1000 for row in rows], where="post", label="p50")
    latency.step(starts, [row.p99 * 1000 for row in rows], where="post", label="p99")
    latency.set_ylabel("latency (ms)")
    latency.set_title(title)
    latency.legend(loc="upper left")
    throughput.step(starts, [row.calls_per_s for row in rows], where="post", label="calls/s")
    throughput.step(starts, [row.errors_per_s for row in rows], where="post", label="not OK/s")
    throughput.set_ylabel("per second")
    throughput.set_xlabel("seconds since start")
    throughput.legend(loc="upper left")
    figure.savefig(os.fspath(path), format="png")
