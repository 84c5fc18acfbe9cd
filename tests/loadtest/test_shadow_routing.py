"""Shadow routing with real SQLite databases: colored writes land in the shadow database."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience.context import set_shadow_colors, traffic_color
from resilience.shadow import ShadowRouter, pick


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[ShadowRouter[sqlite3.Connection]]:
    real = sqlite3.connect(tmp_path / "orders.db", check_same_thread=False)
    shadow = sqlite3.connect(tmp_path / "orders-shadow.db", check_same_thread=False)
    for db in (real, shadow):
        db.execute("CREATE TABLE orders (id TEXT)")
    yield ShadowRouter(real, shadow)
    real.close()
    shadow.close()


WRITES = threading.Lock()  # one sqlite3 connection must not run two transactions at once


def place_order(router: ShadowRouter[sqlite3.Connection], order_id: str) -> None:
    db = router.get()  # chosen by the calling thread's own context
    with WRITES, db:
        db.execute("INSERT INTO orders VALUES (?)", (order_id,))


def ids(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT id FROM orders ORDER BY id")]


def test_colored_writes_go_to_the_shadow_database(
    databases: ShadowRouter[sqlite3.Connection],
) -> None:
    place_order(databases, "real-1")
    with traffic_color("loadtest"):
        place_order(databases, "load-1")
    assert ids(databases.real) == ["real-1"]
    assert ids(databases.shadow) == ["load-1"]


def test_each_thread_follows_its_own_call(databases: ShadowRouter[sqlite3.Connection]) -> None:
    def colored(i: int) -> None:
        with traffic_color("loadtest"):
            place_order(databases, f"load-{i}")

    threads = [threading.Thread(target=colored, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    place_order(databases, "real-1")
    for thread in threads:
        thread.join()
    assert ids(databases.real) == ["real-1"]
    assert ids(databases.shadow) == [f"load-{i}" for i in range(4)]


def test_a_color_declared_non_shadow_uses_the_real_resource() -> None:
    set_shadow_colors(["loadtest"])
    try:
        with traffic_color("canary"):
            assert pick("real", "shadow") == "real"
        with traffic_color("loadtest"):
            assert pick("real", "shadow") == "shadow"
    finally:
        set_shadow_colors(None)


def test_the_same_resource_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="shadow"):
        ShadowRouter("db", "db")
