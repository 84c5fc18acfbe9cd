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


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            http_get(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{url} not ready after {START_TIMEOUT}s:\n{log.read_text()[-2000:]}")


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


class BugsinkServer:
    """bugsink (a self-hosted server speaking the Sentry protocol) with one project.

    Its configuration and SQLite database live in ``directory``; ``dsn`` is the project's DSN.
    Events are read back from the database, where bugsink stores each event's JSON.
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
        self._run(manage, "migrate", "-v0")
        self._run(manage, "migrate", "--database=snappea", "-v0")
        created = self._run(
            manage,
            "shell",
            "-c",
            "from projects.models import Project;"
            "print(Project.objects.create(name='e2e', slug='e2e').dsn)",
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
        wait_until_ready(f"http://127.0.0.1:{self.port}/health/ready", self._process, log)

    def _run(self, *command: str) -> str:
        done = subprocess.run(
            command,
            env=self._env,
            cwd=self.directory,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[:2]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The stored event with this Sentry event id, or None while it is not there yet."""
        with sqlite3.connect(self.directory / "db.sqlite3", timeout=5.0) as db:
            row = db.execute(
                "SELECT data FROM events_event WHERE event_id = ?", (event_id.replace("-", ""),)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def wait_for_event(self, event_id: str, timeout: float = 15.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            event = self.event(event_id)
            if event is not None or time.monotonic() > deadline:
                return event
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None
