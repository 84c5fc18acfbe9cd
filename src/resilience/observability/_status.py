"""The live status page: ``/status`` (an HTML page) and ``/status.json`` next to ``/metrics``.

The JSON document merges two sources, per method and side: the live call statistics of
:class:`~resilience.observability._stats.CallStats` (calls/s, error ratio, p50/p99, calls in
flight, rejections by reason and tier) and the polled gauges of a
:class:`~resilience.events.GaugeRegistry` (breaker drop probability, dynamic timeout, limiter
use per tier, overload shedding, calls holding and waiting for a bulkhead place), plus the
process-wide gauges: failover windows and counts by target, active faults and the seconds
before they lapse, limiters on their local fallback, and the library's internal errors. It
shows what the metrics endpoint shows and nothing more: bounded method names, no traffic
colors, no metadata values.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from resilience._version import __version__
from resilience.events import GaugeReading, GaugeRegistry
from resilience.observability._stats import WINDOW, CallStats
from resilience.observability._status_page import CONTENT_SECURITY_POLICY, PAGE

_METHOD_GAUGES = {
    "breaker.drop_probability": "breaker_drop_probability",
    "timeout.seconds": "timeout_s",
    "limiter.limit": "limit",
    "overload.shedding": "shedding",
    "overload.cpu": "cpu",
    "overload.inflight": "overload_in_flight",
    "bulkhead.active": "bulkhead_active",
    "bulkhead.queued": "bulkhead_queued",
}
"""Per-method readings -> their field in a method's entry. Readings with the same attributes
from several interceptors (two servers in one process) are merged as the metrics merge them:
the largest value of a gauge, the sum of a count."""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _number(value: float) -> float | None:
    """A JSON-safe number: None for infinity and NaN, else rounded to 6 significant digits."""
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _method_entry(entries: dict[tuple[str, str], dict[str, Any]], side: str, method: str) -> Any:
    entry = entries.get((side, method))
    if entry is None:
        entry = entries[(side, method)] = {
            "calls_per_s": 0.0,
            "error_ratio": None,
            "p50_s": None,
            "p99_s": None,
            "in_flight": 0,
            "rejected_per_s": {},
            "tiers": {},
        }
    return entry


def _add_method_reading(entry: dict[str, Any], reading: GaugeReading) -> None:
    name, value = reading.name, reading.value
    field = _METHOD_GAUGES.get(name)
    if field is not None:
        entry[field] = max(entry.get(field, value), value)
        return
    tier = reading.attributes.get("tier")
    if name == "limiter.used" and tier is not None:
        usage = entry["tiers"].setdefault(tier, {})
        usage["limit_used"] = usage.get("limit_used", 0.0) + value
    elif name == "overload.shedding_tier" and tier is not None:
        entry.setdefault("shedding_tiers", set()).add(tier)


def status_document(stats: CallStats, registry: GaugeRegistry) -> dict[str, Any]:
    """The ``/status.json`` document (see the module docstring and docs/status-page.md)."""
    bounds = stats.bounds
    methods = {key: dict(value) for key, value in stats.snapshot().items()}
    failover: dict[str, dict[str, float]] = {}
    faults: dict[tuple[str, str], float] = {}
    fallbacks: dict[str, bool] = {}
    internal: dict[str, float] = {}
    for reading in registry.readings():
        attributes, name = reading.attributes, reading.name
        if "method" in attributes:
            side = attributes.get("side", "server")
            entry = _method_entry(methods, side, bounds.method(attributes["method"]))
            _add_method_reading(entry, reading)
        elif name.startswith("failover.") and "target" in attributes:
            target = failover.setdefault(attributes["target"], {})
            target[name[len("failover.") :]] = reading.value
        elif name == "fault.remaining_seconds":
            rule = (attributes.get("side", ""), attributes.get("rule", ""))
            faults[rule] = max(faults.get(rule, reading.value), reading.value)
        elif name == "limiter.fallback" and "limit" in attributes:
            fallbacks[attributes["limit"]] = fallbacks.get(attributes["limit"], False) or bool(
                reading.value
            )
        elif name.startswith("internal_errors."):
            where = name[len("internal_errors.") :]
            internal[where] = internal.get(where, 0.0) + reading.value
    return {
        "version": __version__,
        "time": time.time(),
        "window_s": WINDOW,
        "methods": [
            _public(side, method, entry) for (side, method), entry in sorted(methods.items())
        ],
        "failover": [{"target": t, **counts} for t, counts in sorted(failover.items())],
        "faults": [
            {"rule": rule, "side": side, "remaining_s": _number(left)}
            for (side, rule), left in sorted(faults.items())
        ],
        "limiter_fallback": [{"limit": k, "fallback": v} for k, v in sorted(fallbacks.items())],
        "internal_errors": dict(sorted(internal.items())),
    }


def _public(side: str, method: str, entry: dict[str, Any]) -> dict[str, Any]:
    """One method's entry with JSON-safe numbers (sets as sorted lists, inf as null)."""
    out: dict[str, Any] = {"method": method, "side": side}
    for key, value in entry.items():
        if isinstance(value, set):
            out[key] = sorted(value)
        elif key == "shedding":
            out[key] = bool(value)
        elif isinstance(value, float):
            out[key] = _number(value)
        elif isinstance(value, dict):
            out[key] = {
                k: (
                    {kk: _number(vv) for kk, vv in v.items()} if isinstance(v, dict) else _number(v)
                )
                for k, v in sorted(value.items())
            }
        else:
            out[key] = value
    return out


def status_app(metrics_app: WsgiApp, stats: CallStats, registry: GaugeRegistry) -> WsgiApp:
    """A WSGI app serving ``/status`` and ``/status.json`` and handing every other path to
    ``metrics_app`` (prometheus_client's, which serves ``/metrics``)."""
    page = PAGE.encode("utf-8")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/status", "/status/"):
            return _respond(start_response, page, "text/html; charset=utf-8")
        if path == "/status.json":
            body = json.dumps(status_document(stats, registry), allow_nan=False).encode()
            return _respond(start_response, body, "application/json")
        return metrics_app(environ, start_response)

    return app


def _respond(start_response: StartResponse, body: bytes, content_type: str) -> list[bytes]:
    start_response(
        "200 OK",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ],
    )
    return [body]
