"""PolicyWatcher: reload a policy file when it changes and hand the new Policy on."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from resilience._base.clock import Clock, default_clock
from resilience._base.env import POLICY_VAR, STORE_VAR, env_value
from resilience._base.limits import MAX_POLICY_BYTES, shown
from resilience.errors import ConfigError, MissingExtraError
from resilience.policy._core import Policy
from resilience.policy._load import parse_policy_text, read_policy_file
from resilience.policy._sections import store_url
from resilience.policy._values import convert, number

logger = logging.getLogger("resilience.policy")

_RACY_SECONDS = 2.0
"""A file modified this recently is re-read even if its stat looks unchanged: a rewrite within
the file system's timestamp granularity can keep the same mtime and size."""


class PolicyWatcher:
    """Polls a policy file and calls ``on_change(new_policy)`` when its content changes.

    The file is loaded when the watcher is built (an invalid file raises ConfigError then, so a
    service fails at start rather than running without its policy); :attr:`policy` is the
    current one. Each poll stats the file and, when it changed (or was modified within the last
    two seconds), reads it and compares a SHA-256 of the content. New content is parsed and
    validated: when valid it becomes :attr:`policy` and ``on_change`` is called; when invalid or
    unreadable the error is logged once (logger ``resilience.policy``), kept in
    :attr:`last_error`, and the current policy stays.

    :meth:`check` polls once, synchronously; :meth:`start` polls every ``interval`` seconds in
    a daemon thread until :meth:`stop` (or use the watcher as a context manager). ``clock``
    stamps :attr:`last_reload_at`. ``on_change`` runs on the polling thread, one call at a
    time, in the order of the changes; an exception from it is logged. ``store``: the default
    store of rate limits that name none, over the file's ``default_store`` (see
    :meth:`Policy.from_env`; :meth:`from_env` builds a watcher from the environment).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        on_change: Callable[[Policy], None],
        *,
        interval: float = 1.0,
        clock: Clock = default_clock,
        store: str | None = None,
    ) -> None:
        self._interval = convert("interval", number(gt=0), interval)
        self._store = None if store is None else convert("store", store_url, store)
        self._path = Path(path)
        self._on_change = on_change
        self._clock = clock
        tree, raw = read_policy_file(self._path)
        self._policy = Policy.from_tree(tree, source=str(self._path), store=self._store)
        self._stat = self._stat_signature()
        self._digest = hashlib.sha256(raw).digest()
        self._rejected: bytes | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0
        """How many times a changed file was loaded and handed to ``on_change``."""
        self.last_reload_at: float | None = None
        """``clock()`` at the last reload, None before the first."""
        self.last_error: str | None = None
        """Why the latest content was rejected, None once a valid file is loaded."""

    @classmethod
    def from_env(
        cls,
        on_change: Callable[[Policy], None],
        *,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> PolicyWatcher:
        """A watcher of the file ``RESILIENCE_POLICY`` names, with ``RESILIENCE_STORE_URL`` as
        the default store (an explicit ``store`` in ``options`` wins); ConfigError naming the
        variable when it is unset. ``options``: the other keywords of the constructor."""
        path = env_value(POLICY_VAR, environ)
        if path is None:
            raise ConfigError(f"{POLICY_VAR}: not set; set it to the path of the policy file")
        if options.get("store") is None:
            store = env_value(STORE_VAR, environ)
            options["store"] = None if store is None else convert(STORE_VAR, store_url, store)
        return cls(path, on_change, **options)

    @property
    def policy(self) -> Policy:
        """The policy of the last valid content of the file."""
        return self._policy

    def check(self) -> Policy | None:
        """Poll the file once; return the new policy if a change was applied, else None."""
        with self._lock:
            policy = self._poll()
            if policy is None:
                return None
            try:
                self._on_change(policy)
            except Exception:
                logger.exception("policy change handler failed for %s", self._path)
            return policy

    def _poll(self) -> Policy | None:
        try:
            signature = self._stat_signature()
            if signature == self._stat and time.time() - signature[0] / 1e9 > _RACY_SECONDS:
                return None
            if signature[1] > MAX_POLICY_BYTES:
                self._stat = signature
                self._reject(
                    None, f"{self._path}: {signature[1]} bytes; at most {MAX_POLICY_BYTES}"
                )
                return None
            raw = self._path.read_bytes()
        except OSError as exc:
            self._reject(None, f"cannot read {self._path}: {exc}")
            return None
        self._stat = signature
        digest = hashlib.sha256(raw).digest()
        if digest == self._digest:  # back to the content in force (e.g. after a failed write)
            self.last_error = None
            return None
        if digest == self._rejected:
            return None
        try:
            text = raw.decode("utf-8")
            tree = parse_policy_text(text, self._path.suffix, source=str(self._path))
            policy = Policy.from_tree(tree, source=str(self._path), store=self._store)
        except (ConfigError, MissingExtraError, UnicodeDecodeError) as exc:
            self._reject(digest, str(exc))
            return None
        except Exception as exc:  # a library bug: the current policy stays, the error is shown
            logger.exception("loading %s failed unexpectedly", self._path)
            self._reject(digest, f"{self._path}: {type(exc).__name__}: {shown(exc)}")
            return None
        self._digest, self._rejected, self._policy = digest, None, policy
        self.reloads += 1
        self.last_reload_at = self._clock()
        self.last_error = None
        logger.info("policy reloaded from %s", self._path)
        return policy

    def _reject(self, digest: bytes | None, error: str) -> None:
        if error != self.last_error:
            logger.error("keeping the current policy: %s", error)
        self._rejected = digest
        self.last_error = error

    def _stat_signature(self) -> tuple[int, int, int]:
        stat = self._path.stat()
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def start(self) -> None:
        """Start polling every ``interval`` seconds in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("PolicyWatcher is already started")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="resilience-policy-watcher", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread to end (no-op when not started)."""
        thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.check()
            except Exception:  # a watcher must outlive any surprise
                logger.exception("policy watcher poll failed for %s", self._path)

    def __enter__(self) -> PolicyWatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PolicyWatcher({str(self._path)!r}, interval={self._interval!r})"
