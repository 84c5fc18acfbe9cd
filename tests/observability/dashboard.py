"""Reading docs/grafana-dashboard.json: its queries with the template variables filled in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc

from resilience.events import CallInfo, CallOutcome, GaugeReading
from resilience.observability import MetricsObserver

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
_NAME = re.compile(r"\b((?:rpc|resilience|error)_[a-z_]+)\b")
_BY = re.compile(r"by \(([^)]*)\)")
_MATCHER = re.compile(r"\b([a-z_]+)\s*(?:=~|!=|!~|=)")


def queries(side: str) -> list[str]:
    """Every panel query, for ``side``, all colors and methods, a one-minute rate window."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            found.append(
                target["expr"]
                .replace("${side}", side)
                .replace("$color", ".*")
                .replace("$method", ".*")
                .replace("$__rate_interval", "1m")
            )
    return found


def metric_names() -> set[str]:
    """The Prometheus metric names the dashboard reads (without _bucket/_count suffixes)."""
    names: set[str] = set()
    for side in ("server", "client"):
        for query in queries(side):
            labels = set(_MATCHER.findall(query))
            for group in _BY.findall(query):
                labels.update(label.strip() for label in group.split(","))
            names.update(set(_NAME.findall(query)) - labels)
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


class EverySource:
    """A gauge source publishing one reading of each kind the library's sources publish."""

    def gauge_readings(self) -> list[GaugeReading]:
        method = {"method": "/echo.Echo/Say", "side": "client"}
        target = {"target": "remote"}
        return [
            GaugeReading("breaker.drop_probability", 0.5, method),
            GaugeReading("breaker.state", 1.0, method),
            GaugeReading("timeout.seconds", 0.2, method),
            GaugeReading("failover.window", 5.0, target),
            GaugeReading("failover.attempted", 2.0, target),
            GaugeReading("limiter.fallback", 1.0, {"limit": "checkout"}),
        ]


def exercise(observer: MetricsObserver) -> None:
    """Record one of everything: calls on both sides, errors, a rejection, an event."""
    for side in ("server", "client"):
        call = CallInfo(side, "/echo.Echo/Say", color="loadtest", tier=3)
        observer.call_started(call)
        observer.call_ended(call, CallOutcome(grpc.StatusCode.OK, 0.02))
        observer.call_ended(call, CallOutcome(grpc.StatusCode.UNAVAILABLE, 0.01))
        observer.call_ended(call, CallOutcome(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.0, "shed"))
        observer.call_started(call)
    observer.event("failover.attempted", {"target": "remote"})
