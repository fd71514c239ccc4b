"""Object sync inside ``veil serve``: each connection on its own ``sync.interval``.

The server syncs every connection when it starts (building the catalog); this task then syncs
each one again whenever its interval has passed since the last attempt, and meanwhile polls the
metadata store so that what ``veil sync`` or ``veil approve`` changed from another process is
served within about a second even when no statement arrives.

Each connection's sync runs on a thread of its own, independently of the others and of the
store polling: a source that stops answering delays nothing but its own sync, which gives up
after the connection's ``connect_timeout + statement_timeout`` (``veil.catalog.sync.
bounded_crawl``: the tables keep their last known state, and the source is not crawled again
while the call given up on is still blocked in its driver).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from veil.catalog.sources.bounded import in_thread
from veil.catalog.sync import SyncResult
from veil.config.models import VeilConfig

log = logging.getLogger(__name__)


class SyncingEngine(Protocol):
    config: VeilConfig

    def sync(self, names: Sequence[str] | None = None, trigger: str = "sql") -> list[SyncResult]: ...

    def refresh_catalog(self, force: bool = False) -> None: ...


async def sync_on_interval(
    engine: SyncingEngine, tick: float = 1.0, clock: Callable[[], float] = time.monotonic
) -> None:
    """Run forever (cancel to stop). A failing sync is logged and retried after its interval."""
    started = clock()
    last: dict[str, float] = {}
    running: dict[str, asyncio.Task[None]] = {}
    refreshing: asyncio.Task[None] | None = None
    try:
        while True:
            await asyncio.sleep(tick)
            if refreshing is None or refreshing.done():
                refreshing = asyncio.create_task(_refresh(engine))
            for name, connection in list(engine.config.connections.items()):
                busy = running.get(name)
                if busy is not None and not busy.done():
                    continue
                if clock() - last.get(name, started) < connection.sync.interval:
                    continue
                last[name] = clock()
                running[name] = asyncio.create_task(_sync(engine, name))
    finally:
        for task in [*running.values(), refreshing]:
            if task is not None:
                task.cancel()


async def _refresh(engine: SyncingEngine) -> None:
    future = asyncio.wrap_future(in_thread(engine.refresh_catalog, "catalog-refresh"))
    try:
        await future
    except Exception:  # the server must keep serving the catalog it has
        log.exception("reloading the catalog from the metadata store failed")


async def _sync(engine: SyncingEngine, name: str) -> None:
    try:
        results = await asyncio.wrap_future(in_thread(lambda: engine.sync([name], "interval"), f"sync-{name}"))
    except Exception:  # one connection's sync never stops the others
        log.exception("object sync of connection %s failed", name)
        return
    for result in results:
        if result.error is not None:
            log.error("object sync of connection %s failed: %s", name, result.error.message)
