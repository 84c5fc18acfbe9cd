"""A run as a PNG: window size and failovers, end-to-end success, and the conditions.

matplotlib is an optional dependency (the ``demo`` extra), imported only when a plot is drawn;
without it :func:`plot_failover` raises :class:`~resilience.errors.MissingExtraError`.
"""

from __future__ import annotations

from pathlib import Path

from resilience._optional import require
from resilience.simulate.runner import SimulationResult


def plot_failover(result: SimulationResult, path: str | Path) -> Path:
    """Draw ``result`` to the PNG file ``path`` and return the path."""
    figure_module = require("matplotlib.figure", "demo")
    rows = result.rows
    t = [row.t for row in rows]
    figure = figure_module.Figure(figsize=(9, 7.5), layout="constrained")
    window_axes, success_axes, conditions_axes = figure.subplots(3, 1, sharex=True)

    window_axes.step(t, [row.window for row in rows], where="post", label="window f", lw=2)
    window_axes.step(t, [row.wanted for row in rows], where="post", label="failovers wanted")
    window_axes.step(t, [row.admitted for row in rows], where="post", label="admitted", ls="--")
    window_axes.step(t, [row.succeeded for row in rows], where="post", label="succeeded", ls=":")
    window_axes.set_ylabel("per period")
    window_axes.legend(loc="upper left", fontsize="small")

    success_axes.step(t, [100 * row.success for row in rows], where="post", color="tab:green")
    success_axes.set_ylabel("end-to-end success %")

    scenario = result.scenario
    conditions_axes.step(
        t, [100 * scenario.local_failure.at(x) for x in t], where="post", label="local failure %"
    )
    conditions_axes.step(
        t, [100 * row.remote_health for row in rows], where="post", label="remote health %"
    )
    conditions_axes.set_ylabel("%")
    conditions_axes.set_xlabel(f"time (s); period {scenario.period:g} s")
    conditions_axes.legend(loc="center right", fontsize="small")

    figure.suptitle(f"{scenario.name}: {scenario.description}", fontsize="medium")
    for axes in (window_axes, success_axes, conditions_axes):
        axes.grid(alpha=0.3)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path
