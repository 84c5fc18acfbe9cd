"""OpenTelemetry's gRPC instrumentation and sentry-sdk's GRPCIntegration on the same servers and
channels as the library's ``protect()`` forms, sync and aio: every shape answers, trace id,
color and tier cross two hops, and a crashed handler is reported to Sentry once, with its
method and color. (Before, a sync server stream through the instrumented channel raised
AttributeError: the instrumentation returns it as a plain generator.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("otel_sentry_protect_run.py")
pytestmark = pytest.mark.e2e


@pytest.mark.timeout(90)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_instrumented_protected_chain_carries_context_and_reports_a_crash_once(
    flavour: str,
) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), flavour],
        capture_output=True,
        timeout=80,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["answers"] == {
        "unary_unary": ["hi"],
        "unary_stream": ["hi"] * 3,
        "stream_unary": ["hihi"],
        "stream_stream": ["hi", "hi"],
    }
    root = result["root"]
    hops = [(hop, trace_id, color, tier) for hop, trace_id, color, tier, _ in result["seen"]]
    # front and back per message: 1 + 1 + 1 + 2 answered calls, then the crash
    assert len(hops) == 2 * 6
    assert set(hops) == {("front", root, "loadtest", 1), ("back", root, "loadtest", 1)}
    (event,) = result["events"]
    assert event["mechanism"] == "resilience.grpc"
    assert event["tags"]["rpc.method"] == "resilience.testing.Echo/Unary"
    assert event["tags"]["resilience.color"] == "loadtest"
    assert event["tags"]["resilience.tier"] == "1"
    assert event["tags"]["trace_id"] == root
