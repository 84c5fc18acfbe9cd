"""``resilience demo`` refuses arguments it cannot run with, naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from resilience.__main__ import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "5"], "--duration must be 10 to 120 seconds"),
        (["--serve", "--duration", "0"], "--duration must be > 0 seconds with --serve"),
        (["--serve", "--port", "70000"], "--port must be 0 to 65535"),
        (["--metrics-port", "70000", "--no-live"], "--metrics-port 70000: port must be"),
        (["--simulated", "--metrics-port", "0"], "need the live demo"),
        (["--simulated", "--serve"], "need the live demo"),
        (["--simulated", "--plot", "x.png"], "--simulated prints its scenarios as text"),
        (["--serve", "--plot", "x.png"], "--serve runs no script"),
    ],
)
def test_bad_arguments_are_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("resilience demo: "), error
    assert message in error


def test_simulated_with_plot_writes_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "x.png"
    assert main(["demo", "--simulated", "--plot", str(plot)]) == 2
    assert not plot.exists()
    assert "--plot" in capsys.readouterr().err


def test_simulated_alone_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--simulated"]) == 0
    assert "SreBreaker" in capsys.readouterr().out
