"""Every code block a reader can copy from README.md and docs/ works as written.

One test per fenced block, named ``page:line`` (the line of the opening fence). The rules:

- ``python`` blocks of one page run in page order in one fresh interpreter (a subprocess per
  page, so that a block setting a global meter provider or logging touches no other test) and
  share one namespace: a block may continue an earlier block of its page, as a reader would
  paste them one after another. They run in an empty temporary directory holding
  ``policy.toml`` and ``resilience.toml``, both copies of ``docs/examples/policy.toml`` (the
  file the getting-started page shows), because the pages load "your policy file" by these
  names.
- A block preceded by ``<!-- snippet: no-run (why) -->`` is only compiled; every
  ``from resilience... import X`` / ``import resilience...`` in it must name something that
  exists, and every name it uses must be defined by it or an earlier Python block of the page
  (ruff's F821), except the names the reason puts in backticks: ``<!-- snippet: no-run
  (`stub`, `request`: your generated client) -->``. Use it for what cannot run here: a remote
  host, a fixed port, your own stubs, a server that serves until stopped.
- A block holding only a ``--8<-- "path"`` include is checked as the file it includes;
  ``docs/examples/*.py`` are run by test_examples.py, so here they are only compiled.
- ``toml``, ``yaml`` and ``json`` blocks must load and validate: as a chaos experiment when the
  TOML has an ``[experiment]`` table, as a load-test flow when it has ``[[call]]``, as a
  failover scenario when it has ``traffic``, and as a :class:`resilience.Policy` otherwise.
  With ``no-run`` a block (a template) only has to parse.
- Shell blocks (no language, ``console``, ``shell``, ``bash``, ``sh``): each command line
  (after ``$ `` where the block uses prompts) that runs ``resilience``, ``python -m
  resilience``, ``make``, ``pip install`` or ``python FILE`` is checked without running it:
  ``resilience`` arguments must parse with the real command-line parser, ``make`` targets must
  exist in the Makefile, ``pip install`` extras in pyproject.toml, ``python FILE`` must exist.
  A shell block with no such line (output, a diagram, a formula) is not collected.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
POLICY_EXAMPLE = ROOT / "docs" / "examples" / "policy.toml"
SHELL_LANGUAGES = {"", "console", "shell", "bash", "sh"}
POLICY_LANGUAGES = {"toml", "yaml", "json"}
PAGE_TIMEOUT = 30.0
"""Seconds one page's Python blocks may take together in their subprocess."""
BLOCK_TIMEOUT = 5
"""Seconds one Python block may take (a block that serves forever must be marked no-run)."""

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"<!--\s*snippet:\s*(?P<what>[a-z-]+)\s*(?:\((?P<why>.*)\))?\s*-->")
_INCLUDE = re.compile(r'^-{1,2}8<-{1,2}\s*"(?P<path>[^"]+)"$')


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    """Path relative to the repository root."""
    line: int
    """1-based line of the opening fence."""
    language: str
    text: str
    no_run: str | None
    """The reason given by a ``<!-- snippet: no-run (why) -->`` marker, or None."""

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def include(self) -> Path | None:
        match = _INCLUDE.match(self.text.strip())
        return None if match is None else ROOT / match["path"]


def _pages() -> list[Path]:
    docs = sorted(
        page
        for page in (ROOT / "docs").rglob("*.md")
        if not {"site", "build"} & set(page.relative_to(ROOT).parts)
    )
    return [ROOT / "README.md", *docs]


def _marker(lines: list[str], fence_index: int, page: str) -> str | None:
    """The no-run reason from the HTML comments right above the fence (blank lines allowed)."""
    index = fence_index - 1
    while index >= 0 and (not lines[index].strip() or lines[index].strip().startswith("<!--")):
        match = _MARKER.search(lines[index])
        if match:
            if match["what"] != "no-run":
                raise ValueError(f"{page}:{index + 1}: unknown snippet marker {match['what']!r}")
            return match["why"] or "no reason given"
        index -= 1
    return None


def _blocks_of(path: Path) -> list[Block]:
    page = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = "\n".join(line[indent:] for line in lines[index + 1 : end])
        language = opening["info"].split()[0].lower() if opening["info"].strip() else ""
        language = language.lstrip("{.").rstrip("}")
        no_run = _marker(lines, index, page)
        blocks.append(Block(page, index + 1, language, body + "\n", no_run))
        index = end + 1
    return blocks


def _collected(block: Block) -> bool:
    if block.language == "python" or block.language in POLICY_LANGUAGES:
        return True
    return block.language in SHELL_LANGUAGES and bool(_commands(block.text))


def _source(block: Block) -> str:
    mangled = re.match(r"-+\s*8\s*<\s*-+", block.text.strip())
    assert block.include is not None or not mangled, (
        f'{block.name}: not a --8<-- "path" include; if ruff format rewrote it, put the'
        " block between <!-- fmt: off --> and <!-- fmt: on -->"
    )
    include = block.include
    if include is None:
        return block.text
    assert include.is_file(), f"{block.name}: the included file {include} does not exist"
    return include.read_text(encoding="utf-8")


# --- Python ----------------------------------------------------------------------------------

_RUNNER = r"""
import json, signal, sys, traceback

def _timeout(signum, frame):
    raise TimeoutError("the block ran for more than %d s" % BLOCK_TIMEOUT)

blocks, results_path, BLOCK_TIMEOUT = json.loads(sys.stdin.read()), sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGALRM, _timeout)
namespace = {"__name__": "__snippet__"}
results = {}
for block in blocks:
    signal.alarm(BLOCK_TIMEOUT)
    try:
        exec(compile(block["code"], block["name"], "exec"), namespace)
    except BaseException:
        results[block["name"]] = traceback.format_exc()
    else:
        results[block["name"]] = None
    finally:
        signal.alarm(0)
with open(results_path, "w", encoding="utf-8") as out:
    json.dump(results, out)
sys.stdout.flush()
import os
os._exit(0)  # a block's non-daemon thread must not keep the page's interpreter alive
"""


@cache
def _page_results(page: str) -> dict[str, str | None]:
    """Run the runnable Python blocks of ``page`` in order; block name -> traceback or None."""
    runnable = [
        {"name": block.name, "code": block.text}
        for block in BLOCKS
        if block.page == page and block.language == "python"
        if block.no_run is None and block.include is None
    ]
    if not runnable:
        return {}
    with tempfile.TemporaryDirectory(prefix="snippets-") as folder:
        for name in ("policy.toml", "resilience.toml"):
            shutil.copy(POLICY_EXAMPLE, Path(folder) / name)
        results_path = Path(folder) / "results.json"
        process = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(results_path), str(BLOCK_TIMEOUT)],
            input=json.dumps(runnable),
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=PAGE_TIMEOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            check=False,
        )
        if not results_path.exists():
            output = process.stdout + process.stderr
            return {block["name"]: f"the page's interpreter died:\n{output}" for block in runnable}
        results: dict[str, str | None] = json.loads(results_path.read_text(encoding="utf-8"))
        return results


def _check_imports(tree: ast.AST, name: str) -> None:
    """Every ``resilience`` module and name the code imports exists."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        else:
            continue
        for module_name in modules:
            if module_name.split(".")[0] != "resilience":
                continue
            module = importlib.import_module(module_name)
            for attribute in names:
                if not hasattr(module, attribute):
                    importlib.import_module(f"{module_name}.{attribute}")  # a submodule
                    assert hasattr(module, attribute), f"{name}: {module_name}.{attribute}"


def _undefined_names(block: Block) -> set[str]:
    """Names the block uses that neither it nor an earlier Python block of its page defines."""
    earlier = "".join(
        other.text
        for other in BLOCKS
        if other.page == block.page and other.language == "python" and other.line < block.line
    )
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff (the dev extra) finds undefined names")
    command = [ruff, "check", "--isolated", "--select", "F821", "--output-format", "json"]
    report = subprocess.run(
        [*command, "--stdin-filename", "snippet.py", "-"],
        input=earlier + block.text,
        capture_output=True,
        text=True,
        check=False,
    )
    first_row = earlier.count("\n") + 1
    return {
        re.sub(r"^Undefined name `(.*)`.*$", r"\1", finding["message"])
        for finding in json.loads(report.stdout)
        if finding["location"]["row"] >= first_row
    }


def _check_python(block: Block) -> None:
    source = _source(block)
    tree = compile(source, block.name, "exec", ast.PyCF_ONLY_AST)
    _check_imports(tree, block.name)
    if block.include is not None:
        return
    if block.no_run is not None:
        given = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", block.no_run))
        undefined = _undefined_names(block) - given
        assert not undefined, f"{block.name}: undefined {sorted(undefined)}; import or define them"
        return
    failure = _page_results(block.page)[block.name]
    assert failure is None, f"{block.name} failed when run:\n{failure}"


# --- Policy, experiment, flow and scenario files ---------------------------------------------


def _parse(language: str, text: str) -> Any:
    if language == "toml":
        return tomllib.loads(text)
    if language == "json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def _check_data(block: Block) -> None:
    tree = _parse(block.language, _source(block))
    if block.no_run is not None:
        return
    if "experiment" in tree:
        from resilience.tools.experiments import Experiment

        Experiment.from_dict(tree)
    elif "call" in tree:
        from resilience.tools.loadtest import Flow

        Flow.from_dict(tree)
    elif "traffic" in tree:
        from resilience.tools.simulate.scenario import Scenario

        Scenario.from_dict(tree)
    else:
        from resilience import Policy

        Policy.from_tree(tree, source=block.name)


# --- Shell -----------------------------------------------------------------------------------

_CHECKED_PROGRAMS = ("resilience", "make", "pip", "python")
_REQUIREMENT = re.compile(r"(?P<dist>[A-Za-z0-9_.-]+)(?:\[(?P<extras>[^\]]*)\])?")
_ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=\S*")


def _commands(text: str) -> list[list[str]]:
    """The checked command lines of a shell block, as argument lists (comments removed)."""
    lines = text.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    joined: list[str] = []
    for line in lines:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + line.strip()
        elif prompted:
            if line.startswith("$ "):
                joined.append(line[2:])
        else:
            joined.append(line)
    commands = []
    for line in joined:
        if not line or line[0].isspace():
            continue  # a diagram or output, never a command at column 0
        program = next((w for w in line.split() if not _ASSIGNMENT.fullmatch(w)), "")
        if program not in _CHECKED_PROGRAMS:
            continue
        words = shlex.split(line, comments=True)
        while _ASSIGNMENT.fullmatch(words[0]):
            words = words[1:]  # VAR=value before the command
        commands.append(words)
    return commands


@cache
def _make_targets() -> frozenset[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile, flags=re.MULTILINE))


@cache
def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _check_resilience_arguments(arguments: list[str], line: str, name: str) -> None:
    from resilience.__main__ import build_parser

    output = io.StringIO()
    code: str | int | None = 0
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            build_parser().parse_args(arguments)
        except SystemExit as exit_:  # --help exits with 0, a parse error with 2
            code = exit_.code
    assert code == 0, f"{name}: `{line}` does not parse:\n{output.getvalue()}"


def _check_command(words: list[str], name: str) -> None:
    line = shlex.join(words)
    program, arguments = words[0], words[1:]
    if program == "resilience":
        _check_resilience_arguments(arguments, line, name)
    elif program == "python" and arguments[:2] == ["-m", "resilience"]:
        _check_resilience_arguments(arguments[2:], line, name)
    elif program == "python":
        assert (ROOT / arguments[0]).is_file(), f"{name}: `{line}`: no file {arguments[0]}"
    elif program == "make":
        missing = [target for target in arguments if target not in _make_targets()]
        assert not missing, f"{name}: `{line}`: no make target {missing}"
    elif program == "pip" and arguments[:1] == ["install"]:
        for requirement in arguments[1:]:
            match = _REQUIREMENT.fullmatch(requirement)
            assert match, f"{name}: `{line}`: cannot read {requirement!r}"
            assert match["dist"] == _project()["name"], f"{name}: `{line}`: not our distribution"
            extras = set(filter(None, (match["extras"] or "").split(",")))
            unknown = extras - set(_project()["optional-dependencies"])
            assert not unknown, f"{name}: `{line}`: no extras {sorted(unknown)}"


def _check_shell(block: Block) -> None:
    for words in _commands(block.text):
        _check_command(words, block.name)


BLOCKS = [block for page in _pages() for block in _blocks_of(page) if _collected(block)]


# --- The tests -------------------------------------------------------------------------------


def test_the_pages_have_blocks_of_every_kind() -> None:
    languages = {block.language for block in BLOCKS}
    assert {"python", "toml", "yaml", "json"} <= languages
    assert any(block.language in SHELL_LANGUAGES for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_block_works_as_written(block: Block) -> None:
    if block.language == "python":
        _check_python(block)
    elif block.language in POLICY_LANGUAGES:
        _check_data(block)
    else:
        _check_shell(block)
