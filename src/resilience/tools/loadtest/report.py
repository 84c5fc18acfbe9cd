"""What a load run measured: per-call results and the summary report (text, JSON, CSV).

Latency is measured by the client from sending the call to its final status, in seconds;
percentiles are nearest-rank over all completed calls. Throughput is completed calls divided
by the run's wall time. Reject reasons come from the ``x-resilience-reject`` trailing
metadata the library's server interceptor sets when it refuses a call.
"""

from __future__ import annotations

import csv
import json
import math
import os
import threading
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

NO_REJECT = ""


class Results:
    """Thread-safe per-call results of one run (offsets and latencies in seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.offsets = array("d")
        """Seconds from the start of the run to the call's start."""
        self.latencies = array("d")
        self.codes: list[str] = []
        self.rejects: list[str] = []
        self.max_lag = 0.0
        """Longest delay between a call's due time and its start (workers were all busy)."""
        self.elapsed = 0.0
        """Wall time of the run, set by the engine when it ends."""
        self.started: float | None = None
        """:func:`time.monotonic` at the start of the run (offsets count from it)."""

    def add(self, offset: float, latency: float, code: str, reject: str | None, lag: float) -> None:
        """Record one completed call; ``code`` is a status code name (``"OK"``)."""
        with self._lock:
            self.offsets.append(offset)
            self.latencies.append(latency)
            self.codes.append(code)
            self.rejects.append(reject or NO_REJECT)
            if lag > self.max_lag:
                self.max_lag = lag

    def __len__(self) -> int:
        return len(self.latencies)

    def counts(self) -> tuple[int, int]:
        """(calls completed, calls that did not end OK), for progress lines."""
        with self._lock:
            total = len(self.codes)
            return total, total - self.codes.count("OK")

    def report(self) -> Report:
        """Summarize the calls recorded so far."""
        with self._lock:
            latencies = sorted(self.latencies)
            codes = Counter(self.codes)
            rejects = Counter(r for r in self.rejects if r)
            max_lag = self.max_lag
        calls = len(latencies)
        elapsed = self.elapsed or (max(self.offsets) if calls else 0.0)
        return Report(
            calls=calls,
            elapsed=elapsed,
            throughput=calls / elapsed if elapsed > 0 else 0.0,
            p50=percentile(latencies, 50),
            p90=percentile(latencies, 90),
            p99=percentile(latencies, 99),
            max=latencies[-1] if latencies else 0.0,
            codes=dict(sorted(codes.items())),
            reject_reasons=dict(sorted(rejects.items())),
            max_lag=max_lag,
        )

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """One row per call: offset_s, latency_s, code, reject."""
        with self._lock, open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["offset_s", "latency_s", "code", "reject"])
            for row in zip(self.offsets, self.latencies, self.codes, self.rejects, strict=True):
                writer.writerow((f"{row[0]:.6f}", f"{row[1]:.6f}", row[2], row[3]))


def percentile(sorted_values: Any, q: float) -> float:
    """Nearest-rank ``q``-th percentile (0 < q <= 100) of an ascending sequence; 0.0 if empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    value: float = sorted_values[rank - 1]
    return value


@dataclass(frozen=True, slots=True)
class Report:
    """The summary of a run. Latencies in seconds; ``throughput`` in completed calls/s."""

    calls: int
    elapsed: float
    throughput: float
    p50: float
    p90: float
    p99: float
    max: float
    codes: Mapping[str, int]
    reject_reasons: Mapping[str, int]
    max_lag: float

    @property
    def errors(self) -> int:
        """Calls that did not end with OK."""
        return self.calls - self.codes.get("OK", 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output)."""
        data = asdict(self)
        data["codes"] = dict(self.codes)
        data["reject_reasons"] = dict(self.reject_reasons)
        data["errors"] = self.errors
        return data

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.to_dict(), file, indent=2)
            file.write("\n")

    def to_text(self) -> str:
        """A human-readable summary, a few lines."""
        ms = 1000.0
        lines = [
            f"calls       {self.calls} in {self.elapsed:.2f} s  ({self.throughput:.1f}/s)",
            f"latency ms  p50 {self.p50 * ms:.2f}  p90 {self.p90 * ms:.2f}  "
            f"p99 {self.p99 * ms:.2f}  max {self.max * ms:.2f}",
            "status      " + _pairs(self.codes),
            "rejects     " + (_pairs(self.reject_reasons) or "none"),
        ]
        if self.max_lag > 0.05:
            lines.append(
                f"warning     calls started up to {self.max_lag:.2f} s late: all workers were "
                "busy; raise --concurrency"
            )
        return "\n".join(lines)


def _pairs(counts: Mapping[str, int]) -> str:
    return "  ".join(f"{key} {value}" for key, value in counts.items())
