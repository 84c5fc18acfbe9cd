"""Regenerate docs/img/failover-<scenario>.png from the standard failover scenarios.

Run from the repository root: ``python docs/scripts/plot_failover.py``. The simulator is
deterministic, so the plots only change when a scenario or the algorithm does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from resilience.tools.simulate import load_scenario, plot_failover, run_failover, standard_scenarios

OUT = Path(__file__).resolve().parent.parent / "img"


def main() -> int:
    """Write one PNG per standard scenario; return the exit code."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sorted(standard_scenarios()):
        path = plot_failover(run_failover(load_scenario(name)), OUT / f"failover-{name}.png")
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
