"""How a running engine notices what another process (or a background sync) wrote to the store.

``veil sync`` and ``veil approve`` run as separate processes; a server learns about their work by
reading the store's version, at most once per ``interval``. When it moved, the catalog is
loaded again from the store (a new snapshot version, same sources) together with the source
keys of the tables that changed at their source, whose cached results must go.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from veil.catalog.registry import Catalog, load_from_store
from veil.catalog.store import CatalogStore, read_version, store_path
from veil.config.models import VeilConfig
from veil.state.pollgate import PollGate

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class Refreshed:
    catalog: Catalog
    changed_tables: frozenset[str]  # connection.schema.table of tables changed at their source


class CatalogWatcher:
    def __init__(self, interval: float = POLL_INTERVAL) -> None:
        self.gate = PollGate(interval)

    def poll(self, config: VeilConfig, catalog: Catalog, force: bool = False) -> Refreshed | None:
        """A reloaded catalog if the store moved past ``catalog.store_version``, else None."""
        if catalog.store_version < 0:
            return None
        if not self.gate.enter(force):
            return None
        try:
            path = store_path(Path(config.state_dir))
            version = read_version(path)
            if version is None or version == catalog.store_version:
                return None
            with CatalogStore(path) as store:
                reloaded = load_from_store(
                    config, store, catalog.sources, catalog.snapshot.version + 1, catalog.errors, catalog.syncs
                )
                changed = frozenset(store.changed_tables(catalog.store_version))
            log.info(
                "catalog reloaded from the metadata store (version %s): %d tables, %d changed",
                reloaded.store_version, len(reloaded.snapshot), len(changed),
            )
            return Refreshed(reloaded, changed)
        except sqlite3.Error as exc:
            log.warning("metadata store %s unreadable, keeping the current catalog: %s", config.state_dir, exc)
            return None
        finally:
            self.gate.leave()
