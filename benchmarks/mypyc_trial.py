"""What compiling the hot modules with mypyc would save: a measurement, not a build the package
ships (the wheel stays pure Python).

``python benchmarks/mypyc_trial.py --mypyc PATH [--build DIR] [--rounds N] [--keep]
[--only PARTS] [--output PATH]``:

1. copies ``src`` to DIR (default: a new temporary directory, removed at the end unless
   ``--keep``), rewrites there what mypyc refuses or compiles wrongly (:data:`NON_NATIVE`,
   :data:`INTERPRETED_SUBCLASSES`, :data:`REGISTER`, :data:`REPLACE`; in every compiled module
   the class ``__slots__`` go and a module-level ``if TYPE_CHECKING`` keeps its ``else``), and
   compiles :data:`MODULES` (``--only``: those whose path has one of PARTS, comma-separated)
   in place with the mypyc at PATH: mypy of the dev extra's version,
   installed in a venv of this same Python (this script installs nothing);
2. counts the instructions per call pair of ``grpc_overhead.py instructions`` (``bare`` and
   ``full``, sync interceptor, sync protected channel and aio) with the library imported from
   ``src`` and from the build (``PYTHONPATH``; the count does not move with the host's load);
3. times benchmarks/pipeline.py's ``overhead`` in processes alternating pure and compiled
   (``--rounds`` of each), each figure a ratio to pybreaker's call timed in the same process.

Prints both tables and writes benchmarks/results/mypyc_trial.json. About 7 minutes on a busy
2-core host (the compile 35-100 s with the load, eighteen callgrind runs, twelve processes).
The patched copy is only good for counting: it fails tests that the pure package passes (see
benchmarks/README.md, "2026-12-04: mypyc"). :data:`REFUSED` lists the hot modules left out.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
RESULTS = HERE / "results" / "mypyc_trial.json"
MODULES = (
    "resilience/_base/clock.py",
    "resilience/_base/channels.py",
    *(f"resilience/algorithms/{name}.py" for name in ("breaker", "tiered", "overload")),
    *(f"resilience/algorithms/{name}.py" for name in ("ema_timeout", "_admission", "_window")),
    *(f"resilience/algorithms/{name}.py" for name in ("_limiter", "sliding_window")),
    *(f"resilience/observability/{name}.py" for name in ("metrics", "_stats", "sentry")),
    *(f"resilience/interceptors/{name}.py" for name in ("server", "client", "_sync_call")),
    *(f"resilience/interceptors/{name}.py" for name in ("_server_pipeline", "_client_pipeline")),
    *(
        f"resilience/interceptors/{name}.py"
        for name in ("_server_call", "_client_call", "_pipeline")
    ),
    *(f"resilience/interceptors/{name}.py" for name in ("_protected_channel", "_protected_calls")),
    *(f"resilience/interceptors/{name}.py" for name in ("_aio_call_end", "_registry")),
    "resilience/interceptors/_method_state.py",
    *(f"resilience/interceptors/{name}.py" for name in ("_metadata", "_facade")),
    *(f"resilience/pipeline/{name}.py" for name in ("_pipeline", "_fused", "_stages", "_engine")),
)
"""The modules a call runs through (cProfile of ``grpc_overhead.py profile full`` and ``full
--aio``, and of benchmarks/pipeline.py) that mypyc compiled, with the bases of their classes."""
REFUSED = {
    "resilience/context.py": "frozen slotted dataclass written through its slot descriptors "
    "(CallContext.__dict__[name].__set__): no class __dict__ on a native class",
    "resilience/events.py": "the same slot-descriptor writes (CallOutcome)",
    "resilience/interceptors/aio_server.py": "async generators (the streaming handler shell)",
    "resilience/interceptors/aio_client.py": "AioClientInterceptor(ClientFacade, Sequence[...]): "
    "metaclass conflict as a native class, 'ClientFacade object expected' as a non-native one",
    "resilience/pipeline/_core.py": "@runtime_checkable Protocols (Stage, Wrapper) fail at import",
}
"""Hot modules left interpreted, and why mypyc (2.4) would not take them."""
NON_NATIVE = {
    "resilience/interceptors/client.py": ["_CallDetails"],  # a NamedTuple subclass
    "resilience/_base/channels.py": ["ShapeFactories"],  # base of ProtectedChannel
    "resilience/interceptors/_sync_call.py": ["LocalRejection"],  # grpc.RpcError and more
    # a native class mixing a compiled base and gRPC's ABC read the wrong attribute slots
    "resilience/interceptors/_protected_calls.py": ["_MultiCallable"],
    "resilience/interceptors/_protected_channel.py": [
        *["_UnaryResponse", "_StreamResponse", "ProtectedChannel"],
        *["UnaryUnary", "UnaryStream", "StreamUnary", "StreamStream"],
    ],
}
"""Classes compiled as ordinary Python classes (``mypyc_attr(native_class=False)``)."""
INTERPRETED_SUBCLASSES = {"resilience/interceptors/_facade.py": ["ServerFacade", "ClientFacade"]}
"""Compiled classes that interpreted ones subclass (the ``Aio*`` interceptors)."""
REGISTER = {
    "resilience/interceptors/server.py": ["ServerInterceptor"],
    "resilience/interceptors/client.py": ["ClientInterceptor"],
}
"""Native classes given gRPC's ABCs as virtual bases (``ABC.register``) instead of real ones
(as non-native classes, mypyc crashes on the server's nested generator)."""
REPLACE = {
    "resilience/interceptors/_facade.py": [
        (  # an attribute a subclass fills with a method is a slot a native class leaves empty
            "    _wrap: Callable[..., Any]\n",
            "    def _wrap(self, method: str, shape: Any, behavior: Callable[..., Any]) -> Any:\n"
            "        raise NotImplementedError\n",
        )
    ],
    "resilience/algorithms/tiered.py": [  # an int written to a float variable
        ("used: float = 0\n", "used: float = 0.0\n"),
        ("used, reserved = total, 0\n", "used, reserved = total, 0.0\n"),
    ],
}
DESLOTTED = ("resilience/pipeline/_core.py",)
"""Interpreted modules whose classes lose ``__slots__`` too: compiled classes inherit them."""
MYPY_CONFIG = "[mypy]\npython_version = {}\nignore_missing_imports = True\n"


def _decorate(text: str, names: list[str], argument: str) -> str:
    """Each class of ``names`` decorated with ``mypyc_attr(argument)``."""
    if not names:
        return text
    for name in names:
        text, found = re.subn(
            rf"^class {name}\b", rf"@mypyc_attr({argument})\n\g<0>", text, count=1, flags=re.M
        )
        if not found:
            raise SystemExit(f"mypyc_trial: no class {name} to mark {argument}")
    future = "from __future__ import annotations\n"
    return text.replace(future, future + "\nfrom mypy_extensions import mypyc_attr\n", 1)


def _without_slots(text: str, keep: list[str]) -> str:
    """``text`` with the class-level ``__slots__`` assignments removed (mypyc's native classes
    refuse them: their attributes are slots already), but for the classes named in ``keep``."""
    lines = text.splitlines(keepends=True)
    for node in sorted(ast.walk(ast.parse(text)), key=lambda n: -getattr(n, "lineno", 0)):
        if not isinstance(node, ast.ClassDef) or node.name in keep:
            continue
        for statement in reversed(node.body):
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in statement.targets
            ):
                first, last = statement.lineno - 1, statement.end_lineno or statement.lineno
                indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
                lines[first:last] = [indent + "pass\n"]
    return "".join(lines)


def _runtime_branches(text: str) -> str:
    """A module-level ``if TYPE_CHECKING: A else: B`` replaced by B: mypyc compiles A, and B
    raises "Reached allegedly unreachable code" at import."""
    lines = text.splitlines(keepends=True)
    for node in sorted(ast.parse(text).body, key=lambda n: -n.lineno):
        if not isinstance(node, ast.If) or not node.orelse:
            continue
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            body = lines[node.orelse[0].lineno - 1 : node.orelse[-1].end_lineno]
            lines[node.lineno - 1 : node.end_lineno] = [line[4:] for line in body]
    return "".join(lines)


def _registered(text: str, names: list[str]) -> str:
    """Each class of ``names`` without its ``grpc.`` bases, registered with them instead."""
    for name in names:
        header = re.search(rf"^class {name}\((.*?)\):\n", text, re.M | re.S)
        if header is None:
            raise SystemExit(f"mypyc_trial: no class {name} to register")
        bases = [b.strip() for b in header.group(1).split(",") if b.strip()]
        grpc_bases = [b for b in bases if b.startswith("grpc.")]
        kept = ", ".join(b for b in bases if b not in grpc_bases)
        text = text.replace(header.group(0), f"class {name}({kept}):\n")
        text += "".join(f"\n{base}.register({name})\n" for base in grpc_bases)
    return text


def prepare(build: Path, modules: tuple[str, ...] = MODULES) -> None:
    """Copy ``src`` to ``build/src`` and patch it for mypyc to compile ``modules`` (the module
    docstring)."""
    shutil.copytree(SRC, build / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for module in (*modules, *DESLOTTED):
        path = build / "src" / module
        non_native = NON_NATIVE.get(module, [])
        text = _runtime_branches(_without_slots(path.read_text(), non_native))
        for old, new in REPLACE.get(module, []):
            if old not in text:
                raise SystemExit(f"mypyc_trial: {module} no longer has {old!r}")
            text = text.replace(old, new)
        text = _registered(text, REGISTER.get(module, []))
        text = _decorate(text, non_native, "native_class=False")
        subclassed = INTERPRETED_SUBCLASSES.get(module, [])
        text = _decorate(text, subclassed, "allow_interpreted_subclasses=True")
        path.write_text(text)
    (build / "mypy.ini").write_text(
        MYPY_CONFIG.format(f"{sys.version_info[0]}.{sys.version_info[1]}")
    )


def compile_modules(build: Path, mypyc: str, modules: tuple[str, ...] = MODULES) -> dict[str, Any]:
    """Run mypyc on ``modules`` in ``build/src``; its wall time and the size of the
    extensions it put in the package (Linux and macOS ``.so``)."""
    started = time.monotonic()
    command = [mypyc, "--config-file", str(build / "mypy.ini"), *modules]
    out = subprocess.run(command, cwd=build / "src", capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        errors = [line for line in out.stdout.splitlines() if ": error:" in line]
        raise SystemExit("mypyc_trial: mypyc failed:\n" + "\n".join(errors or [out.stderr[-3000:]]))
    extensions = [  # those copied into the package (mypyc's own build/ keeps a second copy)
        path
        for path in (build / "src").rglob("*.so")
        if "build" not in path.relative_to(build / "src").parts
    ]
    return {
        "seconds": round(time.monotonic() - started, 1),
        "extension_bytes": sum(path.stat().st_size for path in extensions),
    }


SHELLS: tuple[tuple[str, list[str]], ...] = (
    ("sync interceptor", []),
    ("sync protected", ["--protected"]),
    ("aio", ["--aio"]),
)
"""The shells counted: ``grpc_overhead.py instructions`` flags."""


def instructions(variant: str, flags: list[str], src: Path) -> float:
    """``grpc_overhead.py instructions VARIANT FLAGS`` with the library imported from ``src``."""
    command = [sys.executable, str(HERE / "grpc_overhead.py"), "instructions", variant, *flags]
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    found = re.search(r": ([\d,]+) instructions per call pair", out.stdout)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"mypyc_trial: instructions failed: {out.stderr[-3000:]}")
    return float(found.group(1).replace(",", ""))


PIPELINE = (
    "import json, sys; sys.path.insert(0, sys.argv[1]); from benchmarks.pipeline import overhead;"
    " print(json.dumps(overhead(3, 20_000)))"
)


def pipeline_ratios(src: Path, compiled: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Median over ``rounds`` of each ``overhead`` figure's ratio to pybreaker's call, pure and
    compiled, in processes alternating (the first side flipped every round)."""
    ratios: dict[str, dict[str, list[float]]] = {"pure": {}, "compiled": {}}
    for round_ in range(rounds):
        sides = [("pure", src), ("compiled", compiled)]
        for side, path in sides[:: 1 if round_ % 2 == 0 else -1]:
            command = [sys.executable, "-c", PIPELINE, str(HERE.parent)]
            env = {**os.environ, "PYTHONPATH": str(path)}
            out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
            if out.returncode != 0:
                raise SystemExit(f"mypyc_trial: pipeline overhead failed: {out.stderr[-3000:]}")
            for name, figure in json.loads(out.stdout).items():
                ratios[side].setdefault(name, []).append(figure["x_pybreaker"])
    return {
        side: {name: round(statistics.median(values), 2) for name, values in figures.items()}
        for side, figures in ratios.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mypyc", required=True, help="the mypyc executable (this Python's)")
    parser.add_argument("--build", type=Path, help="where to build (default: a temporary dir)")
    parser.add_argument("--rounds", type=int, default=6, help="pipeline processes per side")
    parser.add_argument("--keep", action="store_true", help="keep the build directory")
    parser.add_argument(
        "--only",
        help="compile only the modules whose path has one of these comma-separated parts "
        "(e.g. algorithms/,_base/clock); write elsewhere with --output",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    parts = args.only.split(",") if args.only else [""]
    modules = tuple(module for module in MODULES if any(part in module for part in parts))
    if not modules:
        raise SystemExit(f"mypyc_trial: --only {args.only} names none of {MODULES}")
    build = args.build or Path(tempfile.mkdtemp(prefix="resilience-mypyc-"))
    if (build / "src").exists():
        raise SystemExit(f"mypyc_trial: {build / 'src'} exists; give an empty --build")
    try:
        prepare(build, modules)
        result: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": sys.version.split()[0],
            "modules": list(modules),
            "refused": REFUSED,
            "build": compile_modules(build, args.mypyc, modules),
            "instructions": {},
        }
        print(f"compiled {len(modules)} modules in {result['build']['seconds']} s, "
              f"{result['build']['extension_bytes'] / 1e6:.1f} MB of extensions")  # fmt: skip
        print(
            "| shell | bare | full, pure | full, compiled | stack pure | stack compiled | saved |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for shell, flags in SHELLS:
            bare = instructions("bare", flags, SRC)
            pure = instructions("full", flags, SRC)
            compiled = instructions("full", flags, build / "src")
            saved = 1 - (compiled - bare) / (pure - bare)
            result["instructions"][shell] = {"bare": bare, "pure": pure, "compiled": compiled}
            print(f"| {shell} | {bare:,.0f} | {pure:,.0f} | {compiled:,.0f} | {pure - bare:,.0f} "
                  f"| {compiled - bare:,.0f} | {saved:.1%} |")  # fmt: skip
        result["pipeline_x_pybreaker"] = pipeline_ratios(SRC, build / "src", args.rounds)
        result["load_after"] = os.getloadavg()[0]
        print("| benchmarks/pipeline.py overhead, x pybreaker | pure | compiled |")
        print("|---|---:|---:|")
        for name, pure_ratio in result["pipeline_x_pybreaker"]["pure"].items():
            compiled_ratio = result["pipeline_x_pybreaker"]["compiled"][name]
            print(f"| {name} | {pure_ratio:.2f} | {compiled_ratio:.2f} |")
        args.output.parent.mkdir(exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    finally:
        if not args.keep:
            shutil.rmtree(build / "src", ignore_errors=True)
            if args.build is None:
                shutil.rmtree(build, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
