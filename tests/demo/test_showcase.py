"""``resilience demo``: one short run of the two-center script shows every mechanism act."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from resilience.profiling import read_profile
from resilience.tools.cli._demo_run import run_showcase
from resilience.tools.cli._demo_summary import DemoResult
from resilience.tools.cli._demo_words import split


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str, Path]:
    plot = tmp_path_factory.mktemp("demo") / "timeline.png"
    out = io.StringIO()
    profiles = str(plot.parent / "profiles")
    result = run_showcase(out, duration=12.0, seed=7, plot=str(plot), live=False, profiles=profiles)
    return result, out.getvalue(), plot


def test_reads_failed_over_to_the_remote_center(run: tuple[DemoResult, str, Path]) -> None:
    result, text, _ = run
    assert result.failovers() > 0
    assert sum(result.served_remotely.values()) > 0  # the remote backend served them
    assert result.served_remotely["writes"] == 0  # writes never fail over
    assert "via remote" in text


def test_the_breaker_opened_when_errors_reached_40_percent(
    run: tuple[DemoResult, str, Path],
) -> None:
    result, text, _ = run
    assert result.peak_drop("errors 40%") > 0.2
    assert result.peak_drop("errors 40%") > result.peak_drop("errors 5%")
    assert "half-open, drops" in text  # the breaker's own words: it has no open state
    assert "OPEN" not in text


def test_the_overload_shed_tier_4_and_kept_tier_1(run: tuple[DemoResult, str, Path]) -> None:
    result, _, _ = run
    overload = result.totals("overload 3x")
    t1_calls, t1_ok, _, _, _ = split(overload, "tier 1")
    t4_calls, t4_ok, t4_shed, _, _ = split(overload, "tier 4")
    assert t4_shed > t4_calls / 2
    assert t1_ok / t1_calls > t4_ok / t4_calls + 0.4  # tier 1 first, whatever else happens


def test_loadtest_traffic_is_a_row_of_its_own(run: tuple[DemoResult, str, Path]) -> None:
    result, text, _ = run
    calls, *_ = split(result.totals(), "loadtest")
    tier_calls = sum(split(result.totals(), f"tier {t}")[0] for t in (1, 2, 3, 4))
    assert 0.03 * tier_calls < calls < 0.25 * tier_calls  # about a tenth of the reads
    assert any(line.split()[:1] == ["loadtest"] for line in text.splitlines())


def test_the_output_explains_itself_and_the_timeline_is_drawn(
    run: tuple[DemoResult, str, Path],
) -> None:
    _, text, plot = run
    assert text.startswith("resilience demo: two data centers")
    assert text.count("== phase ") == 6
    assert "What the columns mean:" in text
    assert ("kept in Redis" in text) or ("kept in memory" in text)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"timeline: {plot}" in text
    [profile] = (plot.parent / "profiles").iterdir()
    assert f"profile of the overload phase: {profile}" in text
    assert read_profile(profile.read_bytes()).samples  # the overload phase, sampled


def test_one_line_per_whole_second(run: tuple[DemoResult, str, Path]) -> None:
    """Every sample covers one whole second (none printed twice, no short last one)."""
    result, text, _ = run
    assert [s.at for s in result.samples] == [float(n) for n in range(1, 13)]
    seconds = [line.split()[0] for line in text.splitlines() if " ok/calls " in line]
    assert seconds == [f"{n}s" for n in range(1, 13)]


def test_each_phase_ends_with_what_was_measured(run: tuple[DemoResult, str, Path]) -> None:
    result, text, _ = run
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("measured:")]
    assert len(lines) == 6
    overload = lines[4]
    t1_calls, t1_ok, *_ = split(result.totals("overload 3x"), "tier 1")
    assert f"ok t1 {t1_ok / t1_calls:.0%}," in overload  # the figure, not a promise
    assert "keeps its calls" not in text
