"""The experiment report's metric comparison, against a real HTTP endpoint on loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from resilience.tools.experiments._run import changed, scrape

EXPOSITION = """\
# HELP resilience_rejections_total calls refused
# TYPE resilience_rejections_total counter
resilience_rejections_total{reason="fault",side="server"} 7.0
resilience_breaker_drop_probability{method="/a.B/C"} 0.25
rpc_server_duration_count 12.0
"""


@pytest.fixture
def endpoint() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = EXPOSITION.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def test_scrape_keeps_the_library_series(endpoint: str) -> None:
    assert scrape(endpoint) == {
        'resilience_rejections_total{reason="fault",side="server"}': 7.0,
        'resilience_breaker_drop_probability{method="/a.B/C"}': 0.25,
    }


def test_changed_lists_moves_largest_first() -> None:
    before = {"a": 1.0, "b": 5.0, "c": 2.0}
    after = {"a": 1.0, "b": 6.0, "c": 0.0, "d": 4.0}
    assert list(changed(before, after).items()) == [("d", 4.0), ("c", -2.0), ("b", 1.0)]
