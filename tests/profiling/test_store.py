"""Profile files: atomic, private (0600 files in a 0700 directory), bounded in count and
bytes; a write that fails (a read-only directory standing in for a full disk) is logged and
counted, never raised; the optional push reaches a Pyroscope-style /ingest endpoint."""

from __future__ import annotations

import http.server
import os
import stat
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from resilience.profiling import ProfileStore, read_profile
from resilience.profiling._store import push

from .test_pprof import cpu_profile


def test_files_are_private_and_written_whole(tmp_path: Path) -> None:
    store = ProfileStore(str(tmp_path / "a" / "profiles"), max_files=5, max_bytes=1 << 20)
    path = store.write("cpu", cpu_profile(), 1.7e9)
    assert path is not None
    assert path.endswith(".pb.gz")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "profiles").st_mode) == 0o700
    assert [p.name for p in (tmp_path / "a" / "profiles").iterdir()] == [Path(path).name]
    assert read_profile(Path(path).read_bytes()).samples


def test_retention_keeps_the_newest_within_count_and_bytes(tmp_path: Path) -> None:
    data = cpu_profile()
    store = ProfileStore(str(tmp_path), max_files=3, max_bytes=1 << 20)
    paths = [store.write("cpu", data, 1.7e9 + i) for i in range(6)]
    assert store.files() == paths[-3:]
    small = ProfileStore(str(tmp_path / "small"), max_files=100, max_bytes=2 * len(data) + 1)
    paths = [small.write("cpu", data, 1.7e9 + i) for i in range(5)]
    assert small.files() == paths[-2:]
    assert sum(os.path.getsize(p) for p in small.files()) <= small.max_bytes


def test_a_failing_disk_is_counted_not_raised(tmp_path: Path) -> None:
    # A full disk cannot be made here without privileges (no tiny tmpfs): a read-only
    # directory makes every write raise OSError the same way.
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories; the server test covers it")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    store = ProfileStore(str(folder), max_files=3, max_bytes=1 << 20)
    assert store.write("cpu", cpu_profile(), 1.7e9) is None
    assert store.errors == 1
    assert list(folder.iterdir()) == []


def test_a_path_under_a_file_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = ProfileStore(str(blocker / "profiles"), max_files=3, max_bytes=1 << 20)
    assert store.write("cpu", cpu_profile(), 1.7e9) is None
    assert store.errors == 1


class Ingest(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Ingest.received.append((self.path, self.rfile.read(length), self.headers["Content-Type"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.e2e
def test_push_posts_pprof_to_ingest() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        data = cpu_profile()
        push(f"http://127.0.0.1:{server.server_port}", "shop.cpu", data, 1.7e9, 1.7e9 + 10, 99)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    [(path, body, content_type)] = Ingest.received
    assert path.startswith("/ingest?")
    assert "format=pprof" in path
    assert "name=shop.cpu" in path
    assert "from=1700000000" in path
    boundary = content_type.split("boundary=")[1]
    parts = body.split(f"--{boundary}".encode())
    [part] = [p for p in parts if b'name="profile"' in p]
    payload = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    assert payload == data
