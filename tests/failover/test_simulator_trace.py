"""The failover simulator reproduces the retry window's worked trace and halving,
deterministically."""

from __future__ import annotations

import dataclasses

from resilience.tools.simulate import Scenario, load_scenario, run_failover, window_recurrence


def test_worked_trace_grows_1_2_4_8_16_26_36() -> None:
    rows = run_failover(load_scenario("worked-trace")).rows
    assert [row.window for row in rows[:7]] == [1, 2, 4, 8, 16, 26, 36]
    assert [row.window for row in rows[:7]] == window_recurrence(1000, 7)
    # "window used up, every retry succeeds" held in each of those periods
    assert all(row.admitted == row.window == row.succeeded for row in rows[:7])


def test_a_period_at_half_success_halves_the_window() -> None:
    rows = run_failover(load_scenario("worked-trace")).rows
    bad = next(row for row in rows if row.remote_health == 0.5)
    after = rows[rows.index(bad) + 1]
    assert bad.succeeded * 2 == bad.admitted  # s = 0.5 exactly ("even" spread)
    assert after.window == bad.window // 2


def test_remote_outage_halves_each_bad_period_down_to_one() -> None:
    rows = run_failover(load_scenario("remote-outage")).rows
    down = [row for row in rows if row.remote_health == 0.0]
    sizes = [row.window for row in down]
    assert sizes == [max(1, sizes[0] >> k) for k in range(len(sizes))]
    assert all(row.amplification <= 1.1 for row in rows)


def test_same_seed_same_rows_and_another_seed_differs() -> None:
    scenario = load_scenario("steady-local-failures")
    assert run_failover(scenario).rows == run_failover(scenario).rows
    assert run_failover(scenario, seed=99).rows != run_failover(scenario).rows


def test_schedules_switch_at_their_start_times() -> None:
    scenario = Scenario.from_dict(
        {"duration": 4, "traffic": [[0, 10], [2, 30]], "local_failure": [[0, 0.0], [3, 1.0]]}
    )
    rows = run_failover(scenario).rows
    assert [row.traffic for row in rows] == [10, 10, 30, 30]
    assert [row.wanted for row in rows] == [0, 0, 0, 30]
    assert dataclasses.replace(scenario, duration=2.5).periods == 2
