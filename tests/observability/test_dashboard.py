"""The Grafana dashboard reads metrics the library really exports."""

from __future__ import annotations

import re
import urllib.request

from resilience.events import GaugeRegistry
from resilience.observability import MetricsObserver, serve_metrics

from .dashboard import EverySource, exercise, metric_names


def test_every_metric_on_the_dashboard_is_exported() -> None:
    with serve_metrics(0, set_global=False) as server:
        gauges = GaugeRegistry()
        source = EverySource()
        gauges.register(source)
        exercise(MetricsObserver(meter_provider=server.meter_provider, gauges=gauges))
        with urllib.request.urlopen(server.url, timeout=5.0) as response:
            body = response.read().decode()
    exported = set(re.findall(r"^# TYPE (\S+) ", body, flags=re.MULTILINE))
    assert metric_names() - exported == set()
    assert {"rpc_server_call_duration_seconds", "resilience_failovers_total"} <= metric_names()
