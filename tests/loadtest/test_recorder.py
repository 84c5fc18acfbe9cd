"""TrafficRecorder: sampling, secrets never written, stream taps, rotation bound, robustness."""

from __future__ import annotations

import asyncio
import os
import random
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from resilience.errors import ConfigError
from resilience.recording.format import read_recording
from resilience.recording.recorder import TrafficRecorder

SECRET_METADATA = (
    ("Authorization", "Bearer s3cr3t-token"),
    ("cookie", "session=s3cr3t-cookie"),
    ("X-Api-Key", "s3cr3t-key"),
    ("x-user", "alice"),
    ("trace-bin", b"\x00\x01"),
    ("baggage", "resilience.color=prod"),
    ("grpc-accept-encoding", "gzip"),
    ("user-agent", "grpc-python"),
)


def test_secrets_and_context_headers_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with TrafficRecorder(path, sample_rate=1.0, secret_keys=["x-api-key"]) as recorder:
        assert recorder.maybe_record("/a.B/C", b"payload", SECRET_METADATA, timestamp=12.5)
    text = path.read_text()
    assert "s3cr3t" not in text
    assert "authorization" not in text.lower()
    (call,) = read_recording(path)
    assert call.metadata == (("x-user", "alice"), ("trace-bin", b"\x00\x01"))
    assert call.requests == (b"payload",)
    assert call.timestamp == 12.5


def test_sampling_rate_is_respected_with_a_seeded_rng(tmp_path: Path) -> None:
    recorder = TrafficRecorder(tmp_path / "r", sample_rate=0.1, rng=random.Random(3))
    written = sum(recorder.maybe_record("/a.B/C", b"x") for _ in range(5000))
    recorder.close()
    # binomial(5000, 0.1): mean 500, sigma ~21.2; 4 sigma is ~85
    assert abs(written - 500) <= 85
    assert recorder.recorded == written
    never = TrafficRecorder(tmp_path / "never", sample_rate=0.0)
    assert not never.maybe_record("/a.B/C", b"x")
    assert not (tmp_path / "never").exists()


def test_rotation_bounds_the_files_and_every_file_has_a_header(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = TrafficRecorder(path, sample_rate=1.0, max_bytes=1024, backups=2)
    for i in range(200):
        recorder.record("/a.B/C", f"request number {i:04d}".encode())
    recorder.close()
    files = sorted(os.listdir(tmp_path))
    assert files == ["rec.jsonl", "rec.jsonl.1", "rec.jsonl.2"]
    for name in files:
        assert os.path.getsize(tmp_path / name) <= 1024
    calls = [c for name in reversed(files) for c in read_recording(tmp_path / name)]
    numbers = [int(c.requests[0].split()[-1]) for c in calls]
    assert numbers == list(range(numbers[0], 200))  # the newest calls, in order


def test_a_call_larger_than_a_file_is_skipped(tmp_path: Path) -> None:
    recorder = TrafficRecorder(tmp_path / "r", sample_rate=1.0, max_bytes=256)
    assert not recorder.record("/a.B/C", b"x" * 1000)
    assert recorder.skipped == 1


def test_an_unserializable_request_is_counted_not_raised(tmp_path: Path) -> None:
    recorder = TrafficRecorder(tmp_path / "r", sample_rate=1.0)
    assert not recorder.record("/a.B/C", object())
    assert recorder.errors == 1


def test_the_sync_tap_records_what_the_handler_read(tmp_path: Path) -> None:
    path = tmp_path / "r"
    recorder = TrafficRecorder(path, sample_rate=1.0, max_stream_messages=2)
    tapped = recorder.tap("/a.B/Up", iter([b"1", b"2", b"3"]), [("x-user", "bob")])
    assert list(tapped) == [b"1", b"2", b"3"]
    recorder.close()
    (call,) = read_recording(path)
    assert call.requests == (b"1", b"2")
    assert call.shape == "stream_unary"


def test_the_aio_tap_records_the_request_stream(tmp_path: Path) -> None:
    path = tmp_path / "r"
    recorder = TrafficRecorder(path, sample_rate=1.0)

    async def stream() -> AsyncIterator[bytes]:
        for item in (b"a", b"b"):
            yield item

    async def read() -> list[bytes]:
        tapped = recorder.aio_tap("/a.B/Chat", stream(), shape="stream_stream")
        return [item async for item in tapped]

    assert asyncio.run(read()) == [b"a", b"b"]
    recorder.close()
    (call,) = read_recording(path)
    assert (call.requests, call.shape) == ((b"a", b"b"), "stream_stream")


def test_unsampled_streams_are_passed_through_untouched(tmp_path: Path) -> None:
    recorder = TrafficRecorder(tmp_path / "r", sample_rate=0.0)
    requests = iter([b"1"])
    assert recorder.tap("/a.B/Up", requests) is requests


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"max_bytes": 10}, "max_bytes"),
        ({"backups": -1}, "backups"),
        ({"secret_keys": "authorization"}, "secret_keys"),
    ],
)
def test_bad_settings_name_the_parameter(
    tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:"):
        TrafficRecorder(tmp_path / "r", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which a plain open() creates world-readable files."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.usefixtures("usual_umask")
def test_recordings_rotated_copies_and_created_folders_are_private(tmp_path: Path) -> None:
    path = tmp_path / "made" / "by-recorder" / "rec.jsonl"
    with TrafficRecorder(path, sample_rate=1.0, max_bytes=400, backups=2) as recorder:
        for i in range(12):
            assert recorder.maybe_record("/a.B/C", b"x" * 100, timestamp=float(i))
    files = [path, path.with_name("rec.jsonl.1"), path.with_name("rec.jsonl.2")]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    folders = [tmp_path / "made", tmp_path / "made" / "by-recorder"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.usefixtures("usual_umask")
def test_an_existing_recording_keeps_its_mode_and_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with TrafficRecorder(path, sample_rate=1.0) as recorder:
        recorder.maybe_record("/a.B/C", b"one", timestamp=1.0)
    path.chmod(0o640)
    with TrafficRecorder(path, sample_rate=1.0) as recorder:
        recorder.maybe_record("/a.B/C", b"two", timestamp=2.0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [call.requests for call in read_recording(path)] == [(b"one",), (b"two",)]
