"""``resilience demo --metrics-port PORT`` serves the live services' metrics for Prometheus
while the story runs (in a subprocess: serving sets the global meter provider)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from resilience.__main__ import main

DEMO = "from resilience.__main__ import main; raise SystemExit(main(sys.argv[1:]))"


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        return str(response.read().decode())


def test_the_demo_serves_its_metrics_on_the_printed_url() -> None:
    command = [sys.executable, "-c", f"import sys; {DEMO}"]
    command += ["demo", "--duration", "10", "--metrics-port", "0"]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        first = demo.stdout.readline()
        assert first.startswith("metrics for Prometheus: http://127.0.0.1:")
        url = first.split(": ", 1)[1].strip()
        body = ""
        deadline = time.monotonic() + 8.0
        while 'rpc_method="shop.Catalog/Browse"' not in body and time.monotonic() < deadline:
            time.sleep(0.5)
            body = scrape(url)
        rest, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "rpc_server_call_duration_seconds_count{" in body
    assert 'rpc_method="shop.Catalog/Browse"' in body
    assert "resilience_breaker_drop_probability" in body  # the interceptors' gauges too
    assert demo.returncode == 0
    assert rest.rstrip().splitlines()[-1].startswith("done: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics-port", "70000"], "--metrics-port 70000: port must be an integer from 0"),
        (["--simulated", "--metrics-port", "0"], "--metrics-port needs the live demo"),
    ],
)
def test_a_bad_metrics_port_is_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err
