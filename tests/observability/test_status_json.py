"""/status.json under load from a real gRPC shop (sync and aio): the live numbers move; and
each side's bulkhead places on real echo servers whose handlers are held."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import pytest

from interceptors.harness import AioHarness, Failure, Gate, Harness
from resilience.observability import default_observers, serve_metrics
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS

from .status_world import aio_shop, forget_dead_sources, sync_shop

pytestmark = [pytest.mark.e2e, pytest.mark.timing]

Shop = Callable[[], AbstractContextManager[Any]]


def fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        assert response.headers["Content-Type"] == "application/json"
        document: dict[str, Any] = json.loads(response.read())
        return document


def entry(document: dict[str, Any], side: str, method: str) -> dict[str, Any] | None:
    return next(
        (m for m in document["methods"] if m["side"] == side and m["method"] == method), None
    )


def wait_for(url: str, ready: Callable[[dict[str, Any]], bool], seconds: float = 15.0) -> Any:
    """Poll ``url`` until ``ready(document)`` (bounded; the host may be busy)."""
    deadline = time.monotonic() + seconds
    document = fetch(url)
    while not ready(document):
        assert time.monotonic() < deadline, f"status never got ready: {document}"
        time.sleep(0.2)
        document = fetch(url)
    return document


@pytest.mark.parametrize("shop", [sync_shop, aio_shop], ids=["sync", "aio"])
def test_status_json_shows_each_method_and_side_live(shop: Shop) -> None:
    with serve_metrics(0, set_global=False) as metrics, shop():
        url = metrics.status_url + ".json"

        def busy(doc: dict[str, Any]) -> bool:
            server = entry(doc, "server", "demo.Shop/Flaky")
            client = entry(doc, "client", "demo.Shop/Get")
            return bool(
                server and client and server["calls_per_s"] > 0 and client["calls_per_s"] > 0
            )

        first = wait_for(url, busy)
        later = wait_for(url, lambda doc: doc["time"] > first["time"] + 1.0 and busy(doc))

    server = entry(later, "server", "demo.Shop/Flaky")
    client = entry(later, "client", "demo.Shop/Get")
    assert server is not None
    assert client is not None
    assert server["p50_s"] is not None
    assert server["p50_s"] <= server["p99_s"]
    assert 0 < server["error_ratio"] < 1  # 30 % of Flaky calls are aborted by the fault
    assert server["limit"] == 40
    assert "2" in server["tiers"]
    assert server["shedding"] is False
    assert 0 <= server["cpu"] <= 1
    assert client["timeout_s"] > 0
    assert "breaker_drop_probability" in client
    assert [f["rule"] for f in later["faults"]] == ["flaky-shop"]
    lapse = {f["rule"]: f["remaining_s"] for f in first["faults"]}["flaky-shop"]
    assert 0 < later["faults"][0]["remaining_s"] < lapse <= 60


HELD_ON_SERVER = ECHO_METHODS["unary_unary"]
HELD_ON_CLIENT = ECHO_METHODS["unary_stream"]
ONE_PLACE = {"max_concurrent": 1, "max_queue": 1, "max_wait": 30}
BULKHEADS = Policy.from_dict(
    {
        "methods": {
            HELD_ON_SERVER: {"breaker": False, "bulkhead": {**ONE_PLACE, "side": "server"}},
            HELD_ON_CLIENT: {"breaker": False, "bulkhead": {**ONE_PLACE, "side": "client"}},
        }
    }
)


def places(doc: dict[str, Any], side: str, method: str) -> tuple[float, float] | None:
    """The (bulkhead_active, bulkhead_queued) of a method's entry, None without a bulkhead."""
    found = entry(doc, side, method.lstrip("/"))
    if found is None or "bulkhead_active" not in found:
        return None
    return found["bulkhead_active"], found["bulkhead_queued"]


@pytest.mark.parametrize("harness", [Harness, AioHarness], ids=["sync", "aio"])
def test_status_json_shows_each_sides_bulkhead_places(harness: type[Harness]) -> None:
    forget_dead_sources()
    made, gate = harness(), Gate()
    with (
        serve_metrics(0, set_global=False) as metrics,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        url = metrics.status_url + ".json"
        try:
            observers = default_observers()  # the status page's call statistics among them
            behavior = gate.behavior(made.aio)
            server = made.server(behavior=behavior, policy=BULKHEADS, observers=observers)
            client = made.client(server.address, policy=BULKHEADS, observers=observers)
            calls = [
                pool.submit(client.call, shape, timeout=30.0)
                for shape in ("unary_unary", "unary_unary", "unary_stream", "unary_stream")
            ]

            def held(doc: dict[str, Any]) -> bool:  # one call runs and one waits, per bulkhead
                return (
                    places(doc, "server", HELD_ON_SERVER) == (1, 1)
                    and places(doc, "client", HELD_ON_CLIENT) == (1, 1)
                    and entry(doc, "client", HELD_ON_SERVER.lstrip("/")) is not None
                    and entry(doc, "server", HELD_ON_CLIENT.lstrip("/")) is not None
                )

            full = wait_for(url, held)
            gate.open()
            results = [call.result(30.0) for call in calls]
            freed = wait_for(
                url,
                lambda doc: (
                    places(doc, "server", HELD_ON_SERVER) == (0, 0)
                    and places(doc, "client", HELD_ON_CLIENT) == (0, 0)
                ),
            )
        finally:
            gate.open()
            made.close()
    assert [r for r in results if isinstance(r, Failure)] == []  # waited, none refused
    # no bulkhead on the other side of each method: no fields, not zeros
    for doc in (full, freed):
        assert places(doc, "client", HELD_ON_SERVER) is None
        assert places(doc, "server", HELD_ON_CLIENT) is None
