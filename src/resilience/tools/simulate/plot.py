"""A run as a PNG: window size and failovers, end-to-end success, and the conditions.

matplotlib is an optional dependency (the ``demo`` extra), imported only when a plot is drawn;
without it :func:`plot_failover` raises :class:`~resilience.errors.MissingExtraError`.
"""

from __future__ import annotations

from pathlib import Path

from resilience._base.optional import require
from resilience.tools.simulate.runner import SimulationResult


def plot_failover(result: SimulationResult, path: str | Path) -> Path:
    """Draw ``result`` to the PNG file ``path`` and return the path."""
    figure_module = require("matplotlib.figure", "demo")
    rows = result.rows
    scenario = result.scenario
    # each period's value is held until the next period starts, the last one until the end
    t = [row.t for row in rows] + [len(rows) * scenario.period]

    def per_period(values: list[float]) -> list[float]:
        return values + values[-1:]

    figure = figure_module.Figure(figsize=(9, 7.5), layout="constrained")
    window_axes, success_axes, conditions_axes = figure.subplots(3, 1, sharex=True)

    for field, label, style in (
        ("window", "window f", {"lw": 2}),
        ("wanted", "failovers wanted", {}),
        ("admitted", "admitted", {"ls": "--"}),
        ("succeeded", "succeeded", {"ls": ":"}),
    ):
        values = per_period([float(getattr(row, field)) for row in rows])
        window_axes.step(t, values, where="post", label=label, **style)
    window_axes.set_ylabel("per period")
    window_axes.legend(loc="upper left", fontsize="small")

    success = per_period([100 * row.success for row in rows])
    success_axes.step(t, success, where="post", color="tab:green")
    success_axes.set_ylabel("end-to-end success %")

    local = per_period([100 * scenario.local_failure.at(row.t) for row in rows])
    remote = per_period([100 * row.remote_health for row in rows])
    conditions_axes.step(t, local, where="post", label="local failure %")
    conditions_axes.step(t, remote, where="post", label="remote health %")
    conditions_axes.set_ylabel("%")
    conditions_axes.set_xlabel(f"time (s); period {scenario.period:g} s")
    conditions_axes.legend(loc="center right", fontsize="small")

    figure.suptitle(f"{scenario.name}: {scenario.description}", fontsize="medium")
    for axes in (window_axes, success_axes, conditions_axes):
        axes.grid(alpha=0.3)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path
