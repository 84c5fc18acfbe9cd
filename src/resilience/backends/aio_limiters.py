"""Shared limiters for asyncio code: the twins of :mod:`resilience.backends.limiters`.

Same rules, modes, fallback and parameters; ``try_acquire`` is a coroutine and the store is an
:class:`~resilience.backends.AioStore` (``redis.asyncio``), so no call blocks the event loop.
In periodic mode ``try_acquire`` never awaits I/O, and the sync runs in a task started on the
running loop by the first decision.

A limiter is bound to the event loop of its first decision (its sync task and its store's
connections live there): a decision on another loop raises RuntimeError. Build one limiter,
with its own store, per event loop.
"""

from __future__ import annotations

import asyncio

from resilience._base.clock import Clock, default_clock
from resilience._base.loops import call_soon_threadsafe_if_open, outside_any_loop
from resilience.algorithms._decision import Decision
from resilience.algorithms._params import Duration
from resilience.backends._contract import AioStore
from resilience.backends._core import Mode, SharedShell
from resilience.backends._spec import TIERS
from resilience.backends.fallback import DEFAULT_MAX_BACKOFF, StoreBreaker
from resilience.backends.periodic import SyncTask
from resilience.events import unregister_gauge_source


class _AioSharedLimiter(SharedShell[AioStore, SyncTask]):
    """The asyncio shell over :class:`SharedCore`: only the awaited store calls live here."""

    __slots__ = ("_close_store", "_closing", "_loop")

    def __init__(
        self,
        store: AioStore,
        *,
        name: str,
        limit: int,
        window: Duration = 1.0,
        buckets: int = 10,
        mode: Mode = "periodic",
        sync_interval: Duration = 0.1,
        expected_instances: int = 1,
        fail_open: bool = True,
        fallback_limit: int | None = None,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        clock: Clock = default_clock,
        close_store: bool = False,
        breaker: StoreBreaker | None = None,
    ) -> None:
        self._close_store = close_store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Future[None] | None = None
        super().__init__(
            store,
            name=name,
            limit=limit,
            window=window,
            buckets=buckets,
            mode=mode,
            sync_interval=sync_interval,
            expected_instances=expected_instances,
            fail_open=fail_open,
            fallback_limit=fallback_limit,
            max_backoff=max_backoff,
            clock=clock,
            breaker=breaker,
        )

    def _runner(self) -> SyncTask:
        return SyncTask(self.sync_now, interval=self._core.sync_interval)

    async def _acquire(self, tier: int, n: int) -> Decision:
        if asyncio.get_running_loop() is not self._loop:
            self._bind()
        core = self._core
        if core.exact and not self._closed and core.breaker.allow():
            if core.local.unwritten and not await self._write_back():
                return core.decide_locally(tier, n)
            try:
                decision = await self._store.decide(core.spec, tier, n)
            except Exception as error:  # any store fault: decide locally, never fail the call
                if outside_any_loop():  # closed after its loop closed: no store fault
                    raise
                return core.store_failed(error, tier, n)
            return core.store_decided(tier, n, decision)
        return core.decide_locally(tier, n)

    async def _write_back(self) -> bool:
        """The asyncio twin of the sync limiter's write-back after a fallback (see there)."""
        core = self._core
        deltas = core.local.take_unwritten()
        if not deltas:
            return True
        try:
            await self._store.exchange(core.spec, core.instance, deltas)
        except BaseException as error:
            core.local.restore(deltas)  # cancelled too: the counts must not be lost
            if not isinstance(error, Exception) or outside_any_loop():
                raise
            core.breaker.failed(error)
            return False
        return True

    def decide_nowait(self, tier: int = 1, n: int = 1) -> Decision:
        """Periodic mode only: the decision ``await try_acquire`` would give, synchronously
        (it does no I/O). Call it on the event loop's thread: it starts the sync task there.
        ``tier`` is ignored by a sliding-window limit."""
        if self._sync is None:
            raise RuntimeError("decide_nowait is for periodic mode; exact mode must await")
        if asyncio.get_running_loop() is not self._loop:
            self._bind()
        return self._core.decide_locally(tier, n)

    def _bind(self) -> None:
        """First decision: bind to the running loop and start the sync task there. Later,
        from another loop: raise (the task and the store's connections live on the first)."""
        loop = asyncio.get_running_loop()
        if self._loop is not None:
            raise RuntimeError(
                f"{self!r} is bound to the event loop of its first decision and was used from "
                "another event loop; build one limiter, with its own store, per event loop"
            )
        self._loop = loop
        if self._sync is not None:
            self._sync.start()  # a no-op once closed

    async def sync_now(self) -> bool:
        """Periodic mode: push this instance's counts and pull the global ones now. Returns
        whether the store answered (False when skipped by the breaker). Never raises."""
        core = self._core
        deltas = core.begin_sync()
        if deltas is None:
            return False
        started = core.clock()
        try:
            snapshot = await self._store.exchange(core.spec, core.instance, deltas)
        except Exception as error:  # the next sync retries these deltas
            if outside_any_loop():  # closed after its loop closed: no store fault to count
                return False  # (returning lets the close end quietly; raising would print)
            core.breaker.failed(error)
            return False
        core.end_sync(snapshot, started)
        return True

    def close(self) -> None:
        """Stop the background sync and, if the limiter was built with ``close_store=True``,
        close the store; callable from any thread, idempotent. The work runs on the bound
        event loop (nothing runs before the first decision). A closed limiter keeps deciding,
        locally: calls still in flight after a policy reload are never failed by it."""
        if self._closed:
            return
        self._closed = True
        unregister_gauge_source(self)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._closing = asyncio.ensure_future(self._shut_down())
        else:
            call_soon_threadsafe_if_open(loop, self._schedule_shut_down)

    def _schedule_shut_down(self) -> None:
        self._closing = asyncio.ensure_future(self._shut_down())

    async def aclose(self) -> None:
        """:meth:`close`, awaited to the end (on the bound loop, or any loop before the first
        decision). Idempotent."""
        self.close()
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._shut_down())
        await self._closing

    async def _shut_down(self) -> None:
        if self._sync is not None:
            await self._sync.stop()
        if self._close_store:
            await self._store.aclose()


class AioSharedSlidingWindowLimiter(_AioSharedLimiter):
    """The asyncio :class:`~resilience.backends.SharedSlidingWindowLimiter` (same parameters),
    bound to the event loop of its first decision. ``close_store``: :meth:`close` closes
    ``store`` too (for a store made for this limiter alone)."""

    __slots__ = ()
    _TIERED = False

    async def try_acquire(self, n: int = 1) -> Decision:
        """Admit a request of weight ``n`` (>= 1) iff the shared window has room for it."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        return await self._acquire(1, n)


class AioSharedTieredLimiter(_AioSharedLimiter):
    """The asyncio :class:`~resilience.backends.SharedTieredLimiter` (same parameters as
    :class:`AioSharedSlidingWindowLimiter`)."""

    __slots__ = ()
    _TIERED = True

    async def try_acquire(self, tier: int, n: int = 1) -> Decision:
        """Admit a request of ``tier`` (1..4) and weight ``n`` (>= 1) by the tiered rule."""
        if not 1 <= tier <= TIERS or n < 1:
            raise ValueError(f"tier must be in 1..4 and n >= 1, got tier={tier!r}, n={n!r}")
        return await self._acquire(int(tier), n)
