"""Blocking source calls on worker threads, awaited without blocking the event loop.

``asyncio.to_thread`` chains a ``concurrent.futures.Future`` to an asyncio future, copies the
context and asks ``inspect`` whether the callable is a coroutine function on every call: about a
tenth of a point query's own time in Veil. :func:`in_worker` hands the call to a pool through a
``SimpleQueue`` and resolves one asyncio future with one ``call_soon_threadsafe``.

The pool grows on demand up to :data:`MAX_WORKERS` threads, so that many statements can wait on
their sources at once (asyncio's default executor stops at CPU count + 4, which queued the
sixth concurrent long query behind the others).

Fairness: a statement on a source first takes one of that source's slots (:func:`source_slot`,
``connections.<name>.max_concurrency``); statements beyond it wait in the source's own queue in
the event loop, holding no thread, so one slow or locked source cannot take every worker and
statements on other sources and the catalog engine keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from veil.sql.limits import OFFLOAD_BYTES

T = TypeVar("T")

MAX_WORKERS = 64
#: ``max_concurrency`` of a connection that does not set it.
DEFAULT_SOURCE_CONCURRENCY = 16

Job = Callable[[], None]


class WorkerPool:
    """Daemon threads taking jobs from one queue; a new thread starts only when none is idle."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._max_workers = max_workers

    def submit(self, job: Job) -> None:
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            if self._threads < self._max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"veil-worker-{self._threads}", daemon=True).start()

    def _work(self) -> None:
        while True:
            self._jobs.get()()
            self._idle.release()


_POOL = WorkerPool()


async def in_worker(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on a worker thread; its result or exception, in the event loop."""
    return await start_in_worker(function, *args)


def start_in_worker(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Start ``function(*args)`` on a worker thread now; the future resolves when it returns.

    Cancelling the future does not stop the call: a caller that must not touch what the call
    uses until it is over (a cursor being read) awaits it through :func:`asyncio.shield`."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def job() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the awaiting task
            _deliver(loop, future, None, exc)
        else:
            _deliver(loop, future, result, None)

    _POOL.submit(job)
    return future


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    # the loop closed while the call ran (server shutdown): nobody waits
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_resolve, future, result, error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SourceSlots:
    """Per source, an :class:`asyncio.Semaphore` of ``limit`` slots (rebuilt when it changes)."""

    def __init__(self) -> None:
        self._slots: dict[str, tuple[int, asyncio.Semaphore]] = {}

    def semaphore(self, source: str, limit: int) -> asyncio.Semaphore:
        known = self._slots.get(source)
        if known is None or known[0] != limit:
            # A changed limit applies to statements that start from now on.
            known = (limit, asyncio.Semaphore(limit))
            self._slots[source] = known
        return known[1]


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SourceSlots] = weakref.WeakKeyDictionary()


def source_semaphore(source: str, limit: int = DEFAULT_SOURCE_CONCURRENCY) -> asyncio.Semaphore:
    """The running loop's semaphore of ``limit`` slots for ``source``."""
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = _SLOTS[loop] = SourceSlots()
    return slots.semaphore(source, limit)


@asynccontextmanager
async def source_slot(source: str, limit: int = DEFAULT_SOURCE_CONCURRENCY) -> AsyncIterator[None]:
    """Hold one of ``source``'s ``limit`` slots for the block; wait (without a thread) if none is free."""
    async with source_semaphore(source, limit):
        yield


async def offloaded(sql: str, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` for a statement ``sql``: on a worker thread when the statement is big
    enough to stall the event loop (parsing, analysis, planning), inline otherwise."""
    if len(sql) > OFFLOAD_BYTES:
        return await in_worker(function, *args)
    return function(*args)
