"""/status.json under load from a real gRPC shop (sync and aio): the live numbers move."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from resilience.observability import serve_metrics

from .status_world import aio_shop, sync_shop

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
