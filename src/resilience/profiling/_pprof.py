"""Writing and reading pprof profiles: gzipped ``perftools.profiles.Profile`` messages, the
format ``go tool pprof``, Pyroscope, Grafana and speedscope read.

A stack is a tuple of :data:`Frame` values, innermost first (pprof's order: ``location_id[0]``
is the leaf). Labels are string labels on each sample (``method``, ``color``, ``tier``,
``trace_id``), which ``go tool pprof -tagfocus=color=loadtest`` selects on.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resilience.profiling._proto import Profile

Frame = tuple[str, str, int, int]
"""One frame: (function name, file name, line, the function's first line)."""

Stack = tuple[Frame, ...]
"""Frames of one sample, innermost first."""

MAX_PROFILE_BYTES = 64 << 20
"""A profile read back (gunzipped) larger than this is refused (64 MiB)."""


class ProfileBuilder:
    """Collects samples and encodes them as one profile.

    ``sample_types``: ``(type, unit)`` per value of a sample, e.g. ``[("samples", "count"),
    ("cpu", "nanoseconds")]``; ``period_type`` and ``period``: what one sample stands for
    (for CPU profiles, the sampling interval in nanoseconds). Strings, functions and
    locations are interned: a profile's size grows with distinct frames, not with samples."""

    def __init__(
        self,
        sample_types: Sequence[tuple[str, str]],
        *,
        period_type: tuple[str, str] | None = None,
        period: int = 0,
    ) -> None:
        self._profile = Profile()
        self._strings: dict[str, int] = {}
        self._functions: dict[tuple[str, str, int], int] = {}
        self._locations: dict[Frame, int] = {}
        self._string("")  # index 0 is always ""
        self._width = len(sample_types)
        for kind, unit in sample_types:
            self._profile.sample_type.add(type=self._string(kind), unit=self._string(unit))
        if period_type is not None:
            self._profile.period_type.type = self._string(period_type[0])
            self._profile.period_type.unit = self._string(period_type[1])
            self._profile.period = period

    def add(self, stack: Stack, values: Sequence[int], labels: Mapping[str, str] = {}) -> None:
        """One sample: its stack (innermost first), one value per sample type, string labels
        (empty values are left out)."""
        if len(values) != self._width:
            raise ValueError(f"a sample needs {self._width} values, got {len(values)}")
        sample = self._profile.sample.add()
        sample.location_id.extend(self._location(frame) for frame in stack)
        sample.value.extend(values)
        for key, value in labels.items():
            if value:
                sample.label.add(key=self._string(key), str=self._string(value))

    def encode(self, *, time_nanos: int = 0, duration_nanos: int = 0) -> bytes:
        """The gzipped profile (``time_nanos``: wall-clock start, ``duration_nanos``: span)."""
        self._profile.time_nanos = time_nanos
        self._profile.duration_nanos = duration_nanos
        return gzip.compress(self._profile.SerializeToString(), compresslevel=6, mtime=0)

    @property
    def samples(self) -> int:
        """Samples added so far."""
        return len(self._profile.sample)

    def _string(self, text: str) -> int:
        index = self._strings.get(text)
        if index is None:
            index = self._strings[text] = len(self._strings)
            self._profile.string_table.append(text)
        return index

    def _location(self, frame: Frame) -> int:
        found = self._locations.get(frame)
        if found is not None:
            return found
        name, filename, line, start = frame
        function = self._functions.get((name, filename, start))
        if function is None:
            function = self._functions[(name, filename, start)] = len(self._functions) + 1
            self._profile.function.add(
                id=function,
                name=self._string(name),
                system_name=self._string(name),
                filename=self._string(filename),
                start_line=start,
            )
        location = self._locations[frame] = len(self._locations) + 1
        self._profile.location.add(id=location).line.add(function_id=function, line=line)
        return location


@dataclass(frozen=True, slots=True)
class Sample:
    """A sample read back: its stack (innermost first), values, and string labels."""

    stack: Stack
    values: tuple[int, ...]
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ReadProfile:
    """A profile read back: ``sample_types`` as ``(type, unit)`` and its samples."""

    sample_types: tuple[tuple[str, str], ...]
    samples: tuple[Sample, ...]
    duration_nanos: int


def read_profile(data: bytes) -> ReadProfile:
    """Decode a pprof profile (gzipped or not). Raises ValueError on a file that is not one."""
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            data = unzipped.read(MAX_PROFILE_BYTES + 1)
        if len(data) > MAX_PROFILE_BYTES:
            raise ValueError(f"the profile is larger than {MAX_PROFILE_BYTES} bytes unzipped")
    profile = Profile()
    try:
        profile.ParseFromString(data)
    except Exception as exc:
        raise ValueError(f"not a pprof profile: {exc}") from None
    strings = list(profile.string_table)
    text = _texts(strings)
    functions = {f.id: (text(f.name), text(f.filename), f.start_line) for f in profile.function}
    locations: dict[int, tuple[Frame, ...]] = {}
    for location in profile.location:
        frames = []
        for line in reversed(location.line):  # the last line is the caller of the others
            name, filename, start = functions.get(line.function_id, ("?", "", 0))
            frames.append((name, filename, line.line, start))
        locations[location.id] = tuple(reversed(frames))
    samples = tuple(
        Sample(
            tuple(frame for lid in s.location_id for frame in locations.get(lid, ())),
            tuple(s.value),
            {text(label.key): text(label.str) for label in s.label if label.str},
        )
        for s in profile.sample
    )
    types = tuple((text(t.type), text(t.unit)) for t in profile.sample_type)
    return ReadProfile(types, samples, profile.duration_nanos)


def _texts(strings: list[str]) -> Any:
    def text(index: int) -> str:
        return strings[index] if 0 <= index < len(strings) else ""

    return text


def labeled(samples: Iterable[Sample], tags: Mapping[str, str]) -> list[Sample]:
    """The samples whose labels carry every ``key=value`` of ``tags``."""
    return [s for s in samples if all(s.labels.get(k) == v for k, v in tags.items())]
