"""The caller's own metadata reaches both centers whatever form it takes: a tuple, a list, or a
one-shot iterator (a generator, ``zip(...)``), which gRPC reads once per call and accepts on a
bare channel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.testing import ManualClock

from .conftest import OK, READS, Centers, ClientFactory

FORMS: dict[str, Callable[[], Iterable[tuple[str, Any]]]] = {
    "tuple": lambda: (("x-user", "ada"),),
    "list": lambda: [("x-user", "ada")],
    "generator": lambda: (item for item in [("x-user", "ada")]),
    "zip": lambda: zip(["x-user"], ["ada"], strict=True),
}


@pytest.mark.parametrize("local_fails", [False, True], ids=["local answers", "fails over"])
@pytest.mark.parametrize("form", list(FORMS))
def test_the_callers_metadata_reaches_each_center(
    centers: Centers, make_client: ClientFactory, form: str, local_fails: bool
) -> None:
    """The failover channel reads the metadata for the failover mark before the local call
    and sends it again to the remote center: an iterator used to arrive empty at both."""
    centers.local.fail_every = 1 if local_fails else 0
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    client = make_client(centers.local_address, centers.remote_address, policy=READS, window=window)

    assert client.read(b"x", metadata=FORMS[form]()).code == OK

    assert [r.user for r in centers.local.received] == ["ada"]
    assert [(r.user, r.marked) for r in centers.remote.received] == (
        [("ada", True)] if local_fails else []
    )
