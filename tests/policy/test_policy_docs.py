"""The examples in docs/policy.md load, agree with each other and say what the page claims."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest

from resilience.policy import BreakerSettings, Policy, RateLimitSettings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def examples() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Examples", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"```(toml|yaml|json)\n(.*?)```", section, flags=re.DOTALL))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Policy]:
    folder = tmp_path_factory.mktemp("docs")
    policies = {}
    for kind, text in examples().items():
        path = folder / f"policy.{kind}"
        path.write_text(text, encoding="utf-8")
        policies[kind] = Policy.from_file(path)
    return policies


def test_the_page_has_one_example_per_format(loaded: dict[str, Policy]) -> None:
    assert sorted(loaded) == ["json", "toml", "yaml"]
    assert loaded["toml"] == loaded["yaml"] == loaded["json"]


def test_the_example_resolves_as_the_page_says(loaded: dict[str, Policy]) -> None:
    policy = loaded["toml"]
    browse = policy.settings_for("/shop.Catalog/Browse")
    assert browse.breaker == BreakerSettings(k=2.0, min_requests=20)
    assert browse.read
    assert browse.timeout is not None
    assert browse.tier == 3
    assert browse.rate_limit == RateLimitSettings(
        limit=500, tiered=True, key="/shop.Catalog/Browse"
    )
    search = policy.settings_for("/shop.Catalog/Search")
    assert (search.tier, search.rate_limit, search.timeout) == (2, None, browse.timeout)
    cart = policy.settings_for("/shop.Cart/Add")
    assert cart.breaker is None
    assert cart.failure_codes == {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL}
    assert cart.overload is not None
    assert cart.overload.cpu_thresholds[4] == 0.7
