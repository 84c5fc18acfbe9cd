"""A run as a plain-text table, one line per period."""

from __future__ import annotations

from resilience.tools.simulate.runner import SimulationResult

_HEADER = ("t", "f", "traffic", "wanted", "admitted", "refused", "ok", "health", "success", "ampl")


def format_table(result: SimulationResult) -> str:
    """The rows of ``result`` as aligned text: ``t`` (s), ``f`` (window at the period start),
    ``traffic``, failovers ``wanted`` / ``admitted`` / ``refused`` / ``ok`` (succeeded),
    the remote ``health``, end-to-end ``success`` and the attempt ``ampl``-ification."""
    lines = [
        [
            f"{row.t:g}",
            str(row.window),
            str(row.traffic),
            str(row.wanted),
            str(row.admitted),
            str(row.refused),
            str(row.succeeded),
            f"{row.remote_health:.2f}",
            f"{row.success:.2%}",
            f"{row.amplification:.3f}",
        ]
        for row in result.rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(_HEADER)]
    scenario = result.scenario
    title = f"# {scenario.name}: {scenario.description}".rstrip(": ")
    out = [title, "  ".join(h.rjust(w) for h, w in zip(_HEADER, widths, strict=True))]
    out += ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)
