"""Experiment files: what they describe, and errors naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from resilience.errors import ConfigError
from resilience.tools.experiments._experiment import Experiment

EXPERIMENT = """\
[experiment]
name = "say aborts"
target = "127.0.0.1:50051"
baseline = 1.0
duration = 2.0

[load]
flow = "flow.toml"
rate = 50
concurrency = 4

[[faults]]
method = "/echo.Echo/*"
percentage = 30
abort = "UNAVAILABLE"

[[faults]]
color = "loadtest"
delay = [0.01, 0.02]
"""


def test_an_experiment_file_describes_phases_load_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT)
    experiment = Experiment.load_file(path)
    assert experiment.admin == experiment.target == "127.0.0.1:50051"
    assert experiment.total == 3.0
    assert experiment.load.total_calls == 150
    assert experiment.flow == str(tmp_path / "flow.toml")
    assert experiment.rules[0].abort is grpc.StatusCode.UNAVAILABLE
    assert experiment.rules[1].delay == (0.01, 0.02)
    assert experiment.load.color == "loadtest"


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("percentage = 30", "percentage = 130"), "14: faults[0].percentage: must be in [0, 100]"),
        (('abort = "UNAVAILABLE"', 'abort = "BROKEN"'), "15: faults[0].abort: must be a gRPC"),
        (("delay = [0.01, 0.02]", "delay = [0.02, 0.01]"), "19: faults[1].delay: a range"),
        (("rate = 50", "rate = -5"), "9: load.rate: must be in"),
        (("rate = 50", 'rate = "fast"'), "9: load.rate: must be a number"),
        (("duration = 2.0", "duration = 0"), "5: experiment.duration: must be > 0"),
        (('target = "127.0.0.1:50051"', "target = 5"), "3: experiment.target: must be"),
        (('flow = "flow.toml"', 'flowz = "flow.toml"'), "8: load.flowz: unknown key"),
        (("[[faults]]\ncolor", "[[faults]]\ncolour"), "18: faults[1].colour: unknown field"),
        (("rate = 50", "rate = = 50"), "9: TOML syntax"),
    ],
)
def test_bad_experiments_name_line_and_field(
    tmp_path: Path, replace: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT.replace(*replace))
    with pytest.raises(ConfigError) as raised:
        Experiment.load_file(path)
    assert str(raised.value).startswith(f"{path}:{expected}"), str(raised.value)


def test_a_missing_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT.split("[load]")[0])
    with pytest.raises(ConfigError, match=r"exp.toml: load: the \[load\] table is required"):
        Experiment.load_file(path)
