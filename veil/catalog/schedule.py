"""Object sync inside ``veil serve``: each connection on its own ``sync.interval``.

The server syncs every connection when it starts (building the catalog); this task then syncs
each one again whenever its interval has passed since the last attempt, and meanwhile polls the
metadata store so that what ``veil sync`` or ``veil approve`` changed from another process is
served within about a second even when no statement arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

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
    while True:
        await asyncio.sleep(tick)
        try:
            await asyncio.to_thread(engine.refresh_catalog)
        except Exception:  # the server must keep serving the catalog it has
            log.exception("reloading the catalog from the metadata store failed")
        for name, connection in list(engine.config.connections.items()):
            if clock() - last.get(name, started) < connection.sync.interval:
                continue
            last[name] = clock()
            try:
                results = await asyncio.to_thread(engine.sync, [name], "interval")
            except Exception:  # one connection's sync never stops the others
                log.exception("object sync of connection %s failed", name)
                continue
            for result in results:
                if result.error is not None:
                    log.error("object sync of connection %s failed: %s", name, result.error.message)
