"""The demo's timeline as a PNG: the signals of the live view, one panel each, phases shaded."""

from __future__ import annotations

import os
from collections.abc import Sequence

from resilience.tools.cli._demo_script import PHASES, Sample
from resilience.tools.cli._demo_words import ROWS, split

_STYLES = {"loadtest": "--", "writes": ":"}


def plot_timeline(samples: Sequence[Sample], path: str, *, title: str) -> str:
    """Draw ``samples`` to the PNG ``path`` (parent folders created); returns ``path``.
    Needs matplotlib (the ``demo`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    at = [s.at for s in samples]
    figure, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True, constrained_layout=True)
    success, breaker, timeout, failover = axes
    for row in ROWS:
        shares = []
        for sample in samples:
            calls, ok, *_ = split(sample.counts, row)
            shares.append(100.0 * ok / calls if calls else float("nan"))
        success.plot(at, shares, _STYLES.get(row, "-"), label=row, linewidth=1.6)
    success.set_ylabel("calls ok (%)")
    success.set_ylim(-5, 105)
    success.legend(loc="lower left", ncol=6, fontsize=8)
    breaker.plot(at, [s.drop_probability for s in samples], color="tab:red")
    breaker.set_ylabel("breaker drop p")
    breaker.set_ylim(-0.05, 1.0)
    timeout.plot(at, [s.timeout * 1000 for s in samples], color="tab:purple")
    timeout.set_ylabel("dynamic timeout (ms)")
    timeout.set_ylim(bottom=0)
    failover.plot(at, [s.window for s in samples], color="tab:gray", label="retry window (per s)")
    starts = [t - 1 for t in at]  # each sample covers the second that ends at its time
    failover.bar(
        starts,
        [s.failovers for s in samples],
        width=0.9,
        color="tab:green",
        label="failovers sent",
        align="edge",
    )
    failover.bar(
        starts,
        [-s.refused for s in samples],
        width=0.9,
        color="tab:orange",
        label="failovers refused (below 0)",
        align="edge",
    )
    failover.set_ylabel("failovers / s")
    failover.set_xlabel("seconds since the script started")
    failover.legend(loc="upper left", fontsize=8)
    _shade_phases(samples, axes)
    figure.suptitle(title)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _shade_phases(samples: Sequence[Sample], axes: Sequence[object]) -> None:
    start = 0.0
    for index, phase in enumerate(PHASES):
        ends = [s.at for s in samples if s.phase == phase.name]
        if not ends:
            continue
        end = max(ends)
        for axis in axes:
            if index % 2:
                axis.axvspan(start, end, color="0.92", zorder=0)  # type: ignore[attr-defined]
        axes[0].text(  # type: ignore[attr-defined]
            (start + end) / 2, 107, phase.name, ha="center", va="bottom", fontsize=8
        )
        start = end
