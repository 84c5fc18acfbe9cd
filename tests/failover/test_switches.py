"""Switches off: no call fails over. Global, per service, per method, the window's own switch
and the policy's ``failover = false`` all take effect on the next call."""

from __future__ import annotations

import grpc
import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover import FailoverSwitches
from resilience.policy import Policy
from resilience.testing import ManualClock

from .centers import READ
from .conftest import OK, READS, Centers, Client, ClientFactory

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def _client(centers: Centers, make_client: ClientFactory, **options: object) -> Client:
    centers.local.fail_every = 1
    window = AdaptiveRetryWindow(initial=1000, clock=ManualClock())
    options.setdefault("policy", READS)
    return make_client(centers.local_address, centers.remote_address, window=window, **options)


@pytest.mark.parametrize("pattern", ["*", "/test.Center/*", READ])
def test_a_disabled_pattern_stops_failover_until_enabled_again(
    centers: Centers, make_client: ClientFactory, pattern: str
) -> None:
    client = _client(centers, make_client)
    assert client.read(b"before").code == OK
    client.channel.disable_failover(pattern)
    assert [client.read(b"off%d" % i).code for i in range(5)] == [UNAVAILABLE] * 5
    stream = client.read_stream(b"stream").code  # another method of the same service
    assert stream == (OK if pattern == READ else UNAVAILABLE)
    client.channel.enable_failover(pattern)
    assert client.read(b"after").code == OK
    reads = [r.request for r in centers.remote.received if r.method == READ]
    assert reads == [b"before", b"after"]


def test_the_window_switch_and_a_shared_switch_object(
    centers: Centers, make_client: ClientFactory
) -> None:
    switches = FailoverSwitches()
    client = _client(centers, make_client, switches=switches)
    client.channel.window.enabled = False
    assert client.read(b"a").code == UNAVAILABLE
    client.channel.window.enabled = True
    switches.enabled = False
    assert client.read(b"b").code == UNAVAILABLE
    assert centers.remote.received == []


def test_policy_failover_false_and_hot_replacement(
    centers: Centers, make_client: ClientFactory
) -> None:
    off = Policy.from_dict({"methods": {"/test.Center/*": {"read": True, "failover": False}}})
    client = _client(centers, make_client, policy=off)
    assert client.read(b"a").code == UNAVAILABLE
    client.channel.policy = READS
    assert client.read(b"b").code == OK
    assert [r.request for r in centers.remote.received] == [b"b"]


def test_patterns_match_method_service_and_everything() -> None:
    switches = FailoverSwitches(disabled=("/a.B/*",))
    assert not switches.allows("/a.B/C")
    assert switches.allows("/a.Bc/C")
    switches.disable("/x.Y/Z")
    assert not switches.allows("/x.Y/Z")
    assert switches.allows("/x.Y/W")
    assert switches.enabled
    switches.enabled = False
    assert not switches.allows("/q.R/S")
    assert switches.disabled == frozenset({"*", "/a.B/*", "/x.Y/Z"})


@pytest.mark.parametrize("pattern", ["", "a.B/C", "/a.B", "/a.B/C/D", "/a.*/C", 7])
def test_bad_patterns_are_refused_with_the_allowed_forms(pattern: object) -> None:
    with pytest.raises(ValueError, match="not a method pattern"):
        FailoverSwitches().disable(pattern)  # type: ignore[arg-type]
