"""The policy's ``profiling`` section: off when absent, validated when present."""

from __future__ import annotations

import pytest

from resilience.errors import ConfigError
from resilience.policy import Policy, ProfilingSettings


def test_absent_means_off() -> None:
    assert Policy.from_dict({}).profiling is None


def test_a_section_is_read_with_durations_and_defaults() -> None:
    policy = Policy.from_dict(
        {
            "profiling": {
                "directory": "/tmp/p",
                "cpu_enter": 0.9,
                "cpu_exit": 0.7,
                "exit_after": "30s",
            }
        }
    )
    settings = policy.profiling
    assert isinstance(settings, ProfilingSettings)
    assert (settings.rate, settings.exit_after, settings.cpu_exit) == (99.0, 30.0, 0.7)
    assert policy == Policy.from_dict(
        {"profiling": {"directory": "/tmp/p", "cpu_enter": 0.9, "cpu_exit": 0.7, "exit_after": 30}}
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "profiling.directory: missing"),
        ({"directory": "/p", "rate": 1000}, "profiling.rate: must be"),
        ({"directory": "/p", "cpu_enter": 0.9}, "set both cpu_enter and cpu_exit"),
        ({"directory": "/p", "cpu_enter": 0.5, "cpu_exit": 0.9}, "must not exceed cpu_enter"),
        ({"directory": "/p", "latency_enter": 0.5, "latency_exit": 0.1}, "latency_method"),
        ({"directory": "/p", "push_url": "ftp://x"}, "http:// or https://"),
        ({"directory": "/p", "push_url": "http://[::1/ingest"}, "push_url: must be an http://"),
        ({"directory": "/p", "push_url": "http://pyroscope:99999"}, "push_url: must be an http"),
        ({"directory": "/p", "push_url": 4040}, "push_url: must be an http://"),
        ({"directory": "/p", "rat": 5}, 'did you mean "rate"'),
        ({"directory": "/p", "max_files": 0}, "profiling.max_files"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy.from_dict({"profiling": table})
