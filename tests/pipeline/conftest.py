from __future__ import annotations

import pytest

from .helpers import Rig, rig


@pytest.fixture
def r() -> Rig:
    return rig()
