"""Shared limits: the store contract, the memory and Redis stores, and the shared limiters.

``SharedSlidingWindowLimiter`` and ``SharedTieredLimiter`` (and their asyncio twins) apply the
rules of :mod:`resilience.algorithms` to counts kept in a store, so that every instance of a
service shares one limit: ``periodic`` mode decides locally and syncs in the background,
``exact`` mode asks the store atomically on every call, and both fall back to a local limit
when the store fails. :func:`build_limiter` turns a policy's ``rate_limit`` section into one.
Redis support needs the ``redis`` extra (``pip install 'grpc-resilience[redis]'``).
"""

from __future__ import annotations

from resilience.backends._contract import AioStore, Store
from resilience.backends._spec import LimitSpec, Snapshot
from resilience.backends.aio_limiters import AioSharedSlidingWindowLimiter, AioSharedTieredLimiter
from resilience.backends.factory import AioTierLimiter, TierLimiter, build_limiter
from resilience.backends.limiters import SharedSlidingWindowLimiter, SharedTieredLimiter
from resilience.backends.memory import AioMemoryStore, MemoryStore
from resilience.backends.redis_store import AioRedisStore, RedisStore

__all__ = [
    "AioMemoryStore",
    "AioRedisStore",
    "AioSharedSlidingWindowLimiter",
    "AioSharedTieredLimiter",
    "AioStore",
    "AioTierLimiter",
    "LimitSpec",
    "MemoryStore",
    "RedisStore",
    "SharedSlidingWindowLimiter",
    "SharedTieredLimiter",
    "Snapshot",
    "Store",
    "TierLimiter",
    "build_limiter",
]
