"""A real Prometheus scrapes serve_metrics and sees the series with their labels and values."""

from __future__ import annotations

import grpc
import pytest

from resilience.events import CallInfo, CallOutcome, GaugeReading, GaugeRegistry
from resilience.observability import MetricsObserver, serve_metrics

from .dashboard import queries
from .servers import PrometheusServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


class Breaker:
    def gauge_readings(self) -> list[GaugeReading]:
        return [GaugeReading("breaker.drop_probability", 0.25, {"rpc.method": "echo.Echo/Say"})]


def test_prometheus_finds_the_golden_signals_and_decisions(
    prometheus_server: PrometheusServer,
) -> None:
    with serve_metrics(0, set_global=False) as endpoint:
        gauges = GaugeRegistry()
        breaker = Breaker()
        gauges.register(breaker)
        observer = MetricsObserver(meter_provider=endpoint.meter_provider, gauges=gauges)
        say = CallInfo("server", "/echo.Echo/Say", color="loadtest", tier=3)
        for code in [grpc.StatusCode.OK] * 3 + [grpc.StatusCode.UNAVAILABLE]:
            observer.call_started(say)
            observer.call_ended(say, CallOutcome(code, 0.02))
        observer.call_ended(say, CallOutcome(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.0, "shed"))
        observer.call_started(CallInfo("server", "/echo.Echo/Slow"))  # still in flight

        prometheus_server.scrape(f"127.0.0.1:{endpoint.port}")
        calls = prometheus_server.wait_for(
            'rpc_server_call_duration_seconds_count{rpc_method="echo.Echo/Say"}'
        )
        by_code = {s["metric"]["rpc_response_status_code"]: float(s["value"][1]) for s in calls}
        assert by_code == {"OK": 3.0, "UNAVAILABLE": 1.0, "RESOURCE_EXHAUSTED": 1.0}
        (errors,) = prometheus_server.query(
            'rpc_server_call_duration_seconds_count{error_type="UNAVAILABLE"}'
        )
        assert errors["metric"]["resilience_color"] == "loadtest"
        assert errors["metric"]["rpc_system_name"] == "grpc"

        (shed,) = prometheus_server.query("resilience_rejections_total")
        assert shed["metric"]["resilience_reject_reason"] == "shed"
        assert shed["metric"]["resilience_tier"] == "3"
        assert float(shed["value"][1]) == 1.0

        (in_flight,) = prometheus_server.query(
            'resilience_server_active_calls{rpc_method="echo.Echo/Slow"}'
        )
        assert float(in_flight["value"][1]) == 1.0
        (drop,) = prometheus_server.query("resilience_breaker_drop_probability")
        assert float(drop["value"][1]) == 0.25

        # Every dashboard query is valid PromQL here, and the traffic panel shows the calls.
        for side in ("server", "client"):
            for query in queries(side):
                prometheus_server.query(query)
        (traffic,) = prometheus_server.wait_for(queries("server")[0])
        assert traffic["metric"] == {"rpc_method": "echo.Echo/Say"}
        prometheus_server.scrape()
