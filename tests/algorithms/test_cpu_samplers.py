"""The default CPU samplers read real counters and return utilization in 0..1."""

from __future__ import annotations

from pathlib import Path

import pytest

from resilience.algorithms._cpu import ProcessCpuSampler, ProcStatSampler, default_cpu_sampler


def test_proc_stat_sampler_reports_the_busy_share_since_the_last_call(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n")
    sampler = ProcStatSampler(str(stat))
    assert sampler() == pytest.approx(0.2)  # since boot: 200 busy of 1000
    stat.write_text("cpu  400 0 100 900 100 0 0 0 0 0\n")
    assert sampler() == pytest.approx(300 / 500)


def test_process_sampler_stays_within_zero_and_one() -> None:
    sampler = ProcessCpuSampler()
    sum(range(10_000))
    assert 0.0 <= sampler() <= 1.0


def test_the_default_sampler_works_on_this_machine() -> None:
    assert 0.0 <= default_cpu_sampler()() <= 1.0
