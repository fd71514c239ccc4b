"""The catalog of every query-backed table across all connections.

The served catalog comes from the metadata store (:mod:`veil.catalog.store`): building it syncs
the connections (a crawl compared with what the store remembers) and then loads the active tables
from the store. A connection whose crawl fails keeps the tables the store remembers for it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from veil import errcodes
from veil.catalog.assemble import (
    CatalogEntry,
    connection_identities,
    fingerprint,
    load_catalog,
)
from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.sources.base import Source
from veil.catalog.sources.bounded import in_thread, when_late
from veil.catalog.sources.plugins import open_source
from veil.catalog.store import CatalogStore
from veil.catalog.sync import (
    Crawl,
    SyncResult,
    crawl_connection,
    failed_crawl,
    record_crawl,
    sync_timeout,
    timed_out,
)
from veil.config.models import VeilConfig
from veil.errors import VeilError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NameCollision:
    name: str
    kept: str
    skipped: str


@dataclass
class Catalog:
    """All tables Veil serves, plus the sources that hold them.

    ``entries`` lists every candidate table (served or not, with its status) for the admin
    views; ``store_version`` is the metadata store's version the catalog was loaded at (-1 for a
    catalog that does not come from a store)."""

    sources: dict[str, Source]
    snapshot: CatalogSnapshot
    collisions: list[NameCollision] = field(default_factory=list)
    errors: dict[str, VeilError] = field(default_factory=dict)
    entries: tuple[CatalogEntry, ...] = ()
    store_version: int = -1
    syncs: tuple[SyncResult, ...] = ()

    def source_for(self, table: Table) -> Source:
        return self.sources[table.connection]


def load_from_store(
    config: VeilConfig, store: CatalogStore, sources: dict[str, Source], version: int,
    errors: dict[str, VeilError] | None = None, syncs: tuple[SyncResult, ...] = (),
) -> Catalog:
    """The catalog as the store holds it now (no crawling). ``errors`` are carried over for
    connections the store does not know; known ones report their last sync's error."""
    state = store.state(connection_identities(config))
    loaded = load_catalog(config, state, version)
    errors = dict(errors or {})
    for connection in state.connections:
        if connection.last_error is None:
            errors.pop(connection.name, None)
        elif connection.name not in errors:
            errors[connection.name] = errcodes.ConnectionFailure(connection.last_error)
    collisions = [
        NameCollision(e.table.qualified_name, e.collision, e.stored.source_key)
        for e in loaded.entries if e.collision is not None
    ]
    return Catalog(sources, loaded.snapshot, collisions, errors, loaded.entries, loaded.store_version, syncs)


def build_catalog(
    config: VeilConfig, version: int = 1, *, sync: Collection[str] | None = None, trigger: str = "startup",
    reuse: Mapping[str, Source] | None = None,
) -> Catalog:
    """Open every connection, sync them (``sync``: only these; default all), then load the
    catalog from the store. One failing source never hides the others.

    Connections are opened and crawled in parallel, each on a thread of its own bounded by its
    :func:`~veil.catalog.sync.sync_timeout`: a source that does not answer is reported as a
    connection error and keeps its last known tables, without delaying the others. ``reuse``
    holds sources already open for the same settings (a reload): they are not opened again."""
    reuse = reuse or {}
    with CatalogStore.open(Path(config.state_dir)) as store:
        skip = {name for name in config.connections if sync is not None and name not in sync and _known(store, config, name)}
    pending = {
        name: in_thread(partial(_open_and_crawl, config, name, reuse.get(name), name not in skip), f"open-{name}")
        for name in config.connections
    }
    started = time.monotonic()
    sources: dict[str, Source] = {}
    errors: dict[str, VeilError] = {}
    crawls: dict[str, Crawl] = {}
    for name, future in pending.items():
        timeout = sync_timeout(config, name)
        try:
            source, crawl = future.result(max(0.0, started + timeout - time.monotonic()))
        except concurrent.futures.TimeoutError:
            when_late(future, partial(_close_late, reuse.get(name)))
            if name in reuse:
                sources[name] = reuse[name]
            crawls[name] = failed_crawl(timed_out(name, timeout))
            continue
        except VeilError as exc:
            log.error("connection %s: %s", name, exc.message)
            errors[name] = exc
            continue
        sources[name] = source
        if crawl is not None:
            crawls[name] = crawl
    results = []
    with CatalogStore.open(Path(config.state_dir)) as store:
        for name, crawl in crawls.items():
            result = record_crawl(store, config, name, crawl, trigger)
            results.append(result)
            if result.error is not None:
                log.error("connection %s: %s", name, result.error.message)
                errors[name] = result.error
        catalog = load_from_store(config, store, sources, version, errors, tuple(results))
    for collision in catalog.collisions:
        log.warning("name collision on %s: kept %s, skipped %s", collision.name, collision.kept, collision.skipped)
    return catalog


def _open_and_crawl(config: VeilConfig, name: str, source: Source | None, crawl: bool) -> tuple[Source, Crawl | None]:
    if source is None:
        source = open_source(name, config.connections[name])
    return source, crawl_connection(config, name, source) if crawl else None


def _close_late(reused: Source | None, opened: tuple[Source, Crawl | None]) -> None:
    """A source opened by a step that was given up on is closed once the step ends."""
    if opened[0] is not reused:
        opened[0].close()


def _known(store: CatalogStore, config: VeilConfig, name: str) -> bool:
    return store.connection(name, fingerprint(config.connections[name])) is not None
