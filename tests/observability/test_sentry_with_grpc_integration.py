"""With sentry-sdk's own gRPC integration also on, a handler crash is reported exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("sentry_grpc_integration_run.py")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("flags", [[], ["--no-dedupe"]], ids=["defaults", "no-dedupe"])
def test_a_crash_is_reported_once_per_server_kind(flags: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *flags],
        capture_output=True,
        timeout=50,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = json.loads(done.stdout)
    for kind in ("sync", "aio"):
        (event,) = events[kind]
        assert event["mechanism"] == "resilience.grpc", kind
        assert event["tags"]["rpc.method"] == "resilience.testing.Echo/Unary", kind
