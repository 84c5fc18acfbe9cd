"""``resilience demo`` refuses arguments it cannot run with, naming the flag."""

from __future__ import annotations

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
    ],
)
def test_bad_arguments_are_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err
