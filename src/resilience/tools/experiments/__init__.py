"""Chaos experiments: faults switched on for a bounded time while a load runs, with a report
of the baseline, fault and recovery phases (``resilience chaos run``)."""

from __future__ import annotations

from resilience.tools.experiments._experiment import Experiment
from resilience.tools.experiments._run import (
    AdminSwitch,
    ExperimentReport,
    InProcessSwitch,
    run_experiment,
)

__all__ = ["AdminSwitch", "Experiment", "ExperimentReport", "InProcessSwitch", "run_experiment"]
