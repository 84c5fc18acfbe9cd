"""serve_metrics exposes the observer's metrics for Prometheus and stops cleanly."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import grpc
import pytest

from resilience.errors import ConfigError, MissingExtraError
from resilience.events import CallInfo, CallOutcome, GaugeRegistry
from resilience.observability import MetricsObserver, serve_metrics


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        return str(response.read().decode())


def test_port_zero_serves_the_metrics_on_a_free_port() -> None:
    with serve_metrics(0, set_global=False) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        observer = MetricsObserver(meter_provider=server.meter_provider, gauges=GaugeRegistry())
        call = CallInfo("server", "/echo.Echo/Say", color="loadtest")
        observer.call_started(call)
        observer.call_ended(call, CallOutcome(grpc.StatusCode.OK, 0.02))
        body = scrape(server.url)
    assert "rpc_server_call_duration_seconds_count{" in body
    assert 'rpc_method="echo.Echo/Say"' in body
    assert 'resilience_color="loadtest"' in body
    with pytest.raises(urllib.error.URLError):
        scrape(server.url)
    server.stop()  # a second stop is harmless


@pytest.mark.parametrize(
    ("port", "host", "message"),
    [(-1, "127.0.0.1", "port must be"), (70000, "127.0.0.1", "port must be"), (0, "", "host")],
)
def test_bad_arguments_are_refused(port: int, host: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        serve_metrics(port, host, set_global=False)


def test_a_missing_exporter_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.prometheus", None)
    with pytest.raises(MissingExtraError, match=r"grpc-resilience\[otel\]"):
        serve_metrics(0, set_global=False)


def test_the_port_comes_from_the_environment_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESILIENCE_METRICS_PORT", "0")  # 0: a free port
    with serve_metrics(set_global=False) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        scrape(server.url)  # answers


def test_an_explicit_port_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESILIENCE_METRICS_PORT", "not a port")  # never read
    with serve_metrics(0, set_global=False) as server:
        assert server.port > 0


@pytest.mark.parametrize("value", ["not a port", "70000", "-1", "80.5"])
def test_a_bad_port_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RESILIENCE_METRICS_PORT", value)
    with pytest.raises(ConfigError, match=r"^RESILIENCE_METRICS_PORT: must be a port number"):
        serve_metrics(set_global=False)


def test_the_status_page_is_served_beside_the_metrics_and_can_be_left_out() -> None:
    from resilience.observability._stats import default_call_stats

    with serve_metrics(0, set_global=False) as server:
        assert server.status_url == f"http://127.0.0.1:{server.port}/status"
        with urllib.request.urlopen(server.status_url, timeout=5.0) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            assert b"<title>resilience status</title>" in response.read()
        assert default_call_stats().active
        assert scrape(server.status_url + ".json").startswith('{"version"')
    assert not default_call_stats().active  # stopping the page stops the statistics
    with serve_metrics(0, set_global=False, status=False) as server:
        assert not default_call_stats().active
        assert "resilience status" not in scrape(server.status_url)
