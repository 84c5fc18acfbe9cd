"""Shared pieces of the pipeline tests: a recording observer and a clock-driven setup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from resilience.events import CallInfo, CallOutcome
from resilience.pipeline import Pipeline, Stage
from resilience.pipeline._core import Wrapper
from resilience.pipeline.testing import PermitTracker, VirtualTime
from resilience.testing import ManualClock


@dataclass
class Recorder:
    """An observer that keeps what it heard."""

    started: list[CallInfo] = field(default_factory=list)
    ended: list[tuple[CallInfo, CallOutcome]] = field(default_factory=list)
    events: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def call_started(self, call: CallInfo) -> None:
        self.started.append(call)

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        self.ended.append((call, outcome))

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        self.events.append((name, dict(attributes)))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


@dataclass
class Rig:
    """A pipeline on a manual clock with tracked permits and a recording observer."""

    clock: ManualClock
    time: VirtualTime
    tracker: PermitTracker
    recorder: Recorder

    def pipeline(self, stages: Sequence[Stage | Wrapper], **options: Any) -> Pipeline:
        options.setdefault("name", "dep")
        return Pipeline(
            self.tracker.wrap_all(stages),
            observers=[self.recorder],
            clock=self.clock,
            sleep=self.time.sleep,
            asleep=self.time.asleep,
            **options,
        )


def rig() -> Rig:
    clock = ManualClock(100.0)
    return Rig(clock, VirtualTime(clock), PermitTracker(), Recorder())


class Boom(Exception):
    """The callee's failure in these tests."""
