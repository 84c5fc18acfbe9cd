"""The live showcase from start to end: the store, both centers, the callers, the script, the
view, the summary and the timeline."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from resilience.tools.cli._demo_logs import collected
from resilience.tools.cli._demo_redis import LimitStore
from resilience.tools.cli._demo_script import STEADY_PER_TIER, WRITES, Phase, Sample, play
from resilience.tools.cli._demo_services import BROWSE
from resilience.tools.cli._demo_summary import DemoResult, summary
from resilience.tools.cli._demo_topology import Centers
from resilience.tools.cli._demo_traffic import REMOTE_ROW, Callers, Stream, local_streams
from resilience.tools.cli._demo_view import header, make_view
from resilience.tools.cli._demo_words import measured, opening

if TYPE_CHECKING:
    from resilience.profiling import Profiler

REMOTE_RATE = 8.0
"""Calls per second of the remote center's own callers."""


def run_showcase(
    out: TextIO,
    *,
    duration: float,
    seed: int,
    plot: str | None,
    live: bool,
    observed: bool = False,
    use_redis: bool = True,
    profiles: str | None = None,
) -> DemoResult:
    """Run the two-center demo for ``duration`` seconds of script, print it to ``out`` (live
    view, then the summary), draw the timeline to ``plot`` (a PNG path, or None) and return
    what was measured. ``observed``: give the interceptors the default observers (metrics).
    The library's log warnings go to the view and the summary, not to the terminal.
    ``profiles``: a directory for a CPU profile of the overload phase (None: no profile)."""
    observers = None if observed else ()
    started = time.monotonic()
    with (
        collected() as notes,
        LimitStore(use_redis=use_redis) as store,
        Centers(store=store.url, seed=seed, observers=observers) as centers,
    ):
        local = Callers(
            centers.local.port,
            local_streams(STEADY_PER_TIER, WRITES),
            seed=seed,
            observers=observers,
        ).start()
        remote = Callers(
            centers.remote.port,
            [Stream(REMOTE_ROW, BROWSE, 2, REMOTE_RATE)],
            seed=seed + 1,
            observers=observers,
            row=REMOTE_ROW,
        ).start()
        title = header(store.description, centers.local.port, centers.remote.port)
        view = make_view(out, title, store.kind, live=live)
        number = 0
        profiler = None if profiles is None else overload_profiler(profiles)

        def on_phase(phase: Phase, last: Sample | None) -> None:
            nonlocal number
            number += 1
            view.phase(phase, number, opening(phase, last))
            if profiler is not None and phase.name.startswith("overload"):
                profiler.profile_for(duration)  # until the phase ends

        def on_phase_end(phase: Phase, samples: list[Sample], before: Sample | None) -> None:
            view.note(measured(samples, before))
            if profiler is not None and phase.name.startswith("overload"):
                profiler.close()  # writes the overload phase's profile

        try:
            samples = play(
                centers,
                local,
                remote,
                duration=duration,
                on_phase=on_phase,
                on_sample=lambda sample: view.sample(sample, notes),
                on_phase_end=on_phase_end,
            )
        finally:
            view.close()
            local.stop()
            remote.stop()
            if profiler is not None:
                profiler.close()
        served = Counter(
            {row: n for (row, failover), n in centers.remote_backend.served.items() if failover}
        )
        result = DemoResult(
            samples,
            served,
            store.kind,
            time.monotonic() - started,
            list(notes.messages),
            notes.store_failures,
        )
    out.write("\n" + summary(result) + "\n")
    if profiler is not None and profiler.last_path is not None:
        path = profiler.last_path
        out.write(
            f"\nprofile of the overload phase: {path}\n"
            f"  resilience profile top {path} --tag color=loadtest\n"
            f"  resilience profile flame {path} --svg overload.svg\n"
        )
    if plot:
        from resilience.tools.cli._demo_plot import plot_timeline

        title = f"resilience demo: two centers, seed {seed}, gateway limit in {store.kind}"
        try:
            out.write(f"\ntimeline: {plot_timeline(samples, plot, title=title)}\n")
        except ImportError:
            out.write("\nno timeline: it needs matplotlib (pip install 'grpc-resilience[demo]')\n")
    out.flush()
    return result


def overload_profiler(directory: str) -> Profiler:
    """A profiler, armed so that samples carry each call's labels, to be asked for a profile
    when the overload phase begins."""
    from resilience.policy import ProfilingSettings
    from resilience.profiling import Profiler

    settings = ProfilingSettings(directory=directory, rate=99, profile_seconds=3600, max_files=10)
    return Profiler(settings).start()
