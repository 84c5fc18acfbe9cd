"""``resilience loadtest``: the report, its JSON/CSV/PNG files, and bad input exit codes."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from loadtest.echo_server import Echo, echo_server
from resilience.tools.cli import loadtest

FLOW = """\
[[call]]
method = "/echo.Echo/Say"
request = "hi"

[[call]]
method = "/echo.Echo/Fail"
request = "RESOURCE_EXHAUSTED"
"""


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    loadtest.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["loadtest", *argv])
    code: int = args.func(args)
    return code


@pytest.mark.parametrize("engine", ["sync", "aio"])
def test_the_command_reports_and_writes_json_csv_and_png(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.toml"
    flow.write_text(FLOW)
    # The outputs go to a folder that does not exist yet: the command creates it.
    out = {name: tmp_path / "out" / "run1" / name for name in ("r.json", "r.csv", "r.png")}
    echo = Echo()
    with echo_server(False, echo) as server:
        code = run(
            [
                "--target",
                server.target,
                "--flow",
                str(flow),
                "--rate",
                "200",
                "--duration",
                "0.4",
                "--ramp",
                "0.2",
                "--engine",
                engine,
                "--seed",
                "3",
                "--no-progress",
                "--json",
                str(out["r.json"]),
                "--csv",
                str(out["r.csv"]),
                "--plot",
                str(out["r.png"]),
            ]
        )
    assert code == 0
    report = json.loads(out["r.json"].read_text())
    failed = echo.counts["/echo.Echo/Fail"]
    assert report["calls"] == sum(echo.counts.values()) == 60
    assert report["codes"] == {"OK": 60 - failed, "RESOURCE_EXHAUSTED": failed}
    assert report["reject_reasons"] == {"shed": failed}
    with out["r.csv"].open() as file:
        assert len(list(csv.DictReader(file))) == 60
    assert out["r.png"].read_bytes().startswith(b"\x89PNG")
    assert "latency ms" in capsys.readouterr().out


def test_a_bad_flow_exits_2_naming_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.toml"
    flow.write_text(FLOW.replace('request = "hi"', "request = 5"))
    assert run(["--target", "127.0.0.1:1", "--flow", str(flow), "--no-progress"]) == 2
    assert f"{flow}:3: call[0].request: must be text" in capsys.readouterr().err


def test_bad_rates_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "flow.toml"
    flow.write_text(FLOW)
    assert run(["--target", "127.0.0.1:1", "--flow", str(flow), "--rate", "-1"]) == 2
    assert "rate: must be in" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_exits_2_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.toml"
    flow.write_text(FLOW)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = ["--target", "127.0.0.1:1", "--flow", str(flow), "--plot", str(blocker / "x.png")]
    assert run(argv) == 2
    assert "cannot create the folder" in capsys.readouterr().err
