"""``resilience profile top`` and ``resilience profile flame`` on a profile file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from resilience.__main__ import main

from .test_pprof import cpu_profile


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "cpu.pb.gz"
    path.write_bytes(cpu_profile())
    return path


def test_top_ranks_functions_by_flat_time(
    profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "top", str(profile_file)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "2 samples, cpu total 400.0ms"
    assert lines[2].split()[:2] == ["300.0ms", "75.0%"]
    assert lines[2].endswith("crunch_numbers")
    assert "Service.Handle" in lines[3]


def test_top_with_a_tag_keeps_only_labeled_samples(
    profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "top", str(profile_file), "--tag", "color=loadtest"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "1 samples, cpu total 300.0ms"
    assert main(["profile", "top", str(profile_file), "--tag", "color=nope"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "0 samples, cpu total 0.0ms"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tag", "color"], "--tag must be KEY=VALUE"),
        (["--sample-index", "wall"], "'wall' is not in this profile"),
    ],
)
def test_bad_options_say_what_to_change(
    profile_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["profile", "top", str(profile_file), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_file_that_is_not_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.pb.gz"
    path.write_bytes(b"hello")
    assert main(["profile", "top", str(path)]) == 2
    assert "not a pprof profile" in capsys.readouterr().err


def test_flame_svg_draws_each_frame_with_its_share(profile_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "flame.svg"
    assert main(["profile", "flame", str(profile_file), "--svg", str(out)]) == 0
    root = ET.parse(out).getroot()
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("crunch_numbers (300,000,000 nanoseconds, 75.0%)") for t in titles)
    assert any(t.startswith("Service.Handle (400,000,000 nanoseconds, 100.0%)") for t in titles)


def test_flame_png(profile_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "flame.png"
    assert main(["profile", "flame", str(profile_file), "--png", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
