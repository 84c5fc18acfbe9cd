"""Full-link load testing: record sampled traffic, replay it or a crafted flow, colored.

- :class:`~resilience.recording.recorder.TrafficRecorder` samples served calls into a
  rotated recording (:mod:`resilience.recording.format`).
- :class:`~resilience.tools.loadtest.flow.Flow` describes crafted calls in TOML.
- :func:`~resilience.tools.loadtest.engine.run_calls` and
  :func:`~resilience.tools.loadtest.aio_engine.aio_run_calls` send them on an open-loop schedule
  (:class:`~resilience.tools.loadtest._core.LoadSettings`) and return
  :class:`~resilience.tools.loadtest.report.Results`.

The command line is ``resilience loadtest``; see docs/load-testing.md.
"""

from __future__ import annotations

from resilience.tools.loadtest._core import LoadSettings
from resilience.tools.loadtest.flow import Flow, ReplaySource, WeightedPicker
from resilience.tools.loadtest.report import Report, Results

__all__ = [
    "Flow",
    "LoadSettings",
    "ReplaySource",
    "Report",
    "Results",
    "WeightedPicker",
]
