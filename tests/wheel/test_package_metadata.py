"""The built wheel and sdist carry the Apache-2.0 LICENSE the metadata declares, and the wheel's
METADATA (the PyPI page) has no relative link, which would break there. Builds both with
hatchling, the project's build backend, into a temporary folder (about a second)."""

from __future__ import annotations

import email
import hashlib
import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

ROOT = Path(__file__).resolve().parents[2]
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
"""The standard text of https://www.apache.org/licenses/LICENSE-2.0.txt."""


def _relative_links() -> Callable[[str], list[str]]:
    spec = importlib.util.spec_from_file_location("wheel_smoke", ROOT / "tests/wheel/smoke.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Callable[[str], list[str]], module.relative_links)


relative_links = _relative_links()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    code = (
        "import sys; from hatchling.build import build_sdist, build_wheel; "
        "print(build_wheel(sys.argv[1])); print(build_sdist(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    wheel, sdist = result.stdout.split()
    return out / wheel, out / sdist


def test_the_license_file_is_the_standard_apache_2_text() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


def test_the_wheel_carries_the_license_and_declares_it(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        licenses = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
        assert licenses, names
        assert archive.read(licenses[0]) == (ROOT / "LICENSE").read_bytes()
        meta = email.message_from_bytes(archive.read(licenses[0].split("/")[0] + "/METADATA"))
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["License-File"] == "LICENSE"


def test_the_sdist_carries_the_license(built: tuple[Path, Path]) -> None:
    _, sdist = built
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("/LICENSE") for name in archive.getnames())


def test_the_pypi_description_has_no_relative_link(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(archive.read(name))
    description = meta.get_payload()
    assert isinstance(description, str)
    assert "# resilience" in description
    assert meta["Description-Content-Type"] == "text/markdown"
    assert relative_links(description) == []


@pytest.mark.parametrize(
    ("markdown", "found"),
    [
        ("see [adding the interceptors](docs/interceptors.md).", ["docs/interceptors.md"]),
        ("[docs/index.md](docs/index.md) is the start", ["docs/index.md"]),
        ("![plot](img/a.png)", ["img/a.png"]),
        ("[guide]: ../guide.md", ["../guide.md"]),
        ('<a href="docs/x.md">x</a>', ["docs/x.md"]),
        ("[site](https://opentelemetry.io/docs/) and [top](#install)", []),
        ("`make docs-serve` on http://127.0.0.1:8000", []),
    ],
)
def test_the_link_check_finds_relative_targets(markdown: str, found: list[str]) -> None:
    assert relative_links(markdown) == found
