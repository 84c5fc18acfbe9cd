"""TrafficRecorder: samples served calls into a bounded, rotated recording file.

The server interceptor calls :meth:`TrafficRecorder.maybe_record` for a unary request (or a
list of stream requests it already holds) and :meth:`TrafficRecorder.tap` /
:meth:`TrafficRecorder.aio_tap` to record the request side of a stream as the handler reads
it. The sampling decision comes first and costs one random draw, so unsampled calls pay
nothing else. Files follow :mod:`resilience.recording.format`.

Secrets never reach the file: ``authorization``, ``proxy-authorization``, ``cookie``,
``set-cookie`` and every key in ``secret_keys`` are dropped (compared case-insensitively), as
are transport and per-call context headers (``grpc-*``, ``:*``, ``user-agent``,
``traceparent``, ``tracestate``, ``baggage``, ``x-resilience-*``), which a replay sets anew.

The files hold sampled production payloads, so the recorder creates them (and their rotated
copies) readable by their owner only (mode 0600), and a missing folder of ``path`` with mode
0700. A file that already exists keeps its mode.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from resilience._base.clock import Clock
from resilience._base.files import FILE_MODE, make_private_folders
from resilience._base.limits import MAX_RECORD_BYTES, MAX_STREAM_MESSAGES
from resilience.errors import ConfigError
from resilience.recording.format import CallSpec, MetadataValue, encode_call, header_line

ALWAYS_SECRET: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie"}
)
"""Metadata keys never recorded, whatever ``secret_keys`` says."""


_log = logging.getLogger(__name__)
_CONTEXT_KEYS = frozenset({"user-agent", "traceparent", "tracestate", "baggage", "te"})
_CONTEXT_PREFIXES = ("grpc-", ":", "x-resilience-")


class TrafficRecorder:
    """Writes a sample of calls to ``path`` (JSON Lines, format version 1).

    - ``sample_rate``: share of calls recorded, 0.0 to 1.0.
    - ``max_bytes``: size bound of one file; when a line would not fit, the file is rotated:
      ``path`` becomes ``path.1``, ``path.1`` becomes ``path.2``, ..., keeping ``backups``
      old files, so the recording never takes more than ``max_bytes * (backups + 1)`` bytes.
      A single call larger than ``max_bytes`` is skipped (counted in :attr:`skipped`).
    - ``secret_keys``: extra metadata keys never recorded (case-insensitive).
    - ``max_stream_messages``: at most this many requests of one stream are kept.
    - ``clock``: wall clock for call timestamps (epoch seconds); ``rng``: the sampler.

    Thread-safe; the file is opened on first write, created with mode 0600 (and its missing
    folders with 0700). Call :meth:`close` when done (or use it as
    a context manager).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: float = 0.01,
        max_bytes: int = 64 * 1024 * 1024,
        backups: int = 3,
        secret_keys: Iterable[str] = (),
        max_stream_messages: int = 1000,
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(sample_rate, bool) or not 0.0 <= sample_rate <= 1.0:
            raise ConfigError(f"sample_rate: must be in [0, 1], got {sample_rate!r}")
        if not isinstance(max_bytes, int) or not 256 <= max_bytes <= MAX_RECORD_BYTES:
            raise ConfigError(
                f"max_bytes: must be an int in [256, {MAX_RECORD_BYTES}], got {max_bytes!r}"
            )
        if not isinstance(backups, int) or not 0 <= backups <= 100:
            raise ConfigError(f"backups: must be an int in [0, 100], got {backups!r}")
        if not isinstance(max_stream_messages, int) or not (
            1 <= max_stream_messages <= MAX_STREAM_MESSAGES
        ):
            raise ConfigError(
                f"max_stream_messages: must be in [1, {MAX_STREAM_MESSAGES}], "
                f"got {max_stream_messages!r}"
            )
        if isinstance(secret_keys, str):
            raise ConfigError(f"secret_keys: must be a collection of keys, got {secret_keys!r}")
        self.path = os.fspath(path)
        self.sample_rate = float(sample_rate)
        self.max_bytes = max_bytes
        self.backups = backups
        self.max_stream_messages = max_stream_messages
        self._secret = ALWAYS_SECRET | {key.lower() for key in secret_keys}
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._file: Any = None
        self._size = 0
        self.recorded = 0
        """Calls written so far."""
        self.skipped = 0
        """Sampled calls not written (larger than ``max_bytes``)."""
        self.errors = 0
        """Sampled calls not written because of an error (logged once)."""

    def sampled(self) -> bool:
        """Draw the sampling decision for one call."""
        rate = self.sample_rate
        return rate >= 1.0 or (rate > 0.0 and self._rng.random() < rate)

    def maybe_record(
        self,
        method: str,
        request: Any,
        metadata: Iterable[tuple[str, MetadataValue]] | None = None,
        *,
        timestamp: float | None = None,
        shape: str | None = None,
    ) -> bool:
        """Record the call with probability ``sample_rate``; returns whether it was written.

        ``request`` is the serialized request (bytes) or a protobuf message, or a list of them
        for the request side of a stream. ``shape`` defaults to ``unary_unary`` for one request
        and ``stream_unary`` for a list. ``timestamp`` defaults to the clock.
        """
        if not self.sampled():
            return False
        return self.record(method, request, metadata, timestamp=timestamp, shape=shape)

    def record(
        self,
        method: str,
        request: Any,
        metadata: Iterable[tuple[str, MetadataValue]] | None = None,
        *,
        timestamp: float | None = None,
        shape: str | None = None,
    ) -> bool:
        """Record the call unconditionally (the sampling already said yes). Never raises: a
        request that cannot be serialized or a file error is logged and counted in
        :attr:`errors`, so recording can never fail the call being recorded."""
        try:
            many = isinstance(request, (list, tuple))
            requests = tuple(_serialize(r) for r in (request if many else (request,)))
            call = CallSpec(
                method=method,
                requests=requests,
                metadata=self._keep(metadata or ()),
                shape=shape or ("stream_unary" if many else "unary_unary"),
                timestamp=self._clock() if timestamp is None else timestamp,
            )
            return self._write(encode_call(call) + "\n")
        except (OSError, TypeError, ValueError) as exc:
            with self._lock:
                self.errors += 1
                first = self.errors == 1
            if first:
                _log.warning("traffic recorder: %s not recorded: %r", method, exc)
            return False

    def tap(
        self,
        method: str,
        requests: Iterator[Any],
        metadata: Iterable[tuple[str, MetadataValue]] | None = None,
        *,
        shape: str = "stream_unary",
    ) -> Iterator[Any]:
        """Wrap a request iterator: if the call is sampled, the messages the handler reads are
        recorded when the stream ends (or the handler stops reading); otherwise ``requests`` is
        returned unchanged."""
        if not self.sampled():
            return requests
        return self._tapped(method, requests, list(metadata or ()), shape, self._clock())

    def aio_tap(
        self,
        method: str,
        requests: AsyncIterator[Any],
        metadata: Iterable[tuple[str, MetadataValue]] | None = None,
        *,
        shape: str = "stream_unary",
    ) -> AsyncIterator[Any]:
        """The :meth:`tap` of grpc.aio request streams."""
        if not self.sampled():
            return requests
        return self._aio_tapped(method, requests, list(metadata or ()), shape, self._clock())

    def close(self) -> None:
        """Close the file (a later record reopens it and appends). Raises OSError when the
        last buffered lines cannot be written (a full disk); the file is closed all the same."""
        with self._lock:
            file, self._file = self._file, None
            if file is not None:
                file.close()

    def __enter__(self) -> TrafficRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _tapped(
        self, method: str, requests: Iterator[Any], metadata: Sequence[Any], shape: str, t: float
    ) -> Iterator[Any]:
        seen: list[Any] = []
        try:
            for message in requests:
                if len(seen) < self.max_stream_messages:
                    seen.append(message)
                yield message
        finally:
            self.record(method, seen, metadata, timestamp=t, shape=shape)

    async def _aio_tapped(
        self,
        method: str,
        requests: AsyncIterator[Any],
        metadata: Sequence[Any],
        shape: str,
        t: float,
    ) -> AsyncIterator[Any]:
        seen: list[Any] = []
        try:
            async for message in requests:
                if len(seen) < self.max_stream_messages:
                    seen.append(message)
                yield message
        finally:
            self.record(method, seen, metadata, timestamp=t, shape=shape)

    def _keep(
        self, metadata: Iterable[tuple[str, MetadataValue]]
    ) -> tuple[tuple[str, MetadataValue], ...]:
        kept = []
        for key, value in metadata:
            lowered = key.lower()
            if (
                lowered in self._secret
                or lowered in _CONTEXT_KEYS
                or lowered.startswith(_CONTEXT_PREFIXES)
            ):
                continue
            if lowered.endswith("-bin") and isinstance(value, str):
                value = value.encode("utf-8")
            elif not lowered.endswith("-bin") and isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            kept.append((lowered, value))
        return tuple(kept)

    def _write(self, line: str) -> bool:
        data = line.encode("utf-8")
        header = (header_line() + "\n").encode("utf-8")
        if len(data) + len(header) > self.max_bytes:
            with self._lock:
                self.skipped += 1
            return False
        with self._lock:
            if self._file is None:
                self._open()
            if self._size + len(data) > self.max_bytes:
                self._rotate()
            if self._size == 0:
                self._file.write(header)
                self._size = len(header)
            self._file.write(data)
            self._file.flush()
            self._size += len(data)
            self.recorded += 1
        return True

    def _open(self) -> None:
        make_private_folders(os.path.dirname(self.path))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        self._file = os.fdopen(fd, "ab")
        self._size = self._file.seek(0, os.SEEK_END)

    def _rotate(self) -> None:
        self._file.close()
        if self.backups == 0:
            os.remove(self.path)
        else:
            for index in range(self.backups - 1, 0, -1):
                older = f"{self.path}.{index}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{index + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._open()


def _serialize(message: Any) -> bytes:
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    serialize = getattr(message, "SerializeToString", None)
    if serialize is None:
        raise TypeError(f"cannot record a request of type {type(message).__name__}")
    data: bytes = serialize()
    return data
