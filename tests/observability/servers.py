"""Real Prometheus and bugsink servers on free loopback ports, for the end-to-end tests.

Each start is bounded in time and each server is a child process stopped by its fixture. A test
that cannot find the binary skips (``make test`` installs Prometheus; bugsink comes with the
dev extra).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ports import free_port

START_TIMEOUT = 20.0
"""Seconds a server gets to answer its readiness URL, unless its class says otherwise."""


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT
) -> None:
    """Poll ``url`` until it answers; RuntimeError (with the log's tail) when the process exits
    or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            http_get(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s:\n{log.read_text()[-2000:]}")


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5.0)


class PrometheusServer:
    """Debian's prometheus scraping every second the targets given to :meth:`scrape`."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.skip("prometheus is not installed (make test installs it)")
        self._targets = directory / "targets.json"
        self._targets.write_text("[]")
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: resilience\n    file_sd_configs:\n"
            f"      - files: ['{self._targets}']\n        refresh_interval: 1s\n"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = directory / "prometheus.log"
        with log.open("wb") as out:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until_ready(f"{self.url}/-/ready", self._process, log)

    def scrape(self, *targets: str) -> None:
        """Scrape these ``host:port`` targets (replacing the previous ones)."""
        self._targets.write_text(json.dumps([{"targets": list(targets)}]))

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result vector of an instant query."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        body = json.loads(http_get(url))
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, promql: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll ``promql`` until it returns series (bounded by ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.25)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None


BUGSINK_CONFIG_TIMEOUT = 30.0
"""Seconds for ``bugsink-create-conf`` to write the configuration (one short process)."""
BUGSINK_SETUP_TIMEOUT = 180.0
"""Seconds for one Django process to migrate both databases and create the project: 6 s of CPU,
46 s at load average 10 on two cores. One process instead of three cut the fixture's setup by a
fifth in a paired run at load 5-6.5 (25 s on average before, 21 s after)."""
BUGSINK_READY_TIMEOUT = 60.0
"""Seconds for ``runserver`` to answer its health URL (6.5 s measured at load average 6)."""
BUGSINK_EVENT_TIMEOUT = 60.0
"""Seconds for an event, once sent, to appear in bugsink's database (at once when measured)."""
BUGSINK_BOUNDS = (
    BUGSINK_CONFIG_TIMEOUT + BUGSINK_SETUP_TIMEOUT + BUGSINK_READY_TIMEOUT + BUGSINK_EVENT_TIMEOUT
)
"""The sum of the bounds above: a test that starts bugsink and waits for one event sets its
pytest timeout above it, so a step that runs out fails with its own message first."""

_SETUP = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("migrate", database="snappea", verbosity=0)
from projects.models import Project
print(Project.objects.create(name="e2e", slug="e2e").dsn)
"""
"""Run in one ``bugsink-manage shell``: Django starts once, not once per step."""


class BugsinkServer:
    """bugsink (a self-hosted server speaking the Sentry protocol) with one project.

    Its configuration and SQLite database live in ``directory``; ``dsn`` is the project's DSN.
    Events are read back from the database, where bugsink stores each event's JSON. Each
    start-up step has its own bound (``BUGSINK_*_TIMEOUT``) and a RuntimeError naming the step
    when it runs out; most of the start is Django's migrations, CPU-bound and slow on a loaded
    host.
    """

    def __init__(self, directory: Path) -> None:
        bindir = Path(sys.executable).parent
        if not (bindir / "bugsink-create-conf").exists():
            pytest.skip("bugsink is not installed (it comes with the dev extra)")
        self.port = free_port()
        self.directory = directory
        self._env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bugsink_conf",
            "PYTHONPATH": str(directory),
        }
        self._run(
            "writing the configuration",
            BUGSINK_CONFIG_TIMEOUT,
            str(bindir / "bugsink-create-conf"),
            "--template=local",
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--output-file={directory / 'bugsink_conf.py'}",
        )
        with (directory / "bugsink_conf.py").open("a") as conf:
            conf.write(
                f"\nDATABASES['default']['NAME'] = {str(directory / 'db.sqlite3')!r}\n"
                f"DATABASES['snappea']['NAME'] = {str(directory / 'snappea.sqlite3')!r}\n"
            )
        manage = str(bindir / "bugsink-manage")
        created = self._run(
            "migrating both databases and creating the project",
            BUGSINK_SETUP_TIMEOUT,
            *(manage, "shell", "-c", _SETUP),
        )
        self.dsn = created.strip().splitlines()[-1]
        log = directory / "bugsink.log"
        with log.open("wb") as out:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [manage, "runserver", f"127.0.0.1:{self.port}", "--noreload", "--nothreading"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=directory,
            )
        ready = f"http://127.0.0.1:{self.port}/health/ready"
        wait_until_ready(ready, self._process, log, BUGSINK_READY_TIMEOUT)

    def _run(self, step: str, timeout: float, *command: str) -> str:
        """Run one start-up step; its stdout, or RuntimeError naming the step."""
        try:
            done = subprocess.run(
                command,
                env=self._env,
                cwd=self.directory,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"bugsink start-up: {step} did not finish within {timeout:.0f} s "
                "(its bound in tests/observability/servers.py)"
            ) from None
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace")
            raise RuntimeError(f"bugsink start-up: {step} failed ({command[:2]}): {stderr}")
        return done.stdout.decode()

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The stored event with this Sentry event id, or None while it is not there yet
        (also while bugsink holds the database locked beyond the 5 s busy wait)."""
        try:
            with sqlite3.connect(self.directory / "db.sqlite3", timeout=5.0) as db:
                row = db.execute(
                    "SELECT data FROM events_event WHERE event_id = ?",
                    (event_id.replace("-", ""),),
                ).fetchone()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            return None
        return None if row is None else dict(json.loads(row[0]))

    def wait_for_event(
        self, event_id: str, timeout: float = BUGSINK_EVENT_TIMEOUT
    ) -> dict[str, Any]:
        """The stored event; AssertionError when it is not stored within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.event(event_id)
            if event is not None:
                return event
            if time.monotonic() > deadline:
                log = (self.directory / "bugsink.log").read_text(errors="replace")
                raise AssertionError(
                    f"bugsink did not store event {event_id} within {timeout:.0f} s of its "
                    f"sending:\n{log[-2000:]}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None
