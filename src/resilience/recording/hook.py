"""Traffic recording as a server hook, the plug-in the server interceptors run per call.

``recording_hook(recorder)`` works on sync and grpc.aio servers alike::

    recorder = TrafficRecorder("traffic.jsonl", sample_rate=0.01, secret_keys=["x-api-key"])
    server = grpc.server(pool, interceptors=[ServerInterceptor(hooks=[recording_hook(recorder)])])

For a unary request it records the call (when sampled); for a request stream it returns a
wrapper that records the messages the handler reads, which the interceptor hands to the
handler in place of the original stream. The file write is one small buffered write per
sampled call, so on an aio server the loop is held only for that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from resilience.recording.recorder import TrafficRecorder

Hook = Callable[[str, Mapping[str, Any], Any, Any], Any]


def recording_hook(recorder: TrafficRecorder) -> Hook:
    """A server hook sampling calls into ``recorder``; returns a replacement request stream
    for sampled streaming calls, None otherwise."""

    def record_call(method: str, metadata: Mapping[str, Any], request: Any, context: Any) -> Any:
        items = list(metadata.items())
        if hasattr(request, "__aiter__"):
            return recorder.aio_tap(method, request, items)
        if hasattr(request, "__next__"):
            return recorder.tap(method, request, items)
        recorder.maybe_record(method, request, items)
        return None

    return record_call
