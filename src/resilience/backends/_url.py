"""Store URLs: validation with messages that name the problem, redaction for logs, and the
redis-py client options every store uses."""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from resilience._base.limits import MAX_SECONDS, shown
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


_INTEGER_OPTIONS = ("db", "socket_read_size", "max_connections", "health_check_interval")
_SECONDS_OPTIONS = ("socket_timeout", "socket_connect_timeout")
_BOOLEAN_OPTIONS = ("cluster", "socket_keepalive", "retry_on_timeout", "ssl_check_hostname")
_TEXT_OPTIONS = ("client_name", "username", "password")
_TLS_OPTIONS = (
    "ssl_keyfile",
    "ssl_certfile",
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_ca_data",
    "ssl_password",
    "ssl_ciphers",
)
_CHOICES = {"ssl_cert_reqs": ("none", "optional", "required"), "protocol": ("2", "3")}
QUERY_OPTIONS = frozenset(
    (*_INTEGER_OPTIONS, *_SECONDS_OPTIONS, *_BOOLEAN_OPTIONS, *_TEXT_OPTIONS, *_TLS_OPTIONS)
) | frozenset(_CHOICES)
"""Query options a store URL may carry: ``cluster`` (ours) and the redis-py connection options
the stores support. Anything else (a typo such as ``ssl_ca_cert``) is refused when the URL is
checked, instead of failing every connection later. ``ssl_*`` options need ``rediss://``."""


def _option_problem(name: str, value: str, scheme: str) -> str | None:
    """What is wrong with one query option, or None."""
    if name not in QUERY_OPTIONS:
        close = difflib.get_close_matches(name, sorted(QUERY_OPTIONS), n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        return (
            f"unknown query option {shown(name)}; {hint}known: {', '.join(sorted(QUERY_OPTIONS))}"
        )
    if name.startswith("ssl_") and scheme != "rediss":
        return f"{name} needs rediss:// (TLS)"
    if name in _INTEGER_OPTIONS and not value.isdigit():
        return f"{name} must be a whole number >= 0, got {shown(value)}"
    if name in _SECONDS_OPTIONS and not _positive_seconds(value):
        return f"{name} must be seconds > 0, got {shown(value)}"
    if name in _BOOLEAN_OPTIONS and value.lower() not in (*_TRUE, *_FALSE):
        return f"{name} must be true or false, got {shown(value)}"
    choices = _CHOICES.get(name)
    if choices is not None and value.lower() not in choices:
        return f"{name} must be one of {', '.join(choices)}, got {shown(value)}"
    return None


def _positive_seconds(value: str) -> bool:
    try:
        seconds = float(value)
    except ValueError:
        return False
    return 0 < seconds <= MAX_SECONDS


def url_problem(url: str) -> str | None:
    """What is wrong with a store URL (scheme, host, port, database, every query option), or
    None when redis-py would accept it and every option is one the stores support."""
    if url[:1].isspace() or " " in url:
        # urlsplit drops leading whitespace, where redis-py refuses the scheme; a space in the
        # host would be looked up as it is (tabs and line breaks elsewhere both drop)
        return "a store URL has no spaces: remove them (percent-encode one in a password: %20)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in _SCHEMES:
        got = parts.scheme + "://" if parts.scheme else "none"
        return f"scheme must be redis://, rediss:// (TLS) or unix://, got {got}"
    if not url.startswith(parts.scheme):  # urlsplit lowercases it; redis-py reads it as written
        written = shown(url[: len(parts.scheme)] + "://")
        return f"scheme must be written in lowercase, got {written}"
    if parts.scheme == "unix":
        if not parts.path:
            return "unix:// needs a socket path"
    else:
        if not parts.hostname:
            return "missing host"
        if port == 0:
            return "port must be in 1..65535"
        database = parts.path.strip("/")
        if database and not database.isdigit():
            return f"database must be a number, got {shown(database)}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    for name, value in query:
        problem = _option_problem(name, value, parts.scheme)
        if problem is not None:
            return problem
    flags = [value.lower() for name, value in query if name == "cluster"]
    if flags and flags[-1] in _TRUE:
        if parts.scheme == "unix":
            return "Redis Cluster needs redis:// or rediss://"
        if parts.path.strip("/") not in ("", "0"):
            return "Redis Cluster has only database 0"
    return None


def parse_store_url(url: str) -> tuple[str, bool]:
    """Validate a Redis URL; return it without our ``cluster`` query flag, and that flag.

    Accepted: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) and
    ``unix:///path``, with the query options of :data:`QUERY_OPTIONS`. Raises ConfigError
    naming the problem (see :func:`url_problem`); the password is never shown.
    """
    if not isinstance(url, str):
        raise ConfigError(f"store must be 'memory' or a redis:// URL, got {shown(url)}")
    problem = url_problem(url)
    if problem is not None:
        raise ConfigError(f"store URL {shown(redact(url))}: {problem}")
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flags = [value.lower() for name, value in query if name == "cluster"]
    if not flags:
        return url, False
    kept = urlencode([(name, value) for name, value in query if name != "cluster"])
    return urlunsplit(parts._replace(query=kept)), flags[-1] in _TRUE


def client_options(
    target: str, socket_timeout: float, connect_timeout: float | None
) -> dict[str, Any]:
    """redis-py options for the store URL ``target`` (checked): bounded socket and connect
    timeouts, and no client-side retries (the limiter's breaker decides when to try again; a
    retry would multiply the timeout).

    The URL's ``?socket_timeout=`` replaces ``socket_timeout`` (redis-py lets URL options win).
    ``connect_timeout`` None: the socket timeout, as redis-py does when it is given no
    ``socket_connect_timeout``, but at least :data:`TLS_CONNECT_TIMEOUT` for ``rediss://``,
    whose connect includes building an SSL context and a handshake. The URL's own
    ``?socket_connect_timeout=`` still wins over all of these."""
    if not socket_timeout > 0:
        raise ConfigError(f"socket_timeout must be > 0 seconds, got {socket_timeout!r}")
    if connect_timeout is not None and not connect_timeout > 0:
        raise ConfigError(f"connect_timeout must be > 0 seconds, got {connect_timeout!r}")
    parts = urlsplit(target)
    given = [value for name, value in parse_qsl(parts.query) if name == "socket_timeout"]
    if given:
        socket_timeout = float(given[-1])
    if connect_timeout is None:
        tls = parts.scheme == "rediss"
        connect_timeout = max(socket_timeout, TLS_CONNECT_TIMEOUT) if tls else socket_timeout
    return {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": 0,
    }
