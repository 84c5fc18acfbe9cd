"""Trusted peers: which gRPC peers may claim a tier."""

from __future__ import annotations

import pytest

from resilience.policy import Policy

PEERS = ["10.0.0.0/8", "::1/128", "192.168.1.7", "ipv4:172.16.0.5", "ipv4:172.16.0.6:7000", "unix:"]


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("ipv4:10.1.2.3:51234", True),
        ("ipv4:11.0.0.1:51234", False),
        ("ipv6:[::1]:5000", True),
        ("ipv6:%5B::1%5D:5000", True),
        ("ipv6:[::2]:5000", False),
        ("ipv6:[::ffff:10.0.0.9]:5000", True),
        ("ipv4:192.168.1.7:1", True),
        ("ipv4:172.16.0.5:9", True),
        ("ipv4:172.16.0.6:7000", True),
        ("ipv4:172.16.0.6:7001", False),
        ("unix:", True),
        ("unix:/tmp/other", False),
        ("ipv4:garbage", False),
        ("", False),
        ("dns:example.com", False),
    ],
)
def test_peers_match_networks_addresses_and_exact_strings(peer: str, trusted: bool) -> None:
    policy = Policy(trusted_peers=PEERS)
    assert policy.is_trusted_peer(peer) is trusted
    assert policy.is_trusted_peer(peer) is trusted  # cached answer agrees


def test_no_trusted_peers_trusts_nobody() -> None:
    assert not Policy().is_trusted_peer("ipv4:127.0.0.1:5000")
    assert Policy().trusted_peers == ()
