"""Statement timeouts for source statements, kept even when a source stops answering.

A source's own timeout (PostgreSQL's ``statement_timeout``, a driver's socket timeout) ends most
long statements, but not one whose server or network has gone silent: the worker thread reading
it stays blocked in the driver. So the session waits for each source call (the start and every
batch) only until the connection's ``statement_timeout`` from the statement's start: then the
cursor is interrupted, the client gets 57014, and the cursor is closed whenever the blocked call
returns, without anyone waiting for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from veil.catalog.sources.base import Source, SourceCursor, session_cursor
from veil.errors import StatementTimeout

T = TypeVar("T")

DEFAULT_STATEMENT_TIMEOUT = 300.0


@dataclass
class Deadline:
    """When one statement on ``connection`` must be done (event loop time)."""

    connection: str
    seconds: float
    at: float
    expired: bool = False

    @classmethod
    def start(cls, connection: str, seconds: float) -> Deadline:
        return cls(connection, seconds, asyncio.get_running_loop().time() + seconds)

    @classmethod
    def for_source(cls, source: Source) -> Deadline:
        config = getattr(source, "config", None)
        return cls.start(source.name, float(getattr(config, "statement_timeout", DEFAULT_STATEMENT_TIMEOUT)))

    def error(self) -> StatementTimeout:
        return StatementTimeout(self.connection, self.seconds)

    async def wait(self, future: asyncio.Future[T], on_timeout: Callable[[], None]) -> T:
        """``future``'s outcome, or :class:`StatementTimeout` once the deadline passes (after
        ``on_timeout``; ``future`` itself is left running)."""
        if future.done():
            return future.result()
        # One waiter woken by whichever comes first, the call's end or a timer at the deadline:
        # ``wait_for(shield(...))`` made two more futures and a task per call, about 80 µs of a
        # point query. Cancelling the waiting task cancels the waiter only, never ``future``.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        future.add_done_callback(wake)
        timer = loop.call_at(self.at, wake)
        try:
            await waiter
        finally:
            timer.cancel()
            future.remove_done_callback(wake)
        if future.done():
            return future.result()
        self.expired = True
        on_timeout()  # must not block (callers pass an interrupt that runs on a thread of its own)
        raise self.error()


def after(future: asyncio.Future[Any], callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``future`` (an abandoned call) is done, its outcome discarded."""

    def done(finished: asyncio.Future[Any]) -> None:
        if not finished.cancelled():
            finished.exception()
        callback()

    future.add_done_callback(done)


class OpeningCursor:
    """A source cursor opened on the worker thread that runs its statement (opening one may wait
    for a connection), which a cancel or timeout can interrupt before or after it is open."""

    def __init__(self, source: Source, timezone: str = "UTC") -> None:
        self._source = source
        self._timezone = timezone  # the session's: a source that computes in a zone uses it
        self._lock = threading.Lock()
        self._cursor: SourceCursor | None = None
        self._interrupted = False

    def open(self) -> SourceCursor:
        cursor = session_cursor(self._source, self._timezone)
        with self._lock:
            self._cursor = cursor
            interrupted = self._interrupted
        if interrupted:
            cursor.interrupt()
        return cursor

    def interrupt(self) -> None:
        """Interrupt the statement. A driver's cancel may itself wait on the source (PostgreSQL's
        cancel request goes to the same host): callers on the event loop call this from a thread."""
        with self._lock:
            self._interrupted = True
            cursor = self._cursor
        if cursor is not None:
            cursor.interrupt()

    def interrupt_off_loop(self) -> None:
        threading.Thread(target=self.interrupt, name="veil-interrupt", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            cursor, self._cursor = self._cursor, None
        if cursor is not None:
            cursor.close()
