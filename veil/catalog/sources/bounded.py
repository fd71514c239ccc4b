"""Calls that may block on a source without a bound of their own (a crawl over a connection that
went silent, a driver's connect that has no timeout), made on a thread of their own and waited
for only so long. The thread itself cannot be stopped: it ends when the driver gives up, and
what it returns then (an open connection, a source) is handed to ``late`` to be closed."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def in_thread(call: Callable[[], T], name: str) -> concurrent.futures.Future[T]:
    """Start ``call`` on a daemon thread of its own; its outcome is the future's."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(exc)

    threading.Thread(target=run, name=f"veil-{name}", daemon=True).start()
    return future


def when_late(future: concurrent.futures.Future[T], late: Callable[[T], None]) -> None:
    """Once an abandoned call ends, pass what it returned to ``late`` (its error is dropped)."""

    def done(finished: concurrent.futures.Future[T]) -> None:
        if finished.cancelled() or finished.exception() is not None:
            return
        try:
            late(finished.result())
        except Exception:  # nobody waits for it any more
            log.warning("closing what a late call returned failed", exc_info=True)

    future.add_done_callback(done)


def call_within(call: Callable[[], T], seconds: float, name: str, late: Callable[[T], None] | None = None) -> T:
    """``call()``'s outcome if it ends within ``seconds``, else :class:`TimeoutError`."""
    future = in_thread(call, name)
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        if late is not None:
            when_late(future, late)
        raise TimeoutError(f"{name} did not finish within {seconds:g} s") from None


def close_late(connection: Any) -> None:
    """``late`` for a driver's connect: the connection nobody waits for any more is closed."""
    connection.close()
