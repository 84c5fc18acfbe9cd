"""Full-link load testing: record sampled traffic, replay it or a crafted flow, colored.

- :class:`~resilience.loadtest.recorder.TrafficRecorder` samples served calls into a
  rotated recording (:mod:`resilience.loadtest.format`).
- :class:`~resilience.loadtest.flow.Flow` describes crafted calls in TOML.
- :func:`~resilience.loadtest.engine_sync.run_sync` and
  :func:`~resilience.loadtest.engine_aio.run_aio` send them on an open-loop schedule
  (:class:`~resilience.loadtest._core.LoadSettings`) and return
  :class:`~resilience.loadtest.report.Results`.

The command line is ``resilience loadtest``; see docs/load-testing.md.
"""

from __future__ import annotations

from resilience.loadtest._core import LoadSettings
from resilience.loadtest.flow import Flow, ReplaySource, WeightedPicker
from resilience.loadtest.format import CallSpec, read_recording
from resilience.loadtest.recorder import TrafficRecorder
from resilience.loadtest.report import Report, Results

__all__ = [
    "CallSpec",
    "Flow",
    "LoadSettings",
    "ReplaySource",
    "Report",
    "Results",
    "TrafficRecorder",
    "WeightedPicker",
    "read_recording",
]
