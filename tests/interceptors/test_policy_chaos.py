"""Fault injection and traffic recording configured in the policy: the interceptors install
them by themselves, servers before admission and clients before sending, scoped by color."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from resilience._base.keys import REJECT
from resilience.context import traffic_color
from resilience.policy import Policy
from resilience.recording import read_recording
from resilience.testing import ECHO_METHODS, EchoBehavior

from .harness import Client, Failure, Harness, Recorder

UNARY = ECHO_METHODS["unary_unary"]


def chaos_policy(*faults: dict[str, Any], enabled: bool = True, **top: Any) -> Policy:
    chaos = {"enabled": enabled, "allowed_colors": ["loadtest"], "seed": 7}
    return Policy.from_dict({"faults": list(faults), "chaos": chaos, **top})


def breaker_counts(harness: Harness, client: Client) -> tuple[int, int]:
    """``(requests, accepts)`` of the client's breaker for UNARY (grpc.aio's interceptors name
    the method in bytes)."""
    key = UNARY.encode() if harness.aio and not harness.protected else UNARY
    counts: tuple[int, int] = client.interceptor._pipeline.registry.state(key).breaker.counts()
    return counts


def assert_fault(result: object, code: grpc.StatusCode, message: str) -> None:
    assert isinstance(result, Failure)
    assert (result.code, result.details) == (code, message)
    assert result.trailing[REJECT] == "fault"


def test_a_server_fault_from_the_policy_aborts_before_the_handler(harness: Harness) -> None:
    behavior = EchoBehavior()
    fault = {"method": UNARY, "abort": "UNAVAILABLE", "message": "server chaos"}
    server = harness.server(behavior=behavior, policy=chaos_policy(fault))
    client = harness.client(server.address)

    assert_fault(client.call(), grpc.StatusCode.UNAVAILABLE, "server chaos")
    assert not isinstance(client.call("unary_stream"), Failure)  # another method: no fault
    assert behavior.calls == 1  # only the unary_stream call reached a handler


def test_a_client_fault_from_the_policy_fails_locally_without_sending(harness: Harness) -> None:
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior)
    seen = Recorder()
    fault = {"side": "client", "abort": "DEADLINE_EXCEEDED", "message": "client chaos"}
    client = harness.client(server.address, policy=chaos_policy(fault), observers=[seen])

    assert_fault(client.call(), grpc.StatusCode.DEADLINE_EXCEEDED, "client chaos")

    assert behavior.calls == 0
    assert [(o.code, o.reject_reason) for _, o in seen.ended] == [
        (grpc.StatusCode.DEADLINE_EXCEEDED, "fault")
    ]


def test_a_client_delay_from_the_policy_holds_the_call_then_sends_it(harness: Harness) -> None:
    server = harness.server()
    client = harness.client(server.address, policy=chaos_policy({"side": "client", "delay": 0.1}))

    started = time.monotonic()
    result = client.call()

    assert result == [b"ping"]
    assert time.monotonic() - started >= 0.1


def test_a_client_delay_uses_up_the_callers_timeout(harness: Harness) -> None:
    remaining: list[float] = []
    behavior = EchoBehavior(
        on_call=lambda request, context: remaining.append(context.time_remaining())
    )
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=chaos_policy({"side": "client", "delay": 0.3}))

    assert client.call(timeout=5.0) == [b"ping"]

    # the server is told what is left after the delay (load only makes it less)
    assert len(remaining) == 1
    assert remaining[0] <= 4.75


def test_a_client_delay_longer_than_the_timeout_ends_the_call_at_its_deadline(
    harness: Harness,
) -> None:
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=chaos_policy({"side": "client", "delay": 3.0}))

    result = client.call(timeout=0.2)

    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert behavior.calls == 0  # held until the deadline, never sent


@pytest.mark.parametrize("side", ["server", "client"])
def test_a_color_scoped_fault_hits_only_traffic_of_that_color(harness: Harness, side: str) -> None:
    fault = {"side": side, "color": "loadtest", "abort": "UNAVAILABLE", "message": "colored"}
    policy = chaos_policy(fault)
    server = harness.server(policy=policy if side == "server" else None)
    client = harness.client(server.address, policy=policy if side == "client" else None)

    assert client.call() == [b"ping"]
    with traffic_color("other"):
        assert client.call() == [b"ping"]
    with traffic_color("loadtest"):
        assert_fault(client.call(), grpc.StatusCode.UNAVAILABLE, "colored")


def test_policy_faults_stay_off_until_enabled(harness: Harness) -> None:
    fault = {"side": "both", "abort": "UNAVAILABLE", "message": "now on"}
    policy = chaos_policy(fault, enabled=False)
    server = harness.server(policy=policy)
    client = harness.client(server.address)
    assert client.call() == [b"ping"]

    server.interceptor.fault_injector.enable()

    assert_fault(client.call(), grpc.StatusCode.UNAVAILABLE, "now on")


def test_a_reload_installs_and_removes_policy_faults(harness: Harness) -> None:
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior, hooks=[lambda *args: None])
    client = harness.client(server.address)
    assert client.call() == [b"ping"]
    assert server.interceptor.fault_injector is None

    server.interceptor.update_policy(chaos_policy({"abort": "ABORTED", "message": "reloaded"}))
    assert_fault(client.call(), grpc.StatusCode.ABORTED, "reloaded")

    server.interceptor.update_policy(Policy.default())
    assert client.call() == [b"ping"]
    assert behavior.calls == 2


def test_a_policy_records_sampled_calls_on_the_server(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    policy = Policy.from_dict({"record": {"rate": 1.0, "path": str(path), "max_bytes": 4096}})
    server = harness.server(policy=policy)
    client = harness.client(server.address)

    for payload in (b"a", b"b", b"c"):
        assert client.call(payload=payload) == [payload]

    recorded = list(read_recording(path))
    assert [(call.method, call.requests) for call in recorded] == [
        (UNARY, (b"a",)),
        (UNARY, (b"b",)),
        (UNARY, (b"c",)),
    ]


def open_paths() -> set[str]:
    """The files this process holds open (Linux: the targets of /proc/self/fd)."""
    fds = Path("/proc/self/fd")
    return {os.path.realpath(fds / fd) for fd in os.listdir(fds)}


def test_a_reload_or_close_releases_the_recording_file(harness: Harness, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    server = harness.server(policy=Policy.from_dict({"record": {"rate": 1.0, "path": str(first)}}))
    client = harness.client(server.address)
    client.call()
    assert str(first) in open_paths()

    server.interceptor.update_policy(
        Policy.from_dict({"record": {"rate": 1.0, "path": str(second)}})
    )
    client.call()
    assert str(first) not in open_paths()
    assert str(second) in open_paths()

    server.interceptor.close()
    assert str(second) not in open_paths()
    client.call()  # a call after close still records: the file is reopened to append
    assert [len(list(read_recording(path))) for path in (first, second)] == [1, 2]


def test_recording_and_a_server_fault_combine_with_user_hooks(
    harness: Harness, tmp_path: Path
) -> None:
    path = tmp_path / "traffic.jsonl"
    ran: list[str] = []
    fault = {"percentage": 100, "abort": "UNAVAILABLE", "message": "after recording"}
    policy = chaos_policy(fault, record={"rate": 1.0, "path": str(path)})
    server = harness.server(policy=policy, hooks=[lambda method, *rest: ran.append(method)])
    client = harness.client(server.address)

    assert_fault(client.call(), grpc.StatusCode.UNAVAILABLE, "after recording")

    assert [call.method for call in read_recording(path)] == [UNARY]  # recorded first
    assert ran == []  # the fault ended the call before the user's hook


def test_a_server_fault_is_retried_by_the_client_and_counted_as_a_fault_on_the_server(
    harness: Harness,
) -> None:
    """A server-side injected UNAVAILABLE is, for the client, the callee's failure: the
    policy's ``retry`` retries it and its breaker counts it. The server's observers (and so
    its metrics, ``resilience_rejections_total{reason="fault"}``) hear it with reason
    ``fault``, as for the policy's own fault hook as for one the user installs."""
    fault = {"method": UNARY, "abort": "UNAVAILABLE", "message": "server chaos"}
    heard = Recorder()
    server = harness.server(policy=chaos_policy(fault), observers=[heard])
    retry = {"max_attempts": 3, "base_delay": 0.001, "max_delay": 0.002}
    client_policy = Policy.from_dict({"methods": {UNARY: {"read": True, "retry": retry}}})
    attempts = Recorder()
    client = harness.client(server.address, policy=client_policy, observers=[attempts])

    assert_fault(client.call(), grpc.StatusCode.UNAVAILABLE, "server chaos")

    assert attempts.codes() == [grpc.StatusCode.UNAVAILABLE] * 3
    assert [name for name, _ in attempts.events] == ["retry.attempted"] * 2
    assert breaker_counts(harness, client) == (3, 0)  # 3 requests, none accepted
    ended = heard.wait_ended(3)
    assert [(o.code, o.reject_reason) for _, o in ended] == [
        (grpc.StatusCode.UNAVAILABLE, "fault")
    ] * 3


def test_a_client_fault_is_a_local_refusal_neither_retried_nor_counted(harness: Harness) -> None:
    """A client-side injected abort is refused before sending, like a breaker drop: the
    policy's ``retry`` does not retry it and the breaker does not count it (docs/chaos.md)."""
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior)
    fault = {"side": "client", "method": UNARY, "abort": "UNAVAILABLE", "message": "client chaos"}
    retry = {"max_attempts": 3, "base_delay": 0.001, "max_delay": 0.002}
    policy = chaos_policy(fault, methods={UNARY: {"read": True, "retry": retry}})
    seen = Recorder()
    client = harness.client(server.address, policy=policy, observers=[seen])

    for _ in range(30):
        assert_fault(client.call(), grpc.StatusCode.UNAVAILABLE, "client chaos")

    assert behavior.calls == 0
    assert [(o.code, o.reject_reason) for _, o in seen.ended] == [
        (grpc.StatusCode.UNAVAILABLE, "fault")
    ] * 30
    assert seen.events == []  # no retry.attempted
    assert breaker_counts(harness, client) == (0, 0)
