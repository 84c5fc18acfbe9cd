"""From a policy's ``rate_limit`` section to a limiter: the interceptors' single entry point.

:func:`build_limiter` returns an object with ``try_acquire(tier) -> Decision`` (tier ignored
by a sliding window): synchronous and free of I/O for the memory store and for periodic mode,
where the sync runs on a thread (sync) or a task on the running loop (aio). Only a Redis
store in exact mode with ``aio=True`` returns an :class:`AioTierLimiter`, whose
``try_acquire`` is a coroutine; :func:`needs_await` tells which, once, at construction.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, TypedDict, runtime_checkable

from resilience._base.clock import Clock, default_clock
from resilience.algorithms import SlidingWindowLimiter, TieredLimiter
from resilience.algorithms._decision import Decision
from resilience.backends._contract import Store
from resilience.backends._core import Mode, store_breaker
from resilience.backends._url import parse_store_url, redact
from resilience.backends.aio_limiters import AioSharedSlidingWindowLimiter, AioSharedTieredLimiter
from resilience.backends.fallback import StoreBreaker
from resilience.backends.limiters import SharedSlidingWindowLimiter, SharedTieredLimiter
from resilience.backends.redis_store import AioRedisStore, RedisStore
from resilience.errors import ConfigError

logger = logging.getLogger("resilience.backends")

STARTUP_CHECK_TIMEOUT = 0.1
"""Seconds the start-up PING of a store may take."""


class RateLimitConfig(Protocol):
    """The fields of :class:`resilience.policy.RateLimitSettings` this module reads."""

    @property
    def limit(self) -> int: ...
    @property
    def window(self) -> float: ...
    @property
    def buckets(self) -> int: ...
    @property
    def tiered(self) -> bool: ...
    @property
    def store(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def sync_interval(self) -> float: ...
    @property
    def expected_instances(self) -> int: ...
    @property
    def fail_open(self) -> bool: ...
    @property
    def key(self) -> str | None: ...


class _Options(TypedDict):
    name: str
    limit: int
    window: float
    buckets: int
    mode: Mode
    sync_interval: float
    expected_instances: int
    fail_open: bool
    clock: Clock
    breaker: StoreBreaker | None


@runtime_checkable
class TierLimiter(Protocol):
    """A limiter decided without I/O: ``try_acquire(tier)``."""

    def try_acquire(self, tier: int) -> Decision: ...


class AioTierLimiter:
    """An exact-mode asyncio limiter: ``await try_acquire(tier)`` (one Redis round trip)."""

    __slots__ = ("limiter",)

    def __init__(self, limiter: AioSharedSlidingWindowLimiter | AioSharedTieredLimiter) -> None:
        self.limiter = limiter

    async def try_acquire(self, tier: int) -> Decision:
        limiter = self.limiter
        if isinstance(limiter, AioSharedTieredLimiter):
            return await limiter.try_acquire(tier)
        return await limiter.try_acquire()

    def close(self) -> None:
        """Close the limiter and its store (from any thread; see the limiter's close)."""
        self.limiter.close()

    async def aclose(self) -> None:
        await self.limiter.aclose()


class _Untiered:
    """A sliding-window limiter behind the ``try_acquire(tier)`` interface."""

    __slots__ = ("_acquire", "limiter")

    def __init__(self, limiter: SlidingWindowLimiter | SharedSlidingWindowLimiter) -> None:
        self.limiter = limiter
        self._acquire = limiter.try_acquire

    def try_acquire(self, tier: int) -> Decision:
        return self._acquire()

    def close(self) -> None:
        """Close the shared limiter inside (a memory one has nothing to close)."""
        close = getattr(self.limiter, "close", None)
        if close is not None:
            close()


class _LocalFace:
    """An asyncio periodic-mode limiter decided synchronously on the loop's thread."""

    __slots__ = ("limiter",)

    def __init__(self, limiter: AioSharedSlidingWindowLimiter | AioSharedTieredLimiter) -> None:
        self.limiter = limiter

    def try_acquire(self, tier: int) -> Decision:
        return self.limiter.decide_nowait(tier)

    def close(self) -> None:
        """Close the limiter and its store (from any thread; see the limiter's close)."""
        self.limiter.close()

    async def aclose(self) -> None:
        await self.limiter.aclose()


def needs_await(limiter: TierLimiter | AioTierLimiter) -> bool:
    """True if ``limiter.try_acquire(tier)`` must be awaited (aio and exact mode on Redis)."""
    return isinstance(limiter, AioTierLimiter)


_stores: dict[str, RedisStore] = {}
_stores_lock = threading.Lock()


def _sync_store(url: str) -> Store:
    """One blocking store (one connection pool) per URL in this process."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = RedisStore.from_url(url)
        return store


def check_store(url: str, *, fail_open: bool, timeout: float = STARTUP_CHECK_TIMEOUT) -> bool:
    """PING the store at ``url`` once (blocking, at most ``timeout`` seconds). Returns True if
    it answered; otherwise logs a warning and returns False (``fail_open``) or raises
    ConfigError (fail-closed: every call would be rejected). Bad URLs raise ConfigError."""
    probe = RedisStore.from_url(url, socket_timeout=timeout)
    try:
        probe.ping()
    except Exception as error:
        message = (
            f"rate_limit store {redact(url)} is unreachable at start-up "
            f"({type(error).__name__}: {error})"
        )
        if not fail_open:
            raise ConfigError(
                f"{message}; with fail_open = false every call would be rejected"
            ) from error
        logger.warning("%s; limits on it decide locally until it answers", message)
        return False
    finally:
        probe.close()
    return True


def build_limiter(
    settings: RateLimitConfig,
    *,
    aio: bool,
    clock: Clock = default_clock,
    name: str | None = None,
    check: bool = True,
    aio_store: AioRedisStore | None = None,
    breaker: StoreBreaker | None = None,
) -> TierLimiter | AioTierLimiter:
    """The limiter for one ``rate_limit`` section.

    ``store == "memory"``: the in-process SlidingWindowLimiter / TieredLimiter. A Redis URL:
    a shared limiter named ``settings.key`` (else ``name``) in ``settings.mode``, with the
    section's sync interval, expected instances and fail-open setting; ``check`` PINGs the
    store once first (see :func:`check_store`). ``aio``: build for an asyncio server (the
    periodic sync becomes a task on the running loop; exact mode becomes awaitable).
    Raises ConfigError for a bad URL or a missing name.

    A shared limiter built here is closed with ``close()`` (callable from any thread;
    idempotent): its sync stops and, for ``aio``, the store made for it is closed. An
    ``aio`` limiter is bound to the event loop of its first decision. ``aio_store``: an
    asyncio store to use instead of one of its own (many limits on one connection pool, as
    per-caller quotas need; it is then the caller's to close). ``breaker``: one shared with
    other limits on the store (see :func:`shared_breaker`); default: one of its own.
    """
    if settings.store == "memory":
        if settings.tiered:
            return TieredLimiter(settings.limit, settings.window, settings.buckets, clock=clock)
        return _Untiered(
            SlidingWindowLimiter(settings.limit, settings.window, settings.buckets, clock=clock)
        )
    parse_store_url(settings.store)
    limit_name = settings.key or name
    if not limit_name:
        raise ConfigError("rate_limit.key: a limit on a shared store needs a name")
    if check:
        check_store(settings.store, fail_open=settings.fail_open)
    mode: Mode = "exact" if settings.mode == "exact" else "periodic"
    options: _Options = {
        "name": limit_name,
        "limit": settings.limit,
        "window": settings.window,
        "buckets": settings.buckets,
        "mode": mode,
        "sync_interval": settings.sync_interval,
        "expected_instances": settings.expected_instances,
        "fail_open": settings.fail_open,
        "clock": clock,
        "breaker": breaker,
    }
    if aio:
        own = aio_store is None
        store = AioRedisStore.from_url(settings.store) if aio_store is None else aio_store
        aio_type = AioSharedTieredLimiter if settings.tiered else AioSharedSlidingWindowLimiter
        aio_limiter = aio_type(store, close_store=own, **options)
        return AioTierLimiter(aio_limiter) if mode == "exact" else _LocalFace(aio_limiter)
    if settings.tiered:
        return SharedTieredLimiter(_sync_store(settings.store), **options)
    limiter = SharedSlidingWindowLimiter(_sync_store(settings.store), **options)
    return _Untiered(limiter)


def shared_breaker(
    settings: RateLimitConfig, name: str, *, clock: Clock = default_clock
) -> StoreBreaker:
    """One breaker for many limiters of ``settings`` on its store, named ``name`` in its log
    lines: every caller's limiter of a per-caller quota takes it (``breaker=`` of
    :func:`build_limiter`). While the store fails, one probe per back-off asks it for all of
    them and the failure is logged once; with a breaker each, every new caller's first call
    waited out the store's timeout (50 ms by default) and logged its own warning."""
    local_limit = settings.limit // settings.expected_instances
    window = settings.window
    return store_breaker(
        name, redact(settings.store), local_limit, window, settings.fail_open, clock=clock
    )
