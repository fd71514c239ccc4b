"""Idle ADBC connections of one PostgreSQL source, reused across queries.

Opening an ADBC PostgreSQL connection costs about 100 ms (TCP, authentication, and the driver's
own queries over ``pg_type`` and ``pg_attribute``), far more than a point query or a pushed-down
aggregate. A connection goes back to the pool only in a known-clean state: its result read to the
end, no error, not interrupted. Connections idle longer than ``idle_seconds`` are closed instead
of reused, and a reused connection that turns out to be broken (server restarted) is replaced
once by a fresh one (see :class:`veil.catalog.sources.postgres.PostgresCursor`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import adbc_driver_manager


class ConnectionPool:
    def __init__(
        self,
        connect: Callable[[], Any],
        max_idle: int = 8,
        idle_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
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
            return found, True
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
    except adbc_driver_manager.Error:
        pass
