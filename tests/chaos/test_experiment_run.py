"""Running experiments against real servers: faults only in their phase, then restored."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import grpc
import pytest

from loadtest.echo_server import AioEcho, Echo, RunningServer, SyncEcho
from resilience.chaos import FaultInjector, FaultRule
from resilience.chaos._admin import aio_admin_handler
from resilience.chaos._injector import InjectorRegistry
from resilience.tools.cli import chaos
from resilience.tools.experiments._experiment import Experiment
from resilience.tools.experiments._run import InProcessSwitch, run_experiment
from resilience.tools.loadtest.flow import Flow, WeightedPicker

from .pipeline import hook

SAY = Flow.from_dict({"call": [{"method": "/echo.Echo/Say", "request": "hi"}]})
TOKEN = "experiment-token-1"
# At most this many calls are in flight, so at most this many cross each switch: a baseline
# call can meet a fault only if in flight when the faults came on, and a faults-phase call can
# miss them only if in flight when they came on or went off. Recovery calls start after the old
# rules are back: none meets a fault.
CONCURRENCY = 4


def experiment(target: str, **overrides: object) -> Experiment:
    data = {
        "experiment": {"target": target, "baseline": 0.3, "duration": 0.4, "recovery": 0.3},
        "load": {"flow": "unused.toml", "rate": 200, "concurrency": CONCURRENCY},
        "faults": [{"method": "/echo.Echo/*", "color": "loadtest", "abort": "UNAVAILABLE"}],
    }
    data["experiment"].update(overrides)  # type: ignore[attr-defined]
    return Experiment.from_dict(data)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_faults_hit_only_their_phase_and_the_old_rules_come_back(aio: bool) -> None:
    keep = FaultRule(method="/other.Svc/*", delay=0.5)
    injector = FaultInjector([keep], allowed_colors=["loadtest"])
    handler: grpc.GenericRpcHandler = (AioEcho if aio else SyncEcho)(Echo(), hook(aio, injector))
    with RunningServer(aio, [handler]) as server:
        report = run_experiment(
            experiment(server.target), InProcessSwitch(injector), source=WeightedPicker(SAY)
        )
    base, hit, after = (report.phases[name] for name in ("baseline", "faults", "recovery"))
    assert base.calls + hit.calls + after.calls == 200
    assert base.errors <= CONCURRENCY
    assert after.errors == 0
    assert hit.calls >= 70
    assert hit.reject_reasons.get("fault", 0) >= hit.calls - 2 * CONCURRENCY
    assert set(hit.codes) <= {"OK", "UNAVAILABLE"}
    assert injector.rules == (keep,)
    assert not injector.enabled
    assert report.latency_shift() is not None
    assert "latency shift under faults" in report.to_text()


def test_the_command_drives_a_running_service_through_its_admin_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = InjectorRegistry()
    injector = registry.register("default", FaultInjector(allowed_colors=["loadtest"]))
    (tmp_path / "flow.toml").write_text('[[call]]\nmethod = "/echo.Echo/Say"\nrequest = "hi"\n')
    monkeypatch.setenv("RESILIENCE_ADMIN_TOKEN", TOKEN)
    handlers = [
        aio_admin_handler(token=TOKEN, registry=registry),
        AioEcho(Echo(), hook(True, injector)),
    ]
    with RunningServer(True, handlers) as server:
        (tmp_path / "exp.toml").write_text(
            f'[experiment]\ntarget = "{server.target}"\nbaseline = 0.2\nduration = 0.3\n\n'
            f'[load]\nflow = "flow.toml"\nrate = 100\nconcurrency = {CONCURRENCY}\n\n'
            '[[faults]]\ncolor = "loadtest"\npercentage = 50\nabort = "INTERNAL"\n'
        )
        parser = argparse.ArgumentParser()
        chaos.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(
            [
                "chaos",
                "run",
                str(tmp_path / "exp.toml"),
                "--no-progress",
                "--json",
                str(tmp_path / "out.json"),
            ]
        )
        assert args.func(args) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["phases"]["baseline"]["errors"] <= CONCURRENCY
    assert out["phases"]["faults"]["reject_reasons"]["fault"] >= 5
    assert not injector.enabled
    assert "faults" in capsys.readouterr().out


def test_the_command_refuses_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RESILIENCE_ADMIN_TOKEN", raising=False)
    (tmp_path / "flow.toml").write_text('[[call]]\nmethod = "/echo.Echo/Say"\nrequest = "hi"\n')
    (tmp_path / "exp.toml").write_text(
        '[experiment]\ntarget = "127.0.0.1:1"\nduration = 1\n[load]\nflow = "flow.toml"\n'
    )
    parser = argparse.ArgumentParser()
    chaos.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chaos", "run", str(tmp_path / "exp.toml")])
    assert args.func(args) == 2
    assert "RESILIENCE_ADMIN_TOKEN" in capsys.readouterr().err
