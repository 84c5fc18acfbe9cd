"""Run by `make wheel-check` with the python of a fresh venv that has only the built wheel
(plus its `redis` extra) installed: the package as users get it, not the source tree.

Checks what a source-tree test cannot: the files shipped beside the code (py.typed, the Lua
scripts, the simulator's scenarios), the console entry point, and one real call, sync and aio,
through both interceptors in all four shapes. Exits non-zero with a message on the first failure.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from importlib import resources
from pathlib import Path

import grpc

import resilience
from resilience import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.testing import ECHO_METHODS, AioEchoServer, EchoServer, aio_echo_call, echo_call


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"wheel smoke test failed: {message}")


def shipped_files() -> None:
    package = resources.files("resilience")
    check("site-packages" in str(Path(str(package))), f"imported from {package}, not the wheel")
    for name in ("py.typed", "backends/decide.lua", "simulate/scenarios/worked-trace.toml"):
        check(package.joinpath(name).is_file(), f"{name} is missing from the wheel")


def console_script() -> None:
    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        [str(bin_dir / "resilience"), "--version"], capture_output=True, text=True, check=False
    )
    check(out.stdout.strip() == f"resilience {resilience.__version__}", repr(out))
    out = subprocess.run(
        [str(bin_dir / "resilience"), "simulate", "failover", "--scenario", "worked-trace"],
        capture_output=True,
        text=True,
        check=False,
    )
    check(out.returncode == 0, f"simulate failed: {out.stderr}")


def sync_call() -> None:
    with EchoServer(interceptors=[ServerInterceptor()]) as server:
        channel = grpc.intercept_channel(grpc.insecure_channel(server.address), ClientInterceptor())
        with channel:
            for shape in ECHO_METHODS:
                responses = echo_call(channel, shape, b"ping")
                check(any(b"ping" in r for r in responses), f"sync {shape}: {responses!r}")


async def aio_call() -> None:
    async with AioEchoServer(interceptors=[AioServerInterceptor()]) as server:
        channel = grpc.aio.insecure_channel(server.address, interceptors=AioClientInterceptor())
        async with channel:
            for shape in ECHO_METHODS:
                responses = await aio_echo_call(channel, shape, b"ping")
                check(any(b"ping" in r for r in responses), f"aio {shape}: {responses!r}")


def main() -> None:
    shipped_files()
    console_script()
    sync_call()
    asyncio.run(aio_call())
    print(f"wheel smoke test passed: grpc-resilience {resilience.__version__}")


if __name__ == "__main__":
    main()
