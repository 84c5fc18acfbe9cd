"""Run part of the suite N times under a CPU hog on every core; print failures per test.

    python tests/stress.py [--runs N] [--hog stress-ng|python] [pytest arguments...]

The pytest arguments default to ``-m timing``. The hog is ``stress-ng --cpu <cores>`` when
installed, else one Python busy loop per core; it is stopped at the end, also on Ctrl-C. Each
run writes a JUnit report into a temporary directory; the summary lists every test that failed
at least once ("green in X of N") and the timing bounds a run could not judge. Exit status 1
when any test failed in any run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _spin() -> None:
    while True:
        pass


@contextmanager
def cpu_hog(kind: str) -> Iterator[str]:
    """Keep every core busy for the duration of the block; yields what is running."""
    cores = os.cpu_count() or 1
    if kind == "stress-ng" and shutil.which("stress-ng"):
        hog = subprocess.Popen(["stress-ng", "--cpu", str(cores), "--quiet"])
        try:
            yield f"stress-ng --cpu {cores}"
        finally:
            hog.send_signal(signal.SIGINT)
            hog.wait(10)
        return
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(cores)]
    for spinner in spinners:
        spinner.start()
    try:
        yield f"{cores} Python busy loops"
    finally:
        for spinner in spinners:
            spinner.terminate()
            spinner.join(10)


def outcomes(report: Path) -> Iterator[tuple[str, str, list[str]]]:
    """(test id, passed|failed|skipped, reasons a timing bound was not judged) per test case
    of a JUnit report; a failure's state is its message."""
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        problem = case.find("failure")
        problem = case.find("error") if problem is None else problem
        if problem is not None:
            state = "failed: " + (problem.get("message") or "").strip()
        elif case.find("skipped") is not None:
            state = "skipped"
        else:
            state = "passed"
        unjudged = [
            prop.get("value", "")
            for prop in case.iter("property")
            if prop.get("name") == "timing_not_judged"
        ]
        yield name, state, unjudged


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("STRESS_RUNS", "10")))
    parser.add_argument("--hog", choices=["stress-ng", "python"], default="stress-ng")
    options, pytest_args = parser.parse_known_args(argv)
    pytest_args = pytest_args or ["-m", "timing"]
    ran: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    unjudged: Counter[str] = Counter()
    broken_runs = 0
    with tempfile.TemporaryDirectory() as scratch, cpu_hog(options.hog) as hog:
        print(f"stress: {options.runs} runs of pytest {' '.join(pytest_args)} under {hog}")
        for run in range(1, options.runs + 1):
            report = Path(scratch) / f"run-{run}.xml"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            command += [f"--junitxml={report}", *pytest_args]
            code = subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode
            if not report.exists():
                broken_runs += 1
                print(f"run {run}: pytest exited {code} without a report")
                continue
            bad = []
            for name, state, reasons in outcomes(report):
                ran[name] += 1
                unjudged[name] += len(reasons)
                if state.startswith("failed"):
                    failed[name] += 1
                    bad.append(f"{name}\n    {state}")
            print(f"run {run}: {len(bad)} failed" + "".join(f"\n  {name}" for name in bad))
    print(f"\nstress: {len(ran)} tests, {options.runs} runs under {hog}")
    for name in sorted(ran):
        if failed[name] or unjudged[name]:
            green = ran[name] - failed[name]
            note = f", {unjudged[name]} timing bound(s) not judged" if unjudged[name] else ""
            print(f"  {name}: green in {green} of {ran[name]}{note}")
    all_green = sum(1 for name in ran if not failed[name])
    print(f"{all_green} of {len(ran)} tests green in every run")
    return 1 if failed or broken_runs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
