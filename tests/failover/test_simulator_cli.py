"""``resilience simulate failover``: the table, the plot, the standard list and bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from resilience.errors import ConfigError, MissingExtraError
from resilience.tools.cli import simulate
from resilience.tools.simulate import Scenario, load_scenario, plot_failover, run_failover


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    simulate.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulate", "failover", *argv])
    code: int = args.func(args)
    return code


def test_prints_one_row_per_period(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--scenario", "worked-trace") == 0
    table, legend = capsys.readouterr().out.split("\n\n")
    lines = table.splitlines()
    assert lines[1].split()[:5] == ["t", "f", "traffic", "wanted", "admitted"]
    assert [line.split()[1] for line in lines[2:9]] == ["1", "2", "4", "8", "16", "26", "36"]
    assert len(lines) == 2 + load_scenario("worked-trace").periods
    for column in lines[1].split():  # every column of the table is explained below it
        assert f"{column} = " in legend or f"/ {column} = " in legend or f" {column} /" in legend


def test_an_unknown_scenario_lists_the_standard_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--scenario", "nope") == 2
    err = capsys.readouterr().err
    assert "'nope' is neither a file nor a standard scenario" in err
    assert "worked-trace" in err
    assert "remote-outage" in err


def test_writes_a_png_plot(tmp_path: Path) -> None:
    out = tmp_path / "trace.png"
    assert _run("--scenario", "worked-trace", "--plot", str(out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = run_failover(load_scenario("worked-trace"))
    with pytest.raises(MissingExtraError, match=r"grpc-resilience\[demo\]"):
        plot_failover(result, tmp_path / "x.png")


def test_lists_the_standard_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--list") == 0
    names = {line.split("\t")[0] for line in capsys.readouterr().out.splitlines()}
    assert {"worked-trace", "remote-outage", "local-outage", "steady-local-failures"} <= names


def test_a_bad_scenario_file_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("duration = 5\ntraffic = 10\nlocal_failure = 1.5\n")
    assert _run("--scenario", str(bad)) == 2
    assert "local_failure[0]: value must be in [0, 1], got 1.5" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"traffic": 1, "local_failure": 0}, "duration: required"),
        ({"duration": 1, "period": 0, "traffic": 1, "local_failure": 0}, "period: must be"),
        ({"duration": 3, "traffic": 1, "local_failure": [[1, 0.1]]}, "starts must begin at 0"),
        ({"duration": 3, "traffic": 1.5, "local_failure": 0}, "whole number"),
        ({"duration": 3, "traffic": 1, "local_failure": 0, "spread": "x"}, "spread: must be"),
        ({"duration": 3, "traffic": 1, "local_failure": 0, "window": {"k": 1}}, "window.k"),
        ({"duration": 3, "traffic": 1, "local_failure": 0, "colour": 1}, "colour: unknown"),
    ],
)
def test_validation_names_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Scenario.from_dict(data)
