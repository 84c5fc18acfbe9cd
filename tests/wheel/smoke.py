"""Run by `make wheel-check` with the python of a fresh venv that has only the built wheel
(plus its `redis` extra) installed: the package as users get it, not the source tree.

Checks what a source-tree test cannot: the files shipped beside the code (py.typed, the Lua
scripts, the simulator's scenarios), the Apache-2.0 LICENSE in the dist-info and a PyPI
description without relative links, the console entry point, and one real call, sync and aio,
through both interceptors in all four shapes, and that a profiled aio call is found by its task
on this Python (3.10 and 3.11 find it another way than 3.12+). Exits non-zero with a message on
the first failure.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from importlib import metadata, resources
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
    for name in (
        "py.typed",
        "backends/decide.lua",
        "tools/simulate/scenarios/worked-trace.toml",
        "tools/cli/demo_flow.toml",
    ):
        check(package.joinpath(name).is_file(), f"{name} is missing from the wheel")


_LINK = re.compile(
    r"\]\(\s*<?([^)\s>]*)"  # [text](target)
    r"|^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$"  # [ref]: target
    r"|(?:href|src)\s*=\s*[\"']([^\"']*)",  # <a href="target">, <img src="target">
    re.MULTILINE,
)
_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#)")


def relative_links(markdown: str) -> list[str]:
    """Link targets in ``markdown`` that are neither absolute URLs nor in-page anchors: they
    break wherever the text is shown away from its files (PyPI shows the description alone)."""
    targets = (
        next(group for group in match.groups() if group is not None)
        for match in _LINK.finditer(markdown)
    )
    return [target for target in targets if not _ABSOLUTE.match(target)]


def package_metadata() -> None:
    dist = metadata.distribution("grpc-resilience")
    licenses = [str(f) for f in dist.files or () if f.name == "LICENSE"]
    check(any(".dist-info/licenses/" in name for name in licenses), f"no LICENSE: {licenses}")
    license_text = (Path(str(dist.locate_file(licenses[0])))).read_text(encoding="utf-8")
    check("Apache License" in license_text and "Version 2.0" in license_text, "LICENSE text")
    check(dist.metadata["License-Expression"] == "Apache-2.0", "License-Expression")
    description = dist.metadata.get_payload()  # type: ignore[attr-defined]
    check(bool(description), "no long description in METADATA")
    links = relative_links(description)
    check(not links, f"relative links in the PyPI description: {links}")


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


def profiled_aio_task() -> None:
    import threading

    from resilience.context import CallContext
    from resilience.profiling import _calls

    class Call:
        call_context = CallContext(method="/smoke.Profiled/Call")
        otel_context = None

    async def register() -> None:
        call = Call()
        key = _calls.begin(call, True)
        check(key is asyncio.current_task(), f"aio call keyed by {key!r}, not its task")
        seen = _calls.call_on(threading.get_ident())
        check(seen is call, f"the sampler sees {seen!r} on the loop's thread")
        if key is not None:
            _calls.end(key, call, 0.0)

    _calls.arm()
    try:
        asyncio.run(register())
        asyncio.run(register())  # a second loop on the same thread
    finally:
        _calls.disarm()


def main() -> None:
    shipped_files()
    package_metadata()
    console_script()
    sync_call()
    asyncio.run(aio_call())
    profiled_aio_task()
    print(f"wheel smoke test passed: grpc-resilience {resilience.__version__}")


if __name__ == "__main__":
    main()
