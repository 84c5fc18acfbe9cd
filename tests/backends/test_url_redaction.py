"""Store URLs in logs and error messages never show a password, wherever the URL carries it."""

from __future__ import annotations

import pytest

from resilience.backends._url import redact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:s3cret@cache:6379/0", "redis://user:***@cache:6379/0"),
        ("redis://cache:6379/0?password=s3cret", "redis://cache:6379/0?password=***"),
        (
            "rediss://cache/0?socket_timeout=0.1&Password=s3cret&ssl_keyfile_password=s3cret",
            "rediss://cache/0?socket_timeout=0.1&Password=***&ssl_keyfile_password=***",
        ),
        ("redis://cache:6379/0?pass%77ord=s3cret", "redis://cache:6379/0?pass%77ord=***"),
        ("redis://cache:6379/0?socket_timeout=0.1", "redis://cache:6379/0?socket_timeout=0.1"),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
    ],
)
def test_passwords_are_redacted(url: str, shown: str) -> None:
    assert redact(url) == shown
