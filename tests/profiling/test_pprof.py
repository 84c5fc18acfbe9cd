"""The pprof writer: what it writes reads back through the protobuf runtime and through
``go tool pprof``, an independent reader (function names, files, lines, values, labels)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from resilience.profiling import ProfileBuilder, labeled, read_profile

from .conftest import go_pprof

LEAF = ("crunch_numbers", "/srv/app/handlers.py", 42, 40)
CALLER = ("Service.Handle", "/srv/app/service.py", 10, 8)


def cpu_profile() -> bytes:
    builder = ProfileBuilder(
        [("samples", "count"), ("cpu", "nanoseconds")],
        period_type=("cpu", "nanoseconds"),
        period=10_000_000,
    )
    builder.add((LEAF, CALLER), (30, 300_000_000), {"color": "loadtest", "tier": "3"})
    builder.add((CALLER,), (10, 100_000_000), {"color": "", "method": "/a.B/C"})
    return builder.encode(time_nanos=1_700_000_000 * 10**9, duration_nanos=10**9)


def test_written_profiles_are_gzipped_and_read_back_with_stacks_values_and_labels() -> None:
    data = cpu_profile()
    assert data[:2] == b"\x1f\x8b"
    profile = read_profile(data)
    assert profile.sample_types == (("samples", "count"), ("cpu", "nanoseconds"))
    first, second = profile.samples
    assert first.stack == (LEAF, CALLER)
    assert first.values == (30, 300_000_000)
    assert dict(first.labels) == {"color": "loadtest", "tier": "3"}
    assert dict(second.labels) == {"method": "/a.B/C"}  # empty values are left out
    assert labeled(profile.samples, {"color": "loadtest"}) == [first]
    assert read_profile(gzip.decompress(data)) == profile  # not gzipped reads too


def test_a_sample_with_the_wrong_number_of_values_is_refused() -> None:
    builder = ProfileBuilder([("samples", "count")])
    with pytest.raises(ValueError, match="needs 1 values"):
        builder.add((LEAF,), (1, 2))


def test_garbage_is_not_a_profile() -> None:
    with pytest.raises(ValueError, match="not a pprof profile"):
        read_profile(b"\xff\xff\xff not a protobuf")


@pytest.mark.e2e  # runs go tool pprof
def test_go_tool_pprof_reads_functions_values_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "cpu.pb.gz"
    path.write_bytes(cpu_profile())
    top = go_pprof("-top", "-sample_index=cpu", str(path))
    assert "crunch_numbers" in top
    assert "Service.Handle" in top
    assert "400ms" in top  # total cpu: 300 ms + 100 ms
    focused = go_pprof("-top", "-sample_index=cpu", "-tagfocus=color=loadtest", str(path))
    assert "Showing nodes accounting for 300ms" in focused  # the colored sample only
    lines = go_pprof("-list=crunch_numbers", "-sample_index=cpu", str(path))
    assert "handlers.py" in lines
    tags = go_pprof("-tags", str(path))
    assert "loadtest" in tags
    assert "/a.B/C" in tags
