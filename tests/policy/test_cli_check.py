"""``resilience policy check``: a newcomer's first check of a policy file."""

from __future__ import annotations

from pathlib import Path

import pytest

from resilience.__main__ import main

POLICY = """\
[methods."*"]
breaker = { k = 2.0 }

[methods."/shop.Catalog/*"]
read = true
timeout = { t_max = 0.5 }

[methods."/shop.Catalog/Browse"]
tier = 3
rate_limit = { limit = 500, tiered = true }
"""


def test_a_valid_file_is_named_with_its_patterns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    assert main(["policy", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == f"{path}: valid; method patterns: *, /shop.Catalog/*, /shop.Catalog/Browse\n"


def test_one_typo_says_which_key_and_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(POLICY)
    typo = tmp_path / "typo.toml"
    typo.write_text(POLICY.replace("timeout =", "timout ="))
    assert main(["policy", "check", str(typo), str(good), str(tmp_path / "gone.toml")]) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert errors[0].startswith(
        f"resilience policy: {typo}: methods./shop.Catalog/*.timout: "
        'unknown key; did you mean "timeout"?'
    )
    assert (
        errors[1]
        == f"resilience policy: {tmp_path / 'gone.toml'}: cannot read: No such file or directory"
    )
    assert captured.out.startswith(f"{good}: valid")


def test_without_an_action_it_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["policy"])
    assert exited.value.code == 2
    assert "the following arguments are required: ACTION" in capsys.readouterr().err
