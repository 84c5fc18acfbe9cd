"""What a policy installs besides the per-method algorithms: its fault injector (``faults`` and
``chaos``) and, on servers, its traffic recorder (``record``) and the process's profiler
(``profiling``).

Built when a policy is installed, never per call. Across a reload, an unchanged section keeps
its object (the injector keeps its runtime switch and rng; the recorder its file). Recorders
are shared by every interceptor of the process with the same ``record`` settings, so two
servers never write one file through two handles.
"""

from __future__ import annotations

import random
import threading
import weakref
from typing import TYPE_CHECKING

from resilience.policy import Policy
from resilience.policy._chaos import ChaosSettings, RecordSettings

if TYPE_CHECKING:
    from resilience.chaos import FaultInjector
    from resilience.events import ServerHook
    from resilience.profiling import Profiler
    from resilience.recording import TrafficRecorder

_recorders: weakref.WeakValueDictionary[RecordSettings, TrafficRecorder] = (
    weakref.WeakValueDictionary()
)
_recorders_lock = threading.Lock()


class Plugins:
    """The fault injector and the traffic recorder of one policy (each None when the policy
    has no such section; the recorder only on servers)."""

    __slots__ = ("chaos", "injector", "profiler", "record", "recorder")

    def __init__(self, policy: Policy, previous: Plugins | None = None, *, server: bool) -> None:
        self.chaos = policy.chaos
        self.record = policy.record if server else None
        self.injector: FaultInjector | None
        self.recorder: TrafficRecorder | None
        if previous is not None and previous.chaos == self.chaos:
            self.injector = previous.injector
        else:
            self.injector = None if self.chaos is None else build_injector(self.chaos)
        if previous is not None and previous.record == self.record:
            self.recorder = previous.recorder
        else:
            self.recorder = None if self.record is None else shared_recorder(self.record)
        profiling = policy.profiling if server else None
        self.profiler: Profiler | None = None
        if profiling is not None and profiling.enabled:
            from resilience.profiling import shared_profiler

            self.profiler = shared_profiler(profiling)

    def same_objects(self, other: Plugins) -> bool:
        """Whether ``other`` holds the same injector and recorder (its hooks would be equal)."""
        return self.injector is other.injector and self.recorder is other.recorder

    def server_hooks(self, *, aio: bool) -> tuple[ServerHook, ...]:
        """The hooks a server runs before its user's: recording (so a call that a fault ends
        is still recorded), then fault injection."""
        hooks: list[ServerHook] = []
        if self.recorder is not None:
            from resilience.recording.hook import recording_hook

            hooks.append(recording_hook(self.recorder))
        if self.injector is not None:
            from resilience.chaos import aio_fault_hook, fault_hook

            hooks.append(aio_fault_hook(self.injector) if aio else fault_hook(self.injector))
        return tuple(hooks)


def build_injector(chaos: ChaosSettings) -> FaultInjector:
    """The :class:`~resilience.chaos.FaultInjector` for a policy's chaos sections."""
    from resilience.chaos import FaultInjector

    return FaultInjector(
        chaos.faults,
        rng=random.Random(chaos.seed),
        enabled=chaos.enabled,
        allowed_colors=chaos.allowed_colors,
    )


def shared_recorder(record: RecordSettings) -> TrafficRecorder:
    """The process's recorder for ``record`` (created on first use, kept while in use)."""
    from resilience.recording import TrafficRecorder

    with _recorders_lock:
        recorder = _recorders.get(record)
        if recorder is None:
            recorder = _recorders[record] = TrafficRecorder(
                record.path,
                sample_rate=record.rate,
                max_bytes=record.max_bytes,
                backups=record.backups,
                secret_keys=record.secret_keys,
            )
        return recorder
