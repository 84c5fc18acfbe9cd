"""The runtime path loads none of the tooling: a service that imports the library pays for the
interceptors, channels and policy only, never for the CLI, demo, load generator or simulators."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # runs a subprocess

RUNTIME = (
    "resilience",
    "resilience.interceptors",
    "resilience.failover",
    "resilience.policy",
    "resilience.chaos",
    "resilience.recording",
    "resilience.observability",
    "resilience.backends",
    "resilience.context",
    "resilience.testing",
)


def _loaded_after(imports: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(imports)!r}:\n"
        "    importlib.import_module(name)\n"
        "import resilience\n"
        "for name in resilience.__all__:\n"
        "    getattr(resilience, name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def test_importing_the_runtime_loads_no_tooling() -> None:
    loaded = _loaded_after(RUNTIME)
    tooling = [m for m in loaded if m.startswith("resilience.tools")]
    heavy = [m for m in loaded if m.split(".")[0] in {"matplotlib", "rich"}]
    assert tooling == [], f"the runtime imported tooling modules: {tooling}"
    assert heavy == [], f"the runtime imported demo-only packages: {heavy}"


def test_the_command_line_is_tooling() -> None:
    loaded = _loaded_after(("resilience.tools.cli",))
    assert "resilience.tools.cli" in loaded
