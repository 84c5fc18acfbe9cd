"""The servers and channels of the interop matrix, for one flavour (sync or aio), shared by every
case of the module: two plain servers (the reference and the dual channel's remote center), one
with the default-policy server interceptor and one with a policy that turns every part on.
Each listens on 127.0.0.1 twice, without TLS and with local credentials (for per-call
credentials). Channels are made on first use and cached per route and security."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover import AioDualCenterChannel, DualCenterChannel
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy
from resilience.testing import ManualClock

from . import _interop_service as svc
from ._interop_aio import AioDriver
from ._interop_clients import Outcome, SyncDriver
from .support import LoopThread, closed_address

READS = Policy.from_dict({"methods": {"*": {"read": True}}})
"""The dual channels' policy: every method is a read, so every call may fail over."""


def full_policy(record_path: Path) -> Policy:
    """Every part of a policy on, tuned so that nothing is shed or cut in this suite (retries
    on every method, hedging of UnaryCall)."""
    return Policy.from_dict(
        {
            "trusted_peers": ["127.0.0.1/32"],
            "methods": {
                "*": {
                    "read": True,
                    "tier": 2,
                    "breaker": {"k": 2.0},
                    "timeout": {"t_avg": 2.0, "t_hwm": 5.0, "t_max": 10.0, "streams": True},
                    "rate_limit": {"limit": 1_000_000, "window": 1.0, "tiered": True},
                    "overload": {"cpu_thresholds": {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}},
                    "retry": {"max_attempts": 2},
                },
                # Unary calls hedged (after 2 s, so that none is sent unless a call lags),
                # every other method retried: each answer goes through the attempts' wrappers.
                "/conformance.Interop/UnaryCall": {"retry": False, "hedging": {"delay": 2.0}},
            },
            "chaos": {"enabled": True, "seed": 7},
            "faults": [
                {"method": "*", "side": "both", "percentage": 0, "abort": "UNAVAILABLE"},
            ],
            "record": {"path": str(record_path), "rate": 1.0},
        }
    )


def _credentials() -> tuple[grpc.ServerCredentials, grpc.ChannelCredentials]:
    tcp = grpc.LocalConnectionType.LOCAL_TCP
    return grpc.local_server_credentials(tcp), grpc.local_channel_credentials(tcp)


class World:
    """Servers of one flavour and the drivers of each route (see test_interop.py)."""

    def __init__(self, flavour: str, tmp: Path, clock: ManualClock) -> None:
        self.flavour = flavour
        self.aio = flavour == "aio"
        self._clock = clock
        self._loop = LoopThread() if self.aio else None
        self._policy = full_policy(tmp / "traffic.jsonl")
        self._references: dict[str, Outcome] = {}
        self._drivers: dict[tuple[str, bool], Any] = {}
        self._closers: list[Callable[[], Any]] = []
        interceptor = AioServerInterceptor if self.aio else ServerInterceptor
        default, full = interceptor(), interceptor(self._policy)
        self._closers += [default.close, full.close]
        protected_default, protected_full = interceptor(), interceptor(self._policy)
        self._closers += [protected_default.close, protected_full.close]
        self._servers = {
            "plain_a": self._serve(()),
            "plain_b": self._serve(()),
            "default": self._serve((default,)),
            "full": self._serve((full,)),
            "protected_default": self._serve((), protected_default),
            "protected_full": self._serve((), protected_full),
        }

    def reference(self, name: str, compute: Callable[[], Outcome]) -> Outcome:
        """Bare gRPC's outcome of case ``name`` (computed once)."""
        if name not in self._references:
            self._references[name] = compute()
        return self._references[name]

    def driver(self, route: str, *, secure: bool = False) -> Any:
        key = (route, secure)
        if key not in self._drivers:
            channel = self._in_loop(lambda: self._channel(route, secure))
            self._drivers[key] = (
                AioDriver(channel, self._loop) if self._loop is not None else SyncDriver(channel)
            )
        return self._drivers[key]

    def failovers(self, route: str, secure: bool, counter: str = "attempted") -> int:
        """Failovers the dual channel of ``route`` has tried so far (0 for other routes), or
        the failover ``counter`` of its stats named (``"expired"``: found no time left)."""
        driver = self._drivers.get((route, secure))
        stats = getattr(getattr(driver, "channel", None), "stats", None)
        return 0 if stats is None else int(getattr(stats(), counter))

    def close(self) -> None:
        for driver in self._drivers.values():
            if self._loop is not None:
                self._loop.run(driver.channel.close())
            else:
                driver.channel.close()
        for stop in self._closers:
            result = stop()
            if self._loop is not None and result is not None:
                self._loop.run(result)
        if self._loop is not None:
            self._loop.close()

    # -- building ------------------------------------------------------------------------------

    def _in_loop(self, make: Callable[[], Any]) -> Any:
        """Call ``make`` where channels and servers of this flavour must be made."""
        if self._loop is None:
            return make()

        async def made() -> Any:
            return make()

        return self._loop.run(made())

    def _serve(self, interceptors: tuple[Any, ...], protection: Any = None) -> tuple[str, str]:
        """Start a server (``protection``: an interceptor given the server to protect instead
        of being installed); return its (plain, local-credentials) addresses."""
        server_credentials, _ = _credentials()

        def build() -> Any:
            server: Any
            if self.aio:
                server = grpc.aio.server(interceptors=list(interceptors))
                if protection is not None:
                    server = protection.protect(server)
                server.add_generic_rpc_handlers((svc.aio_handler(),))
            else:
                pool = ThreadPoolExecutor(16)
                server = grpc.server(pool, interceptors=list(interceptors))
                if protection is not None:
                    server = protection.protect(server)
                server.add_generic_rpc_handlers((svc.sync_handler(),))
                self._closers.append(lambda: pool.shutdown(wait=False))
            plain = server.add_insecure_port("127.0.0.1:0")
            secure = server.add_secure_port("127.0.0.1:0", server_credentials)
            return server, plain, secure

        server, plain, secure = self._in_loop(build)
        if self._loop is not None:
            self._loop.run(server.start())
        else:
            server.start()
        self._closers.insert(0, lambda: server.stop(None))
        return f"127.0.0.1:{plain}", f"127.0.0.1:{secure}"

    def _open(
        self, address: str, secure: bool, policy: Policy | None = None, protect: bool = False
    ) -> Any:
        """A channel of this flavour to ``address``, with the client interceptor if ``policy``
        (``protect``: the interceptor's protected channel instead of interception)."""
        _, channel_credentials = _credentials()
        if protect:
            assert policy is not None
            plain = self._open(address, secure)
            client = AioClientInterceptor(policy) if self.aio else ClientInterceptor(policy)
            return client.protect(plain)
        if self.aio:
            interceptors = [] if policy is None else [*AioClientInterceptor(policy)]
            if secure:
                return grpc.aio.secure_channel(
                    address, channel_credentials, interceptors=interceptors
                )
            return grpc.aio.insecure_channel(address, interceptors=interceptors)
        channel = (
            grpc.secure_channel(address, channel_credentials)
            if secure
            else grpc.insecure_channel(address)
        )
        if policy is None:
            return channel
        return grpc.intercept_channel(channel, ClientInterceptor(policy))

    def _address(self, server: str, secure: bool) -> str:
        plain, local_credentials = self._servers[server]
        return local_credentials if secure else plain

    def _channel(self, route: str, secure: bool) -> Any:
        if route == "bare":
            return self._open(self._address("plain_a", secure), secure)
        if route == "default":
            return self._open(self._address("default", secure), secure, Policy())
        if route == "full":
            return self._open(self._address("full", secure), secure, self._policy)
        if route == "protected_default":
            address = self._address("protected_default", secure)
            return self._open(address, secure, Policy(), protect=True)
        if route == "protected_full":
            address = self._address("protected_full", secure)
            return self._open(address, secure, self._policy, protect=True)
        dual = AioDualCenterChannel if self.aio else DualCenterChannel
        if route == "stack_down":  # the whole library: interceptors inside, the full server
            local = self._open(closed_address(), secure, self._policy)
            remote = self._open(self._address("full", secure), secure, self._policy)
        elif route == "protected_stack_down":  # the same with protected channels and server
            local = self._open(closed_address(), secure, self._policy, protect=True)
            address = self._address("protected_full", secure)
            remote = self._open(address, secure, self._policy, protect=True)
        else:
            up = route == "dual_up"
            local = self._open(self._address("plain_a", secure) if up else closed_address(), secure)
            remote = self._open(self._address("plain_b", secure), secure)
        return dual(
            local,
            remote,
            policy=READS,
            window=AdaptiveRetryWindow(initial=100_000, clock=self._clock),
        )
