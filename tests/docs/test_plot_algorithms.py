"""docs/scripts/plot_algorithms.py draws every algorithm's plots, deterministically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "scripts" / "plot_algorithms.py"
EXPECTED = {
    "sliding-window-burst.png",
    "tiered-admitted.png",
    "breaker-drop.png",
    "ema-timeout.png",
    "retry-window.png",
    "overload-shedding.png",
    "overload-smoothing.png",
}


def test_script_writes_every_plot_the_pages_show(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    written = {path.name for path in tmp_path.glob("*.png")}
    assert written == EXPECTED
    assert all((tmp_path / name).stat().st_size > 10_000 for name in EXPECTED)


def test_every_plot_is_committed_and_shown_on_a_page() -> None:
    pages = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "docs").rglob("*.md"))
    for name in EXPECTED:
        assert (ROOT / "docs" / "img" / name).is_file(), name
        assert f"img/{name}" in pages, f"{name} is not shown on any page"
