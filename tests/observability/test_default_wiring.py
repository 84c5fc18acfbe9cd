"""Interceptors built with no arguments record metrics and publish their gauges by default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("default_wiring_run.py")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("built", ["after serve_metrics", "before serve_metrics"])
def test_default_interceptors_feed_the_global_meter_provider(built: str) -> None:
    late = ["late"] if built.startswith("before") else []
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *late],
        capture_output=True,
        timeout=50,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    scrape = done.stdout
    for side in ("server", "client"):
        for method in ("Unary", "ServerStream"):
            series = f'rpc_method="resilience.testing.Echo/{method}"'
            lines = [
                line
                for line in scrape.splitlines()
                if line.startswith(f"rpc_{side}_call_duration_seconds_count{{") and series in line
            ]
            assert len(lines) == 1, (side, method)
            assert lines[0].endswith(" 1.0"), lines[0]
    breaker = [line for line in scrape.splitlines() if line.startswith("resilience_breaker_state{")]
    assert any('rpc_method="resilience.testing.Echo/Unary"' in line for line in breaker)
