"""Sync call objects that can switch from the local attempt to the remote one.

:class:`ResponseStream` (unary-stream, stream-stream) fails over only while no response
message has arrived and hands the remote attempt's outcome to ``finish`` exactly once; the
``future()`` twin is :mod:`resilience.failover._future`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

_log = logging.getLogger("resilience.failover")

if TYPE_CHECKING:
    _CallFuture = grpc._CallFuture[Any]
else:

    class _CallFuture(grpc.Call, grpc.Future):
        """What ``future()`` returns: a Call and a Future (typed ``grpc._CallFuture``)."""


FailOver = Callable[[BaseException], Any]
"""Given the local error, start the remote attempt and return it, or None for no failover."""
Finish = Callable[[BaseException | None], None]
"""Record the remote attempt's outcome (None = success)."""


class ResponseStream(_CallFuture):
    """Iterates the local responses; an error before the first message fails over once.

    Like gRPC's own response iterator it is also a Call and a Future: done callbacks run once,
    when the attempt that gives the caller its outcome has ended (a local attempt that may
    still fail over defers them to the iteration that decides).
    """

    def __init__(
        self,
        call: Any,
        fail_over: FailOver,
        finish: Finish,
        release: Callable[[], None],
        worthy: Callable[[Any], bool],
    ) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Any], None]] | None = []  # None once they have run
        self._call = call
        self._fail_over: FailOver | None = fail_over
        self._finish: Finish | None = None
        self._finish_remote = finish
        self._release = release
        self._worthy = worthy
        self._cancelled = False
        self._switch = threading.Condition()  # cancel() waits out a switch to the remote
        self._switching = False
        self._watch(call)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            message = next(self._call)
        except StopIteration:
            self._settle(None)
            self._run_callbacks()
            raise
        except grpc.RpcError as error:
            remote = self._start_remote(error)
            if remote is None:
                self._settle(error)
                self._run_callbacks()
                raise
            self._watch(remote)
            return self.__next__()
        if self._fail_over is not None or self._finish is not None:
            self._settle(None)  # the first message commits the call to this attempt
        return message

    def _start_remote(self, error: BaseException) -> Any:
        """The remote attempt if the local ``error`` fails over, else None; a concurrent
        ``cancel()`` waits until it is known which attempt it must cancel."""
        with self._switch:
            fail_over, self._fail_over = self._fail_over, None
            self._switching = fail_over is not None
        remote = None
        try:
            remote = fail_over(error) if fail_over is not None else None
        finally:
            with self._switch:
                if remote is not None:
                    self._call, self._finish = remote, self._finish_remote
                self._switching = False
                self._switch.notify_all()
        return remote

    def _settle(self, error: BaseException | None) -> None:
        finish, self._finish, self._fail_over = self._finish, None, None
        if finish is not None:
            finish(error)
        self._release()

    def _watch(self, call: Any) -> None:
        add_done_callback = getattr(call, "add_done_callback", None)
        if callable(add_done_callback):
            add_done_callback(self._attempt_done)

    def _attempt_done(self, call: Any) -> None:
        if call is not self._call:
            return  # an abandoned local attempt
        if self._fail_over is not None and self._worthy(call):
            return  # it may still fail over: the next iteration decides
        self._run_callbacks()

    def _run_callbacks(self) -> None:
        with self._lock:
            callbacks, self._callbacks = self._callbacks, None
        for callback in callbacks or ():
            _run(callback, self)

    # -- grpc.Future -----------------------------------------------------------------------

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(fn)
                return
        _run(fn, self)

    def done(self) -> bool:
        return self._cancelled or self._callbacks is None

    def running(self) -> bool:
        return not self.done()

    def cancelled(self) -> bool:
        return self._cancelled or bool(self._call.cancelled())

    def result(self, timeout: float | None = None) -> Any:
        return self._call.result(timeout)

    def exception(self, timeout: float | None = None) -> Exception | None:
        error: Exception | None = self._call.exception(timeout)
        return error

    def traceback(self, timeout: float | None = None) -> Any:
        return self._call.traceback(timeout)

    # -- grpc.Call -------------------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the attempt in flight; once True, the call is cancelled and done at once
        (its done callbacks run when gRPC reports the attempt's end)."""
        with self._switch:
            self._fail_over = None
            self._switch.wait_for(lambda: not self._switching)
            call = self._call
        if not call.cancel():
            return False
        self._cancelled = True
        return True

    def is_active(self) -> bool:
        return bool(self._call.is_active())

    def time_remaining(self) -> float | None:  # type: ignore[override]  # gRPC's stubs say float; its calls give None
        """Seconds left before the deadline of the answering attempt; None without one."""
        remaining: float | None = self._call.time_remaining()
        return remaining

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return bool(self._call.add_callback(callback))

    def initial_metadata(self) -> Any:
        return self._call.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._call.trailing_metadata()

    def code(self) -> grpc.StatusCode:
        code: grpc.StatusCode = self._call.code()
        return code

    def details(self) -> str:
        return str(self._call.details())


def _run(callback: Callable[..., Any], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:
        _log.exception("a call callback raised")
