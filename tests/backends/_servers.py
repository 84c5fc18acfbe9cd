"""Real Redis topologies for the backends tests: a 3-master Redis Cluster and a TLS server.

Both run Debian's ``redis-server`` on free 127.0.0.1 ports with nothing on disk but their
config (``--save '' --appendonly no``, cluster node files in a temporary directory); the
caller stops them with :meth:`stop`, which kills every process it started.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from ports import free_ports as free_ports  # re-exported for the cluster tests

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
STARTUP_TIMEOUT = 15.0
"""Seconds a topology may take to answer (the only waits in these tests)."""

_BASE = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


FROZEN_AT_MOST = 5.0
"""Seconds after which :func:`frozen` thaws the server even if its block has not ended."""


@contextmanager
def frozen(process: subprocess.Popen[bytes]) -> Iterator[threading.Event]:
    """Stop ``process`` (SIGSTOP) for the block: from the moment this returns it answers
    nothing, its sockets stay open, and a client's only way out is its own timeout (unlike
    ``DEBUG SLEEP`` sent from a thread, there is no race with the command reaching the server).
    It continues (SIGCONT) when the block ends or after :data:`FROZEN_AT_MOST` seconds,
    whichever comes first; the yielded event is set once it has."""
    thawed = threading.Event()
    lock = threading.Lock()

    def thaw() -> None:
        with lock:
            if not thawed.is_set():
                process.send_signal(signal.SIGCONT)
                thawed.set()

    process.send_signal(signal.SIGSTOP)
    timer = threading.Timer(FROZEN_AT_MOST, thaw)
    timer.start()
    try:
        yield thawed
    finally:
        timer.cancel()
        thaw()


def _wait_until(
    ready: Callable[[], bool], what: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready():
        dead = [p.args for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: a redis-server exited at start-up: {dead}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {STARTUP_TIMEOUT} s")
        time.sleep(0.05)


def _answers(call: Callable[[], object]) -> bool:
    try:
        call()
    except (redis.RedisError, OSError):
        return False
    return True


class _Processes:
    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, command: list[str]) -> None:
        self.processes.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    def stop(self) -> None:
        """Kill every server started here (idempotent)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(5)
        self.processes.clear()


class RedisClusterServers(_Processes):
    """Three cluster-enabled masters covering all 16384 slots, no replicas.

    ``url``: the store URL of the first node (``?cluster=true``); the client discovers the
    others. Each node gets its own client port and cluster-bus port (``--cluster-port``).
    """

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        ports = free_ports(6)
        self.ports, self._bus_ports = ports[:3], ports[3:]
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0?cluster=true"

    def start(self) -> None:
        """Start the nodes, join them with ``redis-cli --cluster create``, and wait until
        every node reports ``cluster_state:ok``."""
        try:
            for port, bus in zip(self.ports, self._bus_ports, strict=True):
                self.spawn(
                    [
                        *(REDIS_SERVER, "--port", str(port), "--cluster-port", str(bus), *_BASE),
                        *("--cluster-enabled", "yes", "--dir", str(self.directory)),
                        *("--cluster-config-file", f"nodes-{port}.conf"),
                        *("--enable-debug-command", "local"),
                    ]
                )
            clients = [self.node(port) for port in self.ports]
            _wait_until(
                lambda: all(_answers(c.ping) for c in clients), "cluster nodes", self.processes
            )
            create = [REDIS_CLI, "--cluster", "create"]
            create += [f"127.0.0.1:{port}" for port in self.ports]
            create += ["--cluster-replicas", "0", "--cluster-yes"]
            subprocess.run(create, check=True, capture_output=True, timeout=STARTUP_TIMEOUT)
            _wait_until(
                lambda: all(_cluster_ok(c) for c in clients), "cluster_state:ok", self.processes
            )
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise

    def port_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot."""
        client = redis.RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=2.0)
        try:
            port: int = client.get_node_from_key(key).port  # type: ignore[no-untyped-call]
            return port
        finally:
            client.close()

    def process_of(self, port: int) -> subprocess.Popen[bytes]:
        """The server process of the node on ``port``."""
        return self.processes[self.ports.index(port)]

    def node(self, port: int) -> redis.Redis:
        """A plain client of one node (for inspection; it does not follow redirections)."""
        return redis.Redis(port=port, socket_timeout=2.0)


def _cluster_ok(client: redis.Redis) -> bool:
    try:
        info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
    except (redis.RedisError, OSError):
        return False
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


class RedisTlsServer(_Processes):
    """One redis-server serving TLS only (``--port 0``), with a certificate for 127.0.0.1
    signed by a test CA made with trustme; clients need no certificate.

    ``ca_path``: the CA's PEM file, which a client must trust; ``url``: the store URL that
    trusts it.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__()
        import trustme

        self.directory = directory
        self.port = free_ports(1)[0]
        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "server.pem"
        self.key_path = directory / "server.key"
        authority.cert_pem.write_to_path(str(self.ca_path))
        certificate.cert_chain_pems[0].write_to_path(str(self.cert_path))
        certificate.private_key_pem.write_to_path(str(self.key_path))
        other = trustme.CA()
        self.wrong_ca_path = directory / "other-ca.pem"
        other.cert_pem.write_to_path(str(self.wrong_ca_path))
        self.url = self.url_trusting(self.ca_path)

    def url_trusting(self, ca_path: Path) -> str:
        """The ``rediss://`` URL of this server with ``ca_path`` as the trusted CA."""
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={ca_path}"

    def start(self) -> None:
        """Start the server and wait until it answers PING over TLS."""
        try:
            self.spawn(
                [
                    *(REDIS_SERVER, "--port", "0", "--tls-port", str(self.port), *_BASE),
                    *("--tls-cert-file", str(self.cert_path), "--tls-key-file", str(self.key_path)),
                    *("--tls-ca-cert-file", str(self.ca_path), "--tls-auth-clients", "no"),
                    *("--dir", str(self.directory)),
                ]
            )
            client = self.client()
            _wait_until(lambda: _answers(client.ping), "TLS redis-server", self.processes)
            client.close()
        except BaseException:
            self.stop()
            raise

    def client(self) -> redis.Redis:
        """A blocking TLS client trusting the test CA, with generous timeouts."""
        return redis.Redis(
            port=self.port,
            ssl=True,
            ssl_ca_certs=str(self.ca_path),
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
