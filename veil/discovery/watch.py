"""How a running engine notices tags written by another process (``veil discover``, ``veil tags``).

The engine asks :meth:`TagWatcher.poll` before planning; at most once per ``interval`` it reads
the store's modification counter (one tiny SQLite query) and reloads the discovered tags only
when the counter moved. A missing store is simply "no discovered tags": the engine never creates
one.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from veil.state.pollgate import PollGate
from veil.state.tagstore import DiscoveredTags, read_discovered, read_version

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0


class TagWatcher:
    def __init__(self, path: Path, interval: float = POLL_INTERVAL) -> None:
        self.path = Path(path)
        self.current = DiscoveredTags()
        self._version: int | None = None
        self.gate = PollGate(interval)

    def poll(self, force: bool = False) -> bool:
        """Reload the discovered tags if the store changed; True when they did."""
        if not self.gate.enter(force):
            return False
        try:
            version = read_version(self.path)
            if version == self._version:
                return False
            tags = read_discovered(self.path) if version is not None else None
            fresh = tags or DiscoveredTags()
            changed = (fresh.by_table, fresh.tables) != (self.current.by_table, self.current.tables)
            self.current = fresh
            self._version = version
            return changed
        except sqlite3.Error as exc:
            log.warning("tag store %s unreadable, keeping the previous discovered tags: %s", self.path, exc)
            return False
        finally:
            self.gate.leave()
