"""Configuration: store URLs, limit specs, modes, and the factory the interceptors use."""

from __future__ import annotations

import re

import pytest

from resilience._base.clock import ManualClock
from resilience.algorithms import TieredLimiter
from resilience.backends import (
    LimitSpec,
    MemoryStore,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
    build_limiter,
)
from resilience.backends._url import parse_store_url
from resilience.backends.factory import needs_await
from resilience.errors import ConfigError
from resilience.policy import Policy, RateLimitSettings


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://cache:6379", "scheme must be redis://, rediss:// (TLS) or unix://, got http://"),
        ("cache:6379", "scheme must be"),
        ("redis://", "missing host"),
        ("redis://cache:99999", "Port out of range"),
        ("redis://cache:port", "Port could not be cast"),
        ("redis://cache:6379/zero", "database must be a number, got 'zero'"),
        ("unix://", "unix:// needs a socket path"),
    ],
)
def test_bad_store_urls_name_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_store_url(url)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_store_url("redis://user:s3cret@cache:6379/db")
    assert "s3cret" not in str(raised.value)
    assert "user:***@cache" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache:6379/2", ("redis://cache:6379/2", False)),
        (
            "rediss://:pw@cache/0?ssl_cert_reqs=none",
            ("rediss://:pw@cache/0?ssl_cert_reqs=none", False),
        ),
        ("redis://cache:7000?cluster=true", ("redis://cache:7000", True)),
        ("unix:///run/redis.sock?db=1", ("unix:///run/redis.sock?db=1", False)),
        # a line break at the end (a URL read from a file): urlsplit and redis-py both drop it
        ("redis://cache:6379/2\n", ("redis://cache:6379/2\n", False)),
    ],
)
def test_good_store_urls_pass_with_the_cluster_flag_split_off(
    url: str, expected: tuple[str, bool]
) -> None:
    assert parse_store_url(url) == expected


def test_keys_carry_one_hash_tag_per_limit() -> None:
    assert LimitSpec("/shop.Cart/*", 10).keys("svc") == (
        "{svc:/shop.Cart/*}:w",
        "{svc:/shop.Cart/*}:i",
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": -1}, "limit must be an int >= 0"),
        ({"limit": 10, "window": 0}, "window must be > 0 seconds"),
        ({"limit": 10, "buckets": 0}, "buckets must be an int >= 1"),
        ({"limit": 10, "window": 0.005, "buckets": 10}, "window / buckets must be >= 1 ms"),
    ],
)
def test_limit_specs_are_validated(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LimitSpec("x", **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"mode": "sometimes"}, "mode must be 'periodic' or 'exact'"),
        ({"sync_interval": 0}, "sync_interval must be > 0 seconds"),
        ({"expected_instances": 0}, "expected_instances must be >= 1"),
        ({"fallback_limit": -2}, "fallback_limit must be >= 0"),
    ],
)
def test_shared_limiters_validate_their_options(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SharedSlidingWindowLimiter(MemoryStore(), name="x", limit=10, **arguments)  # type: ignore[arg-type]


def test_the_memory_store_builds_the_in_process_algorithms() -> None:
    clock = ManualClock()
    sliding = build_limiter(RateLimitSettings(limit=2), aio=False, clock=clock)
    tiered = build_limiter(RateLimitSettings(limit=2, tiered=True), aio=True, clock=clock)
    assert not needs_await(sliding)
    assert not needs_await(tiered)
    assert [sliding.try_acquire(4).allowed for _ in range(3)] == [True, True, False]  # type: ignore[union-attr]
    assert isinstance(tiered, TieredLimiter)


def test_a_redis_store_builds_a_shared_limiter(patient_redis_url: str, prefix: str) -> None:
    settings = RateLimitSettings(
        limit=3, store=patient_redis_url, key=f"{prefix}-factory", mode="exact"
    )
    limiter = build_limiter(settings, aio=False)
    assert not needs_await(limiter)
    assert [limiter.try_acquire(1).allowed for _ in range(4)] == [True, True, True, False]  # type: ignore[union-attr]
    tiered = build_limiter(
        RateLimitSettings(limit=3, store=patient_redis_url, key=f"{prefix}-t", tiered=True),
        aio=False,
    )
    assert isinstance(tiered, SharedTieredLimiter)
    tiered.close()


def test_aio_exact_mode_must_be_awaited(redis_url: str, prefix: str) -> None:
    settings = RateLimitSettings(limit=3, store=redis_url, key=prefix, mode="exact")
    assert needs_await(build_limiter(settings, aio=True))
    assert not needs_await(
        build_limiter(RateLimitSettings(limit=3, store=redis_url, key=prefix), aio=True)
    )


def test_a_shared_limit_needs_a_name(redis_url: str) -> None:
    with pytest.raises(ConfigError, match=r"rate_limit\.key"):
        build_limiter(RateLimitSettings(limit=3, store=redis_url), aio=False, check=False)


BAD_URLS = [
    ("redis://cache:notaport/0", "Port could not be cast"),
    ("redis://cache:99999/0", "Port out of range"),
    ("redis://cache/zero", "database must be a number, got 'zero'"),
    ("redis://cache/3?cluster=true", "Redis Cluster has only database 0"),
    ("redis://cache?cluster=maybe", "cluster must be true or false, got 'maybe'"),
    ("redis://cache?socket_timeout=abc", "socket_timeout must be seconds > 0, got 'abc'"),
    ("redis://cache?socket_timeout=0", "socket_timeout must be seconds > 0, got '0'"),
    ("redis://cache?max_connections=-1", "max_connections must be a whole number"),
    (
        "rediss://cache?ssl_ca_cert=/ca.pem",
        "unknown query option 'ssl_ca_cert'; did you mean \"ssl_ca_certs\"?",
    ),
    ("redis://cache?bogus=1", "unknown query option 'bogus'"),
    ("redis://cache?ssl_ca_certs=/ca.pem", "ssl_ca_certs needs rediss:// (TLS)"),
    ("rediss://cache?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of none, optional, required"),
    ("redis://cache?protocol=4", "protocol must be one of 2, 3"),
    # redis-py reads a scheme only as written, lowercase at the very start, and refuses the
    # rest when the store is made: the policy must refuse them when it is built.
    ("REDIS://cache/0", "scheme must be written in lowercase, got 'REDIS://'"),
    ("Rediss://cache/0", "scheme must be written in lowercase, got 'Rediss://'"),
    ("  redis://cache/0", "a store URL has no spaces"),
    ("redis://cache /0", "a store URL has no spaces"),
    ("\tredis://cache/0", "a store URL has no spaces"),
]


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
def test_every_part_of_a_store_url_is_checked(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_store_url(url)


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
def test_a_policy_with_a_bad_store_url_fails_to_build(url: str, problem: str) -> None:
    tree = {"methods": {"/shop.Cart/*": {"rate_limit": {"limit": 10, "store": url}}}}
    with pytest.raises(ConfigError, match=re.escape(problem)) as raised:
        Policy.from_dict(tree)
    assert str(raised.value).startswith("methods./shop.Cart/*.rate_limit.store: ")


def test_a_bad_store_url_in_a_policy_never_shows_the_password() -> None:
    tree = {"methods": {"*": {"rate_limit": {"limit": 1, "store": "redis://:s3cret@h?bogus=1"}}}}
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(tree)
    assert "s3cret" not in str(raised.value)


GOOD_OPTIONS = {
    "db": "1",
    "socket_timeout": "0.5",
    "socket_connect_timeout": "0.25",
    "socket_read_size": "65536",
    "max_connections": "20",
    "health_check_interval": "0",
    "socket_keepalive": "true",
    "retry_on_timeout": "no",
    "client_name": "shop",
    "username": "svc",
    "password": "pw",
    "protocol": "3",
}
GOOD_TLS_OPTIONS = {
    "ssl_keyfile": "/k.pem",
    "ssl_certfile": "/c.pem",
    "ssl_ca_certs": "/ca.pem",
    "ssl_ca_path": "/etc/ssl/certs",
    "ssl_ca_data": "x",
    "ssl_password": "pw",
    "ssl_ciphers": "HIGH",
    "ssl_cert_reqs": "required",
    "ssl_check_hostname": "true",
}


def test_every_allowed_option_is_one_redis_py_connections_take() -> None:
    """The allow-list matches redis-py: a connection is built (no I/O) with each option, so an
    option we accept never turns into a TypeError at connect time."""
    pytest.importorskip("redis")
    from resilience.backends import RedisStore
    from resilience.backends._url import QUERY_OPTIONS

    covered = {*GOOD_OPTIONS, *GOOD_TLS_OPTIONS, "cluster"}
    assert covered == QUERY_OPTIONS
    for scheme, options in (("redis", GOOD_OPTIONS), ("rediss", GOOD_TLS_OPTIONS)):
        for name, value in options.items():
            store = RedisStore.from_url(f"{scheme}://127.0.0.1:1/0?{name}={value}")
            try:
                store._client.connection_pool.make_connection().disconnect()
            finally:
                store.close()
