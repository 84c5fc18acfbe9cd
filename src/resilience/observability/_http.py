"""The loopback HTTP server behind ``serve_metrics``: a threading WSGI server on a daemon
thread, silent (no access log on stderr), IPv4 or IPv6 as the host address says."""

from __future__ import annotations

import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Silent(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: a scrape every few seconds would fill stderr."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def start_server(app: Any, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve the WSGI ``app`` on ``host``:``port`` (0: a free port) from a daemon thread;
    returns the server (``server_port`` is the real port) and its thread."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    server_class = type("_BoundServer", (_Server,), {"address_family": family})
    httpd: WSGIServer = make_server(host, port, app, server_class, handler_class=_Silent)
    thread = threading.Thread(target=httpd.serve_forever, name="resilience-metrics", daemon=True)
    thread.start()
    return httpd, thread
