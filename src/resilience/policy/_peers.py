"""Trusted peers: which callers may claim a tier for their calls.

An entry is an IP network in CIDR form (``10.0.0.0/8``, ``::1/128``), a single IP address, or a
gRPC peer string as ``grpc.ServicerContext.peer()`` reports it: ``ipv4:10.0.0.7`` (any port),
``ipv4:10.0.0.7:5000``, ``ipv6:[::1]`` or ``ipv6:[::1]:5000``, and ``unix:<path>`` or
``unix-abstract:<name>`` (matched exactly; a client of a Unix socket usually shows as
``unix:``).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from resilience._base.limits import MAX_ENTRIES, shown
from resilience.policy._values import Invalid, SettingError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ENTRY_HELP = (
    "must be a CIDR network (10.0.0.0/8), an IP address, or a gRPC peer string "
    "(ipv4:10.0.0.7, ipv6:[::1]:5000, unix:/path)"
)
_CACHE_SIZE = 4096


def _split_ip_peer(text: str) -> tuple[IPAddress, int | None]:
    """``ipv4:...`` / ``ipv6:...`` peer text without its scheme -> address and optional port."""
    text = unquote(text)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise ValueError(text)
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, None
    if port is not None and not port.isdigit():
        raise ValueError(text)
    return ipaddress.ip_address(host), int(port) if port is not None else None


def _parse_entry(raw: object) -> tuple[IPNetwork | None, tuple[IPAddress, int | None] | None]:
    if not isinstance(raw, str) or not raw:
        raise Invalid(f"{_ENTRY_HELP}, got {shown(raw)}")
    scheme, colon, rest = raw.partition(":")
    try:
        if colon and scheme in ("ipv4", "ipv6"):
            return None, _split_ip_peer(rest)
        if colon and scheme in ("unix", "unix-abstract"):
            return None, None
        return ipaddress.ip_network(raw), None
    except ValueError as exc:
        raise Invalid(f"{_ENTRY_HELP}, got {shown(raw)} ({exc})") from None


class TrustedPeers:
    """A validated set of trusted peer entries, answering "is this gRPC peer trusted?"."""

    __slots__ = ("_addresses", "_cache", "_exact", "_lock", "_networks", "entries")

    def __init__(self, entries: Iterable[object], *, path: str = "trusted_peers") -> None:
        if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Iterable):
            raise SettingError(path, f"must be a list of peers, got {shown(entries)}")
        self._networks: list[IPNetwork] = []
        self._addresses: set[tuple[IPAddress, int | None]] = set()
        self._exact: set[str] = set()
        kept: list[str] = []
        for index, raw in enumerate(entries):
            if index == MAX_ENTRIES:
                raise SettingError(path, f"must hold at most {MAX_ENTRIES} peers")
            try:
                network, address = _parse_entry(raw)
            except Invalid as exc:
                raise SettingError(f"{path}[{index}]", str(exc)) from None
            assert isinstance(raw, str)
            if network is not None:
                self._networks.append(network)
            elif address is not None:
                self._addresses.add(address)
            else:
                self._exact.add(raw)
            kept.append(raw)
        self.entries: tuple[str, ...] = tuple(kept)
        self._cache: dict[str, bool] = {}
        self._lock = threading.Lock()

    def __contains__(self, peer: object) -> bool:
        if not isinstance(peer, str) or not self.entries:
            return False
        known = self._cache.get(peer)
        if known is None:
            known = self._match(peer)
            with self._lock:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache = {}
                self._cache[peer] = known
        return known

    def _match(self, peer: str) -> bool:
        if peer in self._exact:
            return True
        scheme, _, rest = peer.partition(":")
        if scheme not in ("ipv4", "ipv6"):
            return False
        try:
            address, port = _split_ip_peer(rest)
        except ValueError:
            return False
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.0.0.7 is 10.0.0.7
        for candidate in (address, mapped) if mapped is not None else (address,):
            if (candidate, port) in self._addresses or (candidate, None) in self._addresses:
                return True
            if any(candidate in network for network in self._networks):
                return True
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrustedPeers):
            return NotImplemented
        return self.entries == other.entries

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TrustedPeers({list(self.entries)!r})"
