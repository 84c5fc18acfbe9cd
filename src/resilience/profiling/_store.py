"""Where profiles go: files in a private directory with bounded retention, and optionally a
push to a Pyroscope-compatible ``/ingest`` endpoint.

Writes are atomic (a ``.tmp`` file, then a rename) with the permissions of traffic
recordings (directory 0700, files 0600). A failing write or push (a full or read-only disk,
an unreachable endpoint) is logged and counted, never raised: profiling must not break
serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
import urllib.request
import uuid

from resilience._base.files import make_private_folders, write_atomic

SUFFIX = ".pb.gz"
PUSH_TIMEOUT = 5.0
"""Seconds a push to the ingest endpoint may take."""

_log = logging.getLogger("resilience.profiling")


class ProfileStore:
    """Profiles in ``directory``: at most ``max_files`` files and ``max_bytes`` bytes (the
    oldest removed first; the newest is always kept). ``errors`` counts failed writes and
    pushes. Thread-safe."""

    def __init__(self, directory: str, *, max_files: int, max_bytes: int) -> None:
        self.directory = os.path.abspath(directory)
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.errors = 0
        self.written = 0
        self._lock = threading.Lock()
        self._sequence = 0

    def write(self, kind: str, data: bytes, wall: float) -> str | None:
        """Write one profile (``kind``: ``cpu`` or ``heap``; ``wall``: its start, Unix
        seconds); the file's path, or None when the write failed (logged, counted)."""
        with self._lock:
            self._sequence += 1
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(wall))
            name = f"{kind}-{stamp}.{int(wall * 1000) % 1000:03d}Z-{self._sequence:06d}{SUFFIX}"
            path = os.path.join(self.directory, name)
            try:
                make_private_folders(self.directory)
                write_atomic(path, data)
                self._retain()
            except OSError as exc:
                self.errors += 1
                _log.warning("resilience: could not write the profile %s: %s", path, exc)
                return None
            self.written += 1
            return path

    def files(self) -> list[str]:
        """The profiles kept, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.directory) if n.endswith(SUFFIX))
        except FileNotFoundError:
            return []
        by_age = sorted(names, key=lambda n: n.split("-", 1)[1])  # timestamp, then sequence
        return [os.path.join(self.directory, n) for n in by_age]

    def _retain(self) -> None:
        files = self.files()
        sizes = [os.path.getsize(path) for path in files]
        total = sum(sizes)
        for path, size in zip(files[:-1], sizes[:-1], strict=True):
            if len(files) <= self.max_files and total <= self.max_bytes:
                break
            os.remove(path)
            files = files[1:]
            total -= size


def push(url: str, app_name: str, data: bytes, start: float, end: float, rate: float) -> None:
    """POST one gzipped pprof profile to ``url`` (a Pyroscope server or anything speaking its
    ingest API: ``/ingest?name=...&from=...&until=...&format=pprof``, the profile as the
    ``profile`` part of a multipart form). Raises OSError (urllib's errors) on failure."""
    query = urllib.parse.urlencode(
        {
            "name": app_name,
            "from": int(start),
            "until": max(int(end), int(start) + 1),
            "format": "pprof",
            "sampleRate": int(rate),
            "spyName": "resilience",
        }
    )
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="profile"; filename="profile.pprof"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    target = f"{url.rstrip('/')}/ingest?{query}"
    request = urllib.request.Request(target, data=body, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT) as response:
        response.read(1024)
