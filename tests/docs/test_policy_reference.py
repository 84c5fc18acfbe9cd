"""The committed policy reference page matches what the code's settings classes say."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from resilience import policy

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "scripts" / "gen_policy_reference.py"


def test_committed_policy_reference_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_settings_key_appears_on_the_page() -> None:
    page = (ROOT / "docs" / "policy-reference.md").read_text(encoding="utf-8")
    for cls in (
        policy.BreakerSettings,
        policy.TimeoutSettings,
        policy.RateLimitSettings,
        policy.OverloadSettings,
        policy.RecordSettings,
    ):
        for field in dataclasses.fields(cls):
            assert f"| `{field.name}` |" in page, f"{cls.__name__}.{field.name} missing"


def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "policy-reference.md"
    stale.write_text("# Policy reference\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "out of date" in result.stdout


def test_an_optional_key_shows_the_range_it_accepts_when_set() -> None:
    page = (ROOT / "docs" / "policy-reference.md").read_text(encoding="utf-8")
    rows = {line.split(" | ")[0]: line for line in page.splitlines() if line.startswith("| `")}
    assert rows["| `cpu_enter`"].endswith("| not set | number > 0 and <= 1 |")
    assert rows["| `inflight_exit`"].endswith("| not set | integer >= 0 and <= 1000000 |")
    assert rows["| `latency_enter`"].endswith("| not set | duration > 0 and <= 3600 |")
