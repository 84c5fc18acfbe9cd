"""What load-aware profiling costs: per server call while armed but not sampling, and the
sampler's own CPU while it samples at 100 Hz.

1. Armed, not triggered: a server call registers itself for the sampler's labels (a dict store
   when it starts, a dict delete when it ends). Timed three ways, rounds interleaved, medians
   in nanoseconds per call: the two hooks alone (sync: keyed by thread; aio: keyed by the
   current task, inside a running event loop), and ``ServerPipeline.start`` + ``ServerCall.end``
   with the profiler armed minus the same disarmed (the whole per-call difference). The aio
   hooks are timed both ways of finding the current task (``aio_task_first``: ask
   ``asyncio.current_task()``, C on 3.12+ and Python before; ``aio_loop_first``: the thread's
   remembered loop, then the task in the dict ``current_task`` reads); ``hooks_aio`` is the one
   this Python uses.
2. Sampling: a Profiler sampling at 100 Hz for ``--seconds`` while ``--threads`` threads sit
   40 frames deep (each one a stack to walk, label and aggregate per sample) and the rest of the
   process is idle; the sampler's thread CPU time (``time.thread_time``, sampling and writing
   included) over the wall time, as a share of one core, and the samples actually taken.

Usage: ``python benchmarks/profiling.py [--rounds N] [--number N] [--seconds S]
[--threads N]``; writes benchmarks/results/profiling.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import timeit
from pathlib import Path
from typing import Any

from resilience.context import CallContext
from resilience.interceptors._server_pipeline import ServerPipeline
from resilience.policy import ProfilingSettings
from resilience.profiling import Profiler, _calls

RESULTS = Path(__file__).resolve().parent / "results" / "profiling.json"


class Call:
    __slots__ = ("call_context", "otel_context")

    def __init__(self) -> None:
        self.call_context = CallContext("loadtest", 3, None, False, "/shop.Catalog/Browse")
        self.otel_context = None


class Context:
    """The servicer-context methods ServerPipeline.start reads."""

    def time_remaining(self) -> None:
        return None

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"


def hooks_sync(number: int) -> float:
    call = Call()
    begin, end = _calls.begin, _calls.end

    def once() -> None:
        key = begin(call, False)
        end(key, call, 0.001)

    return timeit.timeit(once, number=number) / number * 1e9


def hooks_aio(number: int, begin: Any = None) -> float:
    call = Call()
    begin, end = begin or _calls.begin, _calls.end

    def once() -> None:
        key = begin(call, True)
        end(key, call, 0.001)

    async def run() -> float:
        return timeit.timeit(once, number=number) / number * 1e9

    return asyncio.run(run())


def pipeline(number: int) -> float:
    import grpc

    server = ServerPipeline(None, (), time.monotonic)
    context = Context()
    ok = grpc.StatusCode.OK

    def once() -> None:
        server.start("/shop.Catalog/Browse", context).end(ok)

    return timeit.timeit(once, number=number) / number * 1e9


def per_call(rounds: int, number: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {
        "hooks_sync": [],
        "hooks_aio": [],
        "aio_task_first": [],
        "aio_loop_first": [],
        "armed": [],
        "off": [],
    }
    for _ in range(rounds):
        _calls.arm()
        samples["hooks_sync"].append(hooks_sync(number))
        samples["hooks_aio"].append(hooks_aio(number))
        samples["aio_task_first"].append(hooks_aio(number, _calls._begin_task_first))
        samples["aio_loop_first"].append(hooks_aio(number, _calls._begin_loop_first))
        samples["armed"].append(pipeline(number))
        _calls.disarm()
        samples["off"].append(pipeline(number))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    deltas = [a - o for a, o in zip(samples["armed"], samples["off"], strict=True)]
    medians["pipeline_delta"] = statistics.median(deltas)
    return medians


def parked(depth: int, lock: threading.Lock) -> None:
    if depth:
        parked(depth - 1, lock)
    else:
        lock.acquire()  # the innermost Python frame: a busy-looking thread to sample
        lock.release()  # let the next one go


def sampling(seconds: float, threads: int) -> dict[str, float]:
    lock = threading.Lock()
    lock.acquire()
    workers = [
        threading.Thread(target=parked, args=(40, lock), daemon=True) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    with tempfile.TemporaryDirectory() as folder:
        settings = ProfilingSettings(directory=folder, rate=100, profile_seconds=3600)
        profiler = Profiler(settings).start()
        profiler.profile_for(seconds + 5)
        started = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - started
        sampled = profiler._sampler.samples
        profiler.close()
        cost = profiler.cost_seconds
    lock.release()
    for worker in workers:
        worker.join()
    return {
        "wall_s": wall,
        "sampler_cpu_s": cost,
        "share_of_one_core": cost / wall,
        "thread_samples": sampled,
        "samples_per_s": sampled / threads / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    calls = per_call(args.rounds, args.number)
    sampler = sampling(args.seconds, args.threads)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "per_call_ns": calls,
        "sampling_100hz": sampler,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average {load_before:.2f} -> {result['load_after']:.2f}")
    print("armed, not sampling, per call (median ns):")
    for name, value in calls.items():
        print(f"  {name:16} {value:8.0f}")
    print(
        f"sampling at 100 Hz, {args.threads} threads 40 frames deep: "
        f"{sampler['share_of_one_core']:.2%} of one core "
        f"({sampler['sampler_cpu_s']:.3f} s CPU in {sampler['wall_s']:.1f} s; "
        f"{sampler['samples_per_s']:.0f} samples/s per thread)"
    )


if __name__ == "__main__":
    main()
