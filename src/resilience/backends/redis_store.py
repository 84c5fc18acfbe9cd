"""The Redis store: one Lua script per operation, server time, hash-tagged keys with a TTL.

:class:`RedisStore` (redis-py's blocking client, for threads) and :class:`AioRedisStore`
(``redis.asyncio``, never blocks the event loop) share everything but the awaiting: the
construction, the scripts, their arguments and the decoding of their replies live in
:class:`_RedisCodec`.
``redis`` is an optional extra, imported on first use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Any, ClassVar, TypeVar

from resilience._base.clock import Clock
from resilience._base.optional import require
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.backends._rules import rejection
from resilience.backends._spec import (
    Deltas,
    LimitSpec,
    Snapshot,
    flatten_deltas,
    parse_counts,
    to_us,
)
from resilience.backends._url import client_options, parse_store_url, redact
from resilience.errors import ConfigError

logger = logging.getLogger("resilience.backends")

DEFAULT_PREFIX = "resilience"
DEFAULT_SOCKET_TIMEOUT = 0.050
"""Seconds a Redis operation may take before the limiter falls back to its local limit. Sized
for a loaded host: with both cores of a 2-core machine busy, 4 processes deciding 1,000 calls/s
each through one redis-server met a 10 ms timeout thousands of times in 4 s and a 50 ms one
rarely (0 local decisions in 5 of 6 runs); a healthy round trip on loopback is under 0.1 ms."""


class _Script:
    """A Lua script and its SHA1, for EVALSHA with a SCRIPT LOAD on NOSCRIPT."""

    __slots__ = ("sha", "text")

    def __init__(self, *names: str) -> None:
        package = resources.files("resilience.backends")
        self.text = "\n".join(package.joinpath(name).read_text("utf-8") for name in names)
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()


_DECIDE = _Script("ring.lua", "decide.lua")
_EXCHANGE = _Script("ring.lua", "exchange.lua")
_MAX_PREPARED = 1024
"""Limits whose decide command a store keeps encoded (the cache is cleared when full)."""
_SMALL_WEIGHT = 16
_TAILS = [[b"%d %d" % (n, tier) for n in range(_SMALL_WEIGHT)] for tier in range(5)]
"""``_TAILS[tier][n]``: the end of the decide script's argument for the common weights."""


_StoreT = TypeVar("_StoreT", bound="_RedisCodec")


class _DeferredClient:
    """redis-py's blocking RedisCluster, built on first use: its constructor connects to
    discover the cluster's slots, and a store must be creatable while Redis is down. Until a
    build succeeds, each use tries again (a failure is a store fault like any other)."""

    __slots__ = ("_build", "_client", "_lock")

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
                client = self._client
        return getattr(client, name)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()


class _RedisCodec:
    """Arguments and replies of the two scripts, shared by the sync and asyncio stores."""

    _CLIENT_MODULE: ClassVar[str]
    """``redis`` or ``redis.asyncio``: where :meth:`from_url` finds the client classes."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Clock | None = None,
        description: str = "redis",
    ) -> None:
        if not prefix:
            raise ConfigError("prefix must be a non-empty string")
        self._client = client
        self._errors = require("redis", "redis").exceptions
        self._prefix = prefix
        self._clock = clock
        self._description = description
        self._repaired: set[str] = set()
        self._closed = False
        self._commands: dict[int, tuple[LimitSpec, tuple[Any, ...], bytes]] = {}

    @classmethod
    def from_url(
        cls: type[_StoreT],
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
        connect_timeout: float | None = None,
        clock: Clock | None = None,
    ) -> _StoreT:
        """A store for ``url`` (see :func:`parse_store_url`; ``?cluster=true`` selects Redis
        Cluster); creating it does no I/O, so a store can be made while Redis is down.
        ``socket_timeout``: seconds before an operation counts as failed. ``connect_timeout``:
        seconds to open a connection (default the socket timeout, the URL's
        ``?socket_timeout=`` when it has one; for ``rediss://`` at least 0.25 s, as a TLS
        connect builds an SSL context and shakes hands). Query options of the URL (redis-py's,
        such as ``ssl_ca_certs`` or ``socket_connect_timeout``) take precedence.
        Raises ConfigError for a URL redis-py would refuse."""
        target, cluster = parse_store_url(url)
        options = client_options(target, socket_timeout, connect_timeout)
        module = require(cls._CLIENT_MODULE, "redis")
        retry = require(f"{cls._CLIENT_MODULE}.retry", "redis").Retry
        options["retry"] = retry(require("redis.backoff", "redis").NoBackoff(), 0)
        try:
            require("redis.connection", "redis").parse_url(target)
            if not cluster:
                client = module.Redis.from_url(target, **options)
            elif cls._CLIENT_MODULE == "redis":
                client = _DeferredClient(lambda: module.RedisCluster.from_url(target, **options))
            else:
                client = module.RedisCluster.from_url(target, **options)
        except ValueError as exc:
            raise ConfigError(f"store URL {redact(url)}: {exc}") from None
        return cls(client, prefix=prefix, clock=clock, description=redact(url))

    @property
    def description(self) -> str:
        return self._description

    @property
    def closed(self) -> bool:
        """True once the store was closed."""
        return self._closed

    def now(self) -> float:
        """The test clock if one was given, else this host's wall clock (Redis TIME is the
        wall clock of its host; a sync measures the real offset)."""
        return self._clock() if self._clock is not None else time.time()

    def _now_arg(self) -> str | int:
        # A test clock makes the scripts deterministic; by default they read Redis TIME.
        return "" if self._clock is None else to_us(self._clock())

    def _decide_command(self, spec: LimitSpec) -> tuple[tuple[Any, ...], bytes]:
        """``EVALSHA`` with ``spec``'s key, and the start of its argument (its geometry and
        limit), encoded once per limit: redis-py passes bytes through untouched."""
        entry = self._commands.get(id(spec))
        if entry is not None and entry[0] is spec:
            return entry[1], entry[2]
        window_key, _ = spec.keys(self._prefix)
        command = ("EVALSHA", _DECIDE.sha, b"1", window_key.encode())
        shape = b"%d %d %d %d " % (spec.slot_us, spec.buckets, spec.channels, spec.limit)
        if len(self._commands) >= _MAX_PREPARED:
            self._commands.clear()
        self._commands[id(spec)] = (spec, command, shape)
        return command, shape

    def _decide_args(self, shape: bytes, tier: int, n: int) -> tuple[bytes, ...]:
        """The script's arguments: the limit's ``shape`` with ``n`` and ``tier`` and, with a
        test clock, its time."""
        last = _TAILS[tier][n] if n < _SMALL_WEIGHT else b"%d %d" % (n, tier)
        if self._clock is None:
            return (shape + last,)
        return shape + last, b"%d" % to_us(self._clock())

    def _decision(self, spec: LimitSpec, tier: int, n: int, reply: Any) -> Decision:
        if reply == 1:
            return ALLOWED
        if reply == 2:
            self._note_repaired(spec, 1)
            return ALLOWED
        self._note_repaired(spec, reply[1])
        now_us, total, used = int(reply[2]), int(reply[3]), int(reply[4])
        per_slot = [int(value) for value in reply[5:]]
        into = (now_us % spec.slot_us) / 1e6
        return rejection(spec, per_slot, total=total, used=used, n=n, weight=n, into_slot=into)

    def _exchange_call(
        self, spec: LimitSpec, instance: str, deltas: Deltas
    ) -> tuple[list[str], list[Any]]:
        args = [self._now_arg(), spec.slot_us, spec.buckets, spec.channels, spec.ttl_ms]
        return list(spec.keys(self._prefix)), [*args, instance, *flatten_deltas(deltas)]

    def _snapshot(self, spec: LimitSpec, reply: list[Any]) -> Snapshot:
        self._note_repaired(spec, reply[3])
        end = 4 + spec.channels * spec.size
        counts = parse_counts(reply[4:end], spec)
        ages = tuple(int(age) / 1000 for age in reply[end:])
        return Snapshot(int(reply[0]), int(reply[1]), int(reply[2]), counts, ages)

    def _note_repaired(self, spec: LimitSpec, flag: Any) -> None:
        if int(flag) and spec.name not in self._repaired:
            self._repaired.add(spec.name)
            logger.warning(
                "malformed values in %s for limit %r were reset and are being overwritten",
                self._description,
                spec.name,
            )


class RedisStore(_RedisCodec):
    """A :class:`~resilience.backends.Store` on Redis through redis-py's blocking client.

    ``client``: a ``redis.Redis`` or ``redis.cluster.RedisCluster`` (build one with
    :meth:`from_url`). ``prefix``: the first part of every key's hash tag. ``clock``: None (the
    default) reads Redis server TIME inside the scripts; a clock here is for tests only and must
    be shared by every instance.
    """

    _CLIENT_MODULE = "redis"

    def _eval(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._client.evalsha(script.sha, len(keys), *keys, *args)
        except self._errors.NoScriptError:
            self._client.script_load(script.text)
            return self._client.evalsha(script.sha, len(keys), *keys, *args)

    def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        command, shape = self._decide_command(spec)
        args = self._decide_args(shape, tier, n)
        try:
            reply = self._client.execute_command(*command, *args)
        except self._errors.NoScriptError:
            self._client.script_load(_DECIDE.text)
            reply = self._client.execute_command(*command, *args)
        return self._decision(spec, tier, n, reply)

    def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        keys, args = self._exchange_call(spec, instance, deltas)
        return self._snapshot(spec, self._eval(_EXCHANGE, keys, args))

    def ping(self) -> None:
        self._client.ping()

    def close(self) -> None:
        """Close the client's connections (idempotent)."""
        if not self._closed:
            self._closed = True
            self._client.close()


class AioRedisStore(_RedisCodec):
    """The asyncio twin of :class:`RedisStore` over ``redis.asyncio`` (same keys, scripts and
    parameters)."""

    _CLIENT_MODULE = "redis.asyncio"

    async def _eval(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        except self._errors.NoScriptError:
            await self._client.script_load(script.text)
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)

    async def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        command, shape = self._decide_command(spec)
        args = self._decide_args(shape, tier, n)
        try:
            reply = await self._client.execute_command(*command, *args)
        except self._errors.NoScriptError:
            await self._client.script_load(_DECIDE.text)
            reply = await self._client.execute_command(*command, *args)
        return self._decision(spec, tier, n, reply)

    async def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        keys, args = self._exchange_call(spec, instance, deltas)
        return self._snapshot(spec, await self._eval(_EXCHANGE, keys, args))

    async def ping(self) -> None:
        await self._client.ping()

    async def aclose(self) -> None:
        """Close the client's connections (idempotent; on the loop that used them)."""
        if not self._closed:
            self._closed = True
            await self._client.aclose()

    close = aclose
    """The same as :meth:`aclose`."""
