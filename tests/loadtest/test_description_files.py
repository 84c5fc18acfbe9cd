"""Flow and recording files: what they describe, and errors naming the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from resilience.errors import ConfigError
from resilience.recording.format import CallSpec, encode_call, header_line, read_recording
from resilience.tools.loadtest.flow import Flow, WeightedPicker

FLOW = """\
# a crafted flow
[[call]]
method = "/echo.Echo/Say"
request = "hello"
weight = 3

[[call]]
method = "/echo.Echo/Collect"
requests = ["a", { hex = "62" }, { base64 = "Yw==" }]
metadata = { "x-client" = "lt" }
"""


def test_a_flow_describes_calls_and_weights(tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(FLOW)
    flow = Flow.load(path)
    assert flow.weights == (3.0, 1.0)
    assert flow.calls[0] == CallSpec("/echo.Echo/Say", (b"hello",))
    assert flow.calls[1].requests == (b"a", b"b", b"c")
    assert flow.calls[1].shape == "stream_unary"
    assert flow.calls[1].metadata == (("x-client", "lt"),)


def test_weights_steer_the_picker() -> None:
    flow = Flow.from_dict(
        {
            "call": [
                {"method": "/a.B/C", "request": "x", "weight": 9},
                {"method": "/a.B/D", "request": "y"},
            ]
        }
    )
    import random

    picker = WeightedPicker(flow, rng=random.Random(5))
    picks = [picker.next_call().method for _ in range(10_000)]
    # binomial(10000, 0.9): sigma 30; 4 sigma = 120
    assert abs(picks.count("/a.B/C") - 9000) <= 120


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("weight = 3", "weight = -1"), "flow.toml:5: call[0].weight: must be a number > 0"),
        (
            ('{ hex = "62" }', '{ hex = "zz" }'),
            "flow.toml:9: call[1].requests.hex: 'zz' is not valid hex",
        ),
        (
            ('method = "/echo.Echo/Say"', 'method = "Say"'),
            "flow.toml:3: call[0].method: must be a full",
        ),
        (('request = "hello"', 'reqest = "hello"'), "flow.toml:4: call[0].reqest: unknown field"),
        (("weight = 3", "weight = "), "flow.toml:5: TOML syntax:"),
    ],
)
def test_bad_flow_files_name_line_and_field(
    tmp_path: Path, replace: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(FLOW.replace(*replace))
    with pytest.raises(ConfigError) as raised:
        Flow.load(path)
    assert str(raised.value).startswith(f"{path}:{expected.split(':', 1)[1]}"), str(raised.value)


def test_recording_lines_round_trip(tmp_path: Path) -> None:
    call = CallSpec(
        "/a.B/C", (b"\x00\xff", b"x"), (("k", "v"), ("k-bin", b"\x01")), "stream_stream", 1.5
    )
    path = tmp_path / "rec.jsonl"
    path.write_text(header_line() + "\n" + encode_call(call) + "\n")
    assert list(read_recording(path)) == [call]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['{"format": "other", "version": 1}'], ":1: format: the first line must be the header"),
        (
            ['{"format": "resilience-recording", "version": 9}'],
            ":1: version: this reader understands",
        ),
        (
            [header_line(), '{"method": "/a.B/C", "requests": ["@@"]}'],
            ":2: requests: '@@' is not valid base64",
        ),
        (
            [header_line(), "", '{"method": "/a.B/C", "requests": 3}'],
            ":3: requests: must be a list",
        ),
        (
            [header_line(), '{"method": "/a.B/C", "requests": ["eA=="], "shape": "x"}'],
            ":2: shape: must be one of",
        ),
        ([header_line(), "{oops"], ":2: not valid JSON"),
    ],
)
def test_bad_recordings_name_line_and_field(
    tmp_path: Path, lines: list[str], expected: str
) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as raised:
        list(read_recording(path))
    assert str(raised.value).startswith(f"{path}{expected}"), str(raised.value)
