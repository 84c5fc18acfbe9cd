"""The policy's ``faults``, ``chaos`` and ``record`` sections: parsed into values, compared for
hot reload, and refused with the key path and the bad value."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from resilience.chaos import FaultRule
from resilience.errors import ConfigError
from resilience.policy import ChaosSettings, Policy, RecordSettings

TOML = """
[chaos]
enabled = true
allowed_colors = ["loadtest"]
seed = 7

[[faults]]
method = "/shop.Cart/*"
color = "loadtest"
percentage = 10
delay = [0.01, 0.02]
abort = "unavailable"
message = "chaos"

[record]
rate = 0.5
path = "traffic.jsonl"
backups = 1
secret_keys = ["x-api-key"]
"""


def test_a_file_with_every_section_loads_into_values(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(TOML, encoding="utf-8")

    policy = Policy.from_file(path)

    rule = FaultRule(
        method="/shop.Cart/*",
        color="loadtest",
        percentage=10,
        delay=(0.01, 0.02),
        abort=grpc.StatusCode.UNAVAILABLE,
        message="chaos",
    )
    assert policy.chaos == ChaosSettings((rule,), True, frozenset({"loadtest"}), 7)
    assert policy.record == RecordSettings(
        "traffic.jsonl", rate=0.5, backups=1, secret_keys=("x-api-key",)
    )


def test_sections_are_absent_unless_given() -> None:
    policy = Policy.default()
    assert (policy.chaos, policy.record) == (None, None)
    only_switch = Policy.from_dict({"chaos": {"enabled": True}})
    assert only_switch.chaos == ChaosSettings(enabled=True)


def test_policies_differing_only_in_chaos_or_recording_are_not_equal() -> None:
    base = {"methods": {"*": {"tier": 1}}}
    fault = {"abort": "UNAVAILABLE"}
    assert Policy.from_dict(base) != Policy.from_dict({**base, "faults": [fault]})
    assert Policy.from_dict({**base, "record": {"path": "a"}}) != Policy.from_dict(
        {**base, "record": {"path": "b"}}
    )
    assert Policy.from_dict({**base, "faults": [fault]}) == Policy.from_dict(
        {**base, "faults": [fault]}
    )


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"chaos": {"enabled": "yes"}}, "chaos.enabled: must be true or false, got 'yes'"),
        ({"chaos": {"seed": 1.5}}, "chaos.seed: must be an integer, got 1.5"),
        ({"chaos": {"allowed_colors": "loadtest"}}, "chaos.allowed_colors: must be a list"),
        ({"chaos": {"allowed_colors": ["bad color"]}}, "chaos.allowed_colors: colors are 1 to"),
        ({"chaos": {"seeed": 1}}, 'chaos.seeed: unknown key; did you mean "seed"?'),
        ({"chaos": []}, "chaos: must be a table, got []"),
        ({"faults": {"abort": "UNAVAILABLE"}}, "faults: must be a list of rule tables"),
        ({"faults": [{"percentage": 150, "abort": "UNAVAILABLE"}]}, "faults[0].percentage"),
        ({"faults": [{"abort": "NOPE"}]}, "faults[0].abort: must be a gRPC status code name"),
        (
            {"faults": [{"delay": 0.1}, {"color": "loadtest", "delay": 0.1}]},
            "faults[1].color: 'loadtest' is not in chaos.allowed_colors []",
        ),
        ({"record": {"rate": 0.1}}, "record.path: missing"),
        ({"record": {"path": "x", "rate": 2}}, "record.rate: must be >= 0 and <= 1, got 2"),
        (
            {"record": {"path": "x", "max_bytes": 10}},
            "record.max_bytes: must be >= 256 and <= 1073741824, got 10",
        ),
        ({"record": {"path": "", "rate": 0.1}}, "record.path: must be a file path, got ''"),
        ({"record": {"path": "x", "rates": 1}}, 'record.rates: unknown key; did you mean "rate"?'),
    ],
)
def test_bad_sections_are_refused_with_their_key_path(
    tree: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(tree)
    assert message in str(raised.value)


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[record]\nrate = 0.1\npath = "x"\nbackups = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy\.toml: record\.backups: must be >= 0"):
        Policy.from_file(path)
