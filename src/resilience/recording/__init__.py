"""Traffic recording on servers: sampled calls written to a rotated, private JSON-lines file.

- :class:`TrafficRecorder` samples served calls into a recording.
- :func:`recording_hook` plugs a recorder into a server interceptor.
- :func:`read_recording` reads a recording back as :class:`CallSpec` values, which
  ``resilience loadtest`` replays (:mod:`resilience.tools.loadtest`).
"""

from __future__ import annotations

from resilience.recording.format import CallSpec, read_recording
from resilience.recording.hook import recording_hook
from resilience.recording.recorder import TrafficRecorder

__all__ = ["CallSpec", "TrafficRecorder", "read_recording", "recording_hook"]
