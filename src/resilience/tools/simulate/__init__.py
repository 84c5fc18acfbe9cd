"""Deterministic simulators of the library's algorithms (``resilience simulate ...``).

``simulate failover``: a :class:`Scenario` (traffic, local failure rate and remote health over
time) run on a :class:`~resilience.testing.ManualClock` through the channels' failover decision
path, giving one :class:`PeriodRow` per period, as a table or a PNG plot. Standard scenarios
ship in ``resilience/tools/simulate/scenarios`` (see :func:`standard_scenarios`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from resilience.tools.simulate.plot import plot_failover
from resilience.tools.simulate.runner import (
    PeriodRow,
    SimulationResult,
    run_failover,
    window_recurrence,
)
from resilience.tools.simulate.scenario import Scenario, Schedule
from resilience.tools.simulate.table import format_table

__all__ = [
    "PeriodRow",
    "Scenario",
    "Schedule",
    "SimulationResult",
    "format_table",
    "load_scenario",
    "plot_failover",
    "run_failover",
    "standard_scenarios",
    "window_recurrence",
]


def standard_scenarios() -> dict[str, Path]:
    """The scenarios shipped with the library: name -> TOML file."""
    folder = resources.files("resilience.tools.simulate") / "scenarios"
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario file, or a standard scenario by name (e.g. ``"worked-trace"``)."""
    path = Path(name_or_path)
    if not path.exists():
        standard = standard_scenarios()
        if str(name_or_path) in standard:
            path = standard[str(name_or_path)]
    return Scenario.from_file(path)
