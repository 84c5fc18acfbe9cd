"""Store URLs: validation with messages that name the problem, redaction for logs, and the
redis-py client options every store uses."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from resilience.errors import ConfigError

_SCHEMES = ("redis", "rediss", "unix")
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")

TLS_CONNECT_TIMEOUT = 0.25
"""Seconds a new ``rediss://`` connection may take by default. redis-py builds an SSL context
(loading the system's CA store: about 17 ms of CPU measured on Debian 12) for each new
connection, inside the connect timeout for ``redis.asyncio``; then comes the handshake.
Connections are pooled, so this is paid once per connection, not per call."""


def redact(url: str) -> str:
    """``url`` with its secrets replaced by ``***`` (for logs and error messages): the password
    of its ``user:password@`` part and the value of any query option whose name contains
    ``password`` (redis-py takes ``?password=...`` too)."""
    parts = urlsplit(url)
    shown = url
    if parts.password is not None:
        shown = shown.replace(f":{parts.password}@", ":***@", 1)
    if "password" in unquote(parts.query).lower():
        query = "&".join(_redacted_option(option) for option in parts.query.split("&"))
        shown = shown.replace(f"?{parts.query}", f"?{query}", 1)
    return shown


def _redacted_option(option: str) -> str:
    name, equals, _ = option.partition("=")
    return f"{name}=***" if equals and "password" in unquote(name).lower() else option


def parse_store_url(url: str) -> tuple[str, bool]:
    """Validate a Redis URL; return it without our ``cluster`` query flag, and that flag.

    Accepted: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) and
    ``unix:///path``, with redis-py's query options. Raises ConfigError naming the problem.
    """
    shown = redact(url) if isinstance(url, str) else repr(url)
    if not isinstance(url, str):
        raise ConfigError(f"store must be 'memory' or a redis:// URL, got {shown}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"store URL {shown}: {exc}") from None
    if parts.scheme not in _SCHEMES:
        raise ConfigError(
            f"store URL {shown}: scheme must be redis://, rediss:// (TLS) or unix://, "
            f"got {parts.scheme + '://' if parts.scheme else 'none'}"
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigError(f"store URL {shown}: unix:// needs a socket path")
    else:
        if not parts.hostname:
            raise ConfigError(f"store URL {shown}: missing host")
        if port == 0:
            raise ConfigError(f"store URL {shown}: port must be in 1..65535")
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ConfigError(f"store URL {shown}: database must be a number, got {database!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    flags = [value for name, value in query if name == "cluster"]
    if not flags:
        return url, False
    cluster = _flag(flags[-1], shown)
    if cluster and parts.scheme == "unix":
        raise ConfigError(f"store URL {shown}: Redis Cluster needs redis:// or rediss://")
    if cluster and parts.path.strip("/") not in ("", "0"):
        raise ConfigError(f"store URL {shown}: Redis Cluster has only database 0")
    kept = urlencode([(name, value) for name, value in query if name != "cluster"])
    return urlunsplit(parts._replace(query=kept)), cluster


def _flag(value: str, shown: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"store URL {shown}: cluster must be true or false, got {value!r}")


def client_options(
    socket_timeout: float, connect_timeout: float | None, *, tls: bool
) -> dict[str, Any]:
    """redis-py options: bounded socket and connect timeouts, and no client-side retries (the
    limiter's breaker decides when to try again; a retry would multiply the timeout).

    ``connect_timeout`` None: ``socket_timeout``, but at least :data:`TLS_CONNECT_TIMEOUT`
    for TLS, whose connect includes building an SSL context and a handshake."""
    if not socket_timeout > 0:
        raise ConfigError(f"socket_timeout must be > 0 seconds, got {socket_timeout!r}")
    if connect_timeout is not None and not connect_timeout > 0:
        raise ConfigError(f"connect_timeout must be > 0 seconds, got {connect_timeout!r}")
    if connect_timeout is None:
        connect_timeout = max(socket_timeout, TLS_CONNECT_TIMEOUT) if tls else socket_timeout
    return {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": 0,
    }
