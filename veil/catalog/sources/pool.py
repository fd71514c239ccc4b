"""Idle connections of one remote source (PostgreSQL, Snowflake, Databricks), reused across queries.

Opening a connection costs far more than a point query: about 100 ms for ADBC's PostgreSQL driver
(TCP, authentication, the driver's own catalog queries), a login round trip for Snowflake, a
session for Databricks. A connection goes back to the pool only in a known-clean state: its
result read to the end, no error, not interrupted. Connections idle longer than ``idle_seconds``
are closed instead of reused, and a statement that fails on a reused connection because the
server dropped it (restart, expired session) runs once more on a fresh one (:class:`PooledCursor`).
A pool given a ``reset`` runs it on an idle connection before handing it out again (PostgreSQL:
``DISCARD ALL``), so nothing one query set in the session (settings, prepared statements,
temporary tables, advisory locks) reaches the next query; a connection whose reset fails is
closed and a fresh one opened. The reset runs in ``acquire`` (the query's worker thread), never
in ``release``, which a result stream calls on the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from veil.errors import VeilError

log = logging.getLogger(__name__)


class ConnectionPool:
    def __init__(
        self,
        connect: Callable[[], Any],
        max_idle: int = 8,
        idle_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        reset: Callable[[Any], None] | None = None,
    ) -> None:
        self._connect = connect
        self._reset = reset
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._idle: list[tuple[Any, float]] = []  # (connection, idle since), most recent last
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> tuple[Any, bool]:
        """A connection, and whether it was reused (a reused one may have gone stale)."""
        stale = []
        found = None
        with self._lock:
            now = self._clock()
            while self._idle:
                connection, since = self._idle.pop()
                if now - since <= self._idle_seconds:
                    found = connection
                    break
                stale.append(connection)
        for connection in stale:
            _close_quietly(connection)
        if found is not None:
            if self._reset is None or self._reset_quietly(self._reset, found):
                return found, True
            _close_quietly(found)
        return self._connect(), False

    def fresh(self) -> Any:
        return self._connect()

    def release(self, connection: Any, reusable: bool) -> None:
        if reusable:
            with self._lock:
                if not self._closed and len(self._idle) < self._max_idle:
                    self._idle.append((connection, self._clock()))
                    return
        _close_quietly(connection)

    def _reset_quietly(self, reset: Callable[[Any], None], connection: Any) -> bool:
        """Whether ``connection`` was reset (a failed reset means it must not be reused)."""
        try:
            reset(connection)
        except Exception as exc:  # noqa: BLE001 - any driver error means: do not reuse it
            log.debug("resetting a pooled connection failed: %s", exc)
            return False
        return True

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception as exc:  # noqa: BLE001 - closing is best effort, whatever the driver raises
        log.debug("closing a pooled connection failed: %s", exc)


class ExhaustibleReader(Protocol):
    #: Read to its end: the connection holds no open result and may serve another query.
    exhausted: bool


Reader = TypeVar("Reader", bound=ExhaustibleReader)


class PooledCursor(ABC, Generic[Reader]):
    """One statement on a pooled connection; subclasses open the driver's cursor and run it.

    ``_lock`` guards the connection and cursor against ``interrupt`` from another thread. The
    connection goes back to the pool on ``close`` only if the result was read to its end with no
    error or interruption and the driver's cursor closed cleanly (``CLOSE_ERRORS`` are the
    driver's exceptions that mean it did not)."""

    CLOSE_ERRORS: tuple[type[BaseException], ...] = ()

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._connection, self._reused = pool.acquire()
        self._cursor = self._opened(self._connection)
        self._reader: Reader | None = None
        self._clean = True
        self._interrupted = False

    @abstractmethod
    def _open_cursor(self, connection: Any) -> Any: ...

    def _opened(self, connection: Any) -> Any:
        """The driver's cursor on ``connection``; the connection is closed (never left to the
        driver's ``__del__``) if that fails."""
        try:
            return self._open_cursor(connection)
        except BaseException:
            self._pool.release(connection, reusable=False)
            raise

    @abstractmethod
    def _run(self, sql: str, params: Sequence[object]) -> Reader:
        """Run ``sql`` on ``self._cursor``; driver errors become :class:`VeilError`."""

    def _broken(self, error: VeilError) -> bool:
        """Whether ``error`` says the server dropped the connection (retry on a fresh one)."""
        return error.sqlstate.startswith("08")

    def execute(self, sql: str, params: Sequence[object] = ()) -> Reader:
        try:
            self._reader = self._run(sql, params)
            return self._reader
        except VeilError as error:
            if not (self._reused and self._broken(error)) or self._interrupted:
                self._clean = False
                raise
        with self._lock:
            _close_quietly(self._cursor)
            self._pool.release(self._connection, reusable=False)
            self._connection = None  # until the fresh one is open: close() has nothing to return
            self._clean = False
            connection = self._pool.fresh()
            self._cursor = self._opened(connection)
            self._connection, self._reused, self._clean = connection, False, True
        try:
            self._reader = self._run(sql, params)
            return self._reader
        except VeilError:
            self._clean = False
            raise

    def close(self) -> None:
        with self._lock:
            reusable = self._clean and (self._reader is None or self._reader.exhausted)
            connection, self._connection = self._connection, None
            if connection is None:
                return  # closed already, or its retry found no fresh connection
            try:
                self._cursor.close()
            except self.CLOSE_ERRORS:
                reusable = False
        self._pool.release(connection, reusable)
