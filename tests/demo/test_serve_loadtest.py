"""``resilience demo --serve`` keeps both centers up for ``resilience loadtest``: the printed
command works, its color reaches the backend, and the metrics show the gateway's calls."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from resilience.__main__ import main


def test_the_printed_loadtest_command_reports_and_plots(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "resilience", "demo", "--serve", "--duration", "60"]
    errors = (tmp_path / "stderr.txt").open("w")
    server = subprocess.Popen(
        [*command, "--metrics-port", "0"],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT below prints every thread
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(6)]
        url = lines[0].split(": ", 1)[1].strip()
        printed = next(line for line in lines if line.strip().startswith("resilience loadtest"))
        argv = shlex.split(printed)[1:]
        argv[argv.index("--duration") + 1] = "2"
        argv[argv.index("--plot") + 1] = str(tmp_path / "load.png")
        argv += ["--json", str(tmp_path / "report.json"), "--no-progress"]

        assert main(argv) == 0

        report = json.loads((tmp_path / "report.json").read_text())
        with urllib.request.urlopen(url, timeout=5.0) as response:
            metrics = response.read().decode()
    finally:
        # SIGTERM, which the demo turns into Ctrl-C's interrupt. Not SIGINT itself: a suite run
        # as a shell's background job ignores SIGINT, and the demo would inherit that.
        server.send_signal(signal.SIGTERM)
        rest = _stopped_output(server, tmp_path / "stderr.txt")
    assert (tmp_path / "load.png").read_bytes()[:4] == b"\x89PNG"
    codes, reasons = report["codes"], report["reject_reasons"]
    assert codes.get("OK", 0) > 0  # the calls reach the backend through the gateway
    # Under the limit: at the printed rate the gateway's limit sheds no call. A loaded host may
    # still fail a few, and only so: the dynamic timeout cuts a backend call the host held
    # (DEADLINE_EXCEEDED), and the breaker then drops some (reject reason "breaker").
    failed = report["calls"] - codes.get("OK", 0)
    assert failed == codes.get("DEADLINE_EXCEEDED", 0) + reasons.get("breaker", 0), (codes, reasons)
    assert 'rpc_method="shop.Catalog/Browse"' in metrics
    assert server.returncode == 0
    served = rest.strip().splitlines()[-1]
    assert served.startswith("stopped; the local backend served ")
    assert not served.endswith(" 0 of them colored 'loadtest'")  # the color crossed two hops


def _stopped_output(server: subprocess.Popen[str], stderr: Path) -> str:
    """The server's remaining output once it has stopped (60 s at most, a loaded host's
    margin); if it has not stopped by then, its threads' stacks (faulthandler) in the failure."""
    try:
        rest, _ = server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.send_signal(signal.SIGABRT)
        server.communicate(timeout=10)
        pytest.fail(
            f"demo --serve did not stop within 60 s of Ctrl-C:\n{stderr.read_text()[-20000:]}"
        )
    return rest
