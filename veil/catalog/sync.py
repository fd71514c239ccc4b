"""Object sync (schema monitoring): crawl a source, compare with the store, record what changed.

One sync of one connection detects new, dropped and recreated tables (a changed object id, where
the source has stable ids), new schemas, new and dropped columns and type changes. Columns that
appear on a table Veil already knew are flagged ``New``; the built-in "New Column Added" policy
returns NULL for them until an admin approves them (``veil approve``). A crawl that fails is
recorded with its error and changes nothing: the connection's tables keep their last state, and
other connections are synced as usual.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from veil import errcodes
from veil.catalog.assemble import (
    assemble,
    connection_identities,
    fingerprint,
    in_population,
)
from veil.catalog.sources.base import Source, SourceTable, source_tags
from veil.catalog.sources.bounded import in_thread
from veil.catalog.store import (
    CatalogStore,
    Status,
    StoredColumn,
    StoredTable,
    SyncChange,
    now,
)
from veil.config.models import VeilConfig
from veil.errors import VeilError
from veil.state.tagstore import TABLE_TAG_COLUMN, TagStore

log = logging.getLogger(__name__)

# Change kinds, as `veil sync`, `veil.sync(...)` and the history report them.
SCHEMA_ADDED = "schema_added"
SCHEMA_DROPPED = "schema_dropped"
TABLE_ADDED = "table_added"
TABLE_DROPPED = "table_dropped"
TABLE_RECREATED = "table_recreated"
COLUMN_ADDED = "column_added"
COLUMN_DROPPED = "column_dropped"
COLUMN_TYPE_CHANGED = "column_type_changed"
TABLE_KEYS_CHANGED = "table_keys_changed"
NAME_COLLISION = "name_collision"
NAME_COLLISION_RESOLVED = "name_collision_resolved"
SOURCE_TAGS_CHANGED = "source_tags_changed"
SYNC_FAILED = "sync_failed"


@dataclass(frozen=True)
class SyncResult:
    connection: str
    changes: tuple[SyncChange, ...] = ()
    error: VeilError | None = None
    tables: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SyncDelta:
    """What one crawl changes in the store (computed without touching it)."""

    saves: list[tuple[StoredTable, bool]]  # (table to write, changed at the source)
    unchanged: list[int]
    dropped: list[StoredTable]
    changes: list[SyncChange]


def _stored_columns(
    key: str, table: SourceTable, previous: StoredTable | None
) -> tuple[tuple[StoredColumn, ...], list[SyncChange]]:
    """The table's columns with their New flags, and the column changes since ``previous``."""
    columns = []
    changes = []
    for column in table.columns:
        before = previous.column(column.name) if previous is not None else None
        stored = StoredColumn.of(column)
        if previous is not None and before is None:
            stored = replace(stored, is_new=True)
            changes.append(SyncChange(COLUMN_ADDED, f"{key}.{column.name}",
                                      f"{stored.type_name}; tagged New (NULL for everyone until `veil approve`)"))
        elif before is not None:
            stored = replace(stored, is_new=before.is_new, first_seen=before.first_seen)
            if (before.arrow_type, before.declared_name) != (column.arrow_type, stored.declared_name):
                changes.append(SyncChange(COLUMN_TYPE_CHANGED, f"{key}.{column.name}",
                                          f"{before.declared_name} -> {stored.declared_name}"))
        columns.append(stored)
    if previous is not None:
        names = {c.name for c in table.columns}
        changes += [
            SyncChange(COLUMN_DROPPED, f"{key}.{c.name}", f"was {c.type_name}")
            for c in previous.columns if c.name not in names
        ]
    return tuple(columns), changes


def _key_changes(key: str, previous: StoredTable, table: SourceTable) -> list[SyncChange]:
    """A primary key, unique constraint or foreign key added, dropped or redefined at the source."""
    before = {k.name: k for k in previous.keys}
    after = {k.name: k for k in table.keys}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            detail = f"added {new.describe()}" if new is not None else ""
        elif new is None:
            detail = f"dropped {old.describe()}"
        else:
            detail = f"{old.describe()} -> {new.describe()}"
        changes.append(SyncChange(TABLE_KEYS_CHANGED, key, detail))
    return changes


def table_key(table: SourceTable, connection: str) -> str:
    return f"{connection}.{table.schema}.{table.name}"


def compare(
    connection: str,
    stored: Sequence[StoredTable],
    crawled: Sequence[SourceTable],
    *,
    new_status: Status,
    initial: bool,
    outside_population: frozenset[tuple[str, str]] = frozenset(),
) -> SyncDelta:
    """Compare a crawl (already limited to the population) with the stored tables of the same
    connection (present and dropped ones)."""
    by_key = {(t.schema, t.name): t for t in stored}
    delta = SyncDelta([], [], [], [])
    present_schemas = {t.schema for t in stored if t.present}
    if not initial:
        for schema in sorted({t.schema for t in crawled} - present_schemas):
            delta.changes.append(SyncChange(SCHEMA_ADDED, f"{connection}.{schema}", "new schema"))
    for table in crawled:
        key = table_key(table, connection)
        previous = by_key.get((table.schema, table.name))
        if previous is None or not previous.present:
            columns, _ = _stored_columns(key, table, None)
            saved = StoredTable(
                connection, table.database, table.schema, table.name, columns, new_status,
                id=previous.id if previous is not None else None, object_id=table.object_id, created=table.created,
                description=table.description, keys=table.keys,
            )
            delta.saves.append((saved, True))
            status = new_status if initial or new_status == "active" else "inactive (sync.activate_new is false)"
            delta.changes.append(SyncChange(TABLE_ADDED, key, f"{len(columns)} column{'s' if len(columns) != 1 else ''}, {status}"))
            continue
        changes: list[SyncChange] = []
        recreated = previous.object_id is not None and table.object_id is not None and previous.object_id != table.object_id
        if recreated:
            changes.append(SyncChange(TABLE_RECREATED, key, f"object id {previous.object_id} -> {table.object_id}"))
        columns, column_changes = _stored_columns(key, table, previous)
        changes += column_changes
        changes += _key_changes(key, previous, table)
        reshaped = [c.shape for c in columns] != [c.shape for c in previous.columns] or (
            (previous.description, previous.keys) != (table.description, table.keys)
        )
        if recreated or reshaped or previous.database != table.database:
            saved = replace(previous, database=table.database, columns=columns, object_id=table.object_id,
                            created=table.created, description=table.description, keys=table.keys)
            delta.saves.append((saved, True))
        else:
            assert previous.id is not None
            delta.unchanged.append(previous.id)
        delta.changes += changes
    crawled_keys = {(t.schema, t.name) for t in crawled}
    for previous in stored:
        if previous.present and (previous.schema, previous.name) not in crawled_keys:
            where = (
                "left the connection's population"
                if (previous.schema, previous.name) in outside_population
                else "dropped at the source"
            )
            delta.dropped.append(previous)
            delta.changes.append(SyncChange(TABLE_DROPPED, previous.source_key, where))
    if not initial:
        for schema in sorted(present_schemas - {t.schema for t in crawled}):
            delta.changes.append(SyncChange(SCHEMA_DROPPED, f"{connection}.{schema}", "no tables left"))
    return delta


def _record_collisions(store: CatalogStore, config: VeilConfig) -> list[SyncChange]:
    """Re-derive which tables lose their Veil name to an older table; report what moved."""
    known = [c for name, fp in connection_identities(config) if (c := store.connection(name, fp)) is not None]
    changes = []
    for entry in assemble(config, store.tables(known)):
        stored = entry.stored
        if entry.collision == stored.collision:
            continue
        assert stored.id is not None
        store.set_collision(stored.id, entry.collision)
        name = entry.table.qualified_name
        if entry.collision is not None:
            changes.append(SyncChange(NAME_COLLISION, stored.source_key,
                                      f"{name} is already served from {entry.collision}; this table is skipped"))
        else:
            changes.append(SyncChange(NAME_COLLISION_RESOLVED, stored.source_key, f"now served as {name}"))
    return changes


def _crawl(name: str, source: Source) -> tuple[list[SourceTable], VeilError | None]:
    try:
        return source.list_tables(), None
    except VeilError as exc:
        return [], exc
    except Exception as exc:
        log.exception("connection %s: crawl failed", name)
        return [], errcodes.ConnectionFailure(f'connection "{name}": {type(exc).__name__}: {exc}')


def _record_source_tags(config: VeilConfig, name: str, source: Source, found: Sequence[SourceTable]) -> list[SyncChange]:
    """Copy the column and table tags the source system keeps (Snowflake's object tags) into the
    tag store with origin ``source``; the engine applies column tags like discovered tags and
    table tags like the config's ``table_tags``. Tags that cannot be read keep their last copy,
    so a policy on them never silently stops applying."""
    try:
        tags = source_tags(source)
    except Exception as exc:  # noqa: BLE001 - any failure keeps the last copy
        message = exc.message if isinstance(exc, VeilError) else f"{type(exc).__name__}: {exc}"
        log.warning("connection %s: cannot read the source's tags, keeping the last ones: %s", name, message)
        return []
    if tags is None:
        return []
    present = {(t.schema, t.name) for t in found}
    by_table: dict[str, dict[str, list[str]]] = {}
    for tag in tags:
        if (tag.schema, tag.table) in present:
            column = TABLE_TAG_COLUMN if tag.column is None else tag.column
            by_table.setdefault(f"{name}.{tag.schema}.{tag.table}", {}).setdefault(column, []).append(tag.tag)
    with TagStore.open(Path(config.state_dir)) as tag_store:
        if not tag_store.replace_source_tags(name, by_table):
            return []
    on_tables = sum(len(columns.get(TABLE_TAG_COLUMN, ())) for columns in by_table.values())
    count = sum(len(column_tags) for columns in by_table.values() for column_tags in columns.values()) - on_tables
    detail = f"{count} column tag{'s' if count != 1 else ''}"
    if on_tables:
        detail += f" and {on_tables} table tag{'s' if on_tables != 1 else ''}"
    return [SyncChange(SOURCE_TAGS_CHANGED, name, detail + " from the source")]


def sync_timeout(config: VeilConfig, name: str) -> float:
    """How long one sync step of ``name`` (opening it, crawling it) may take before it is given
    up and reported as failed: its ``connect_timeout`` plus its ``statement_timeout``."""
    conn = config.connections[name]
    return conn.connect_timeout + conn.statement_timeout


@dataclass(frozen=True)
class Crawl:
    """What one crawl of a connection found (the part of a sync that talks to the source)."""

    started: str
    found: list[SourceTable]
    error: VeilError | None
    tag_changes: list[SyncChange]


def crawl_connection(config: VeilConfig, name: str, source: Source) -> Crawl:
    started = now()
    found, error = _crawl(name, source)
    tag_changes = _record_source_tags(config, name, source, found) if error is None else []
    return Crawl(started, found, error, tag_changes)


def failed_crawl(error: VeilError) -> Crawl:
    """A crawl that could not run (its source did not open or answer in time)."""
    return Crawl(now(), [], error, [])


def timed_out(name: str, seconds: float) -> VeilError:
    return errcodes.ConnectionFailure(
        f'connection "{name}": no answer within {seconds:g} s (connect_timeout + statement_timeout); '
        "its tables keep their last known state")


_stuck: dict[int, concurrent.futures.Future[Crawl]] = {}  # id(source) -> a crawl given up on, still blocked
_stuck_lock = threading.Lock()


def bounded_crawl(config: VeilConfig, name: str, source: Source) -> Crawl:
    """:func:`crawl_connection` on a thread of its own, given up after :func:`sync_timeout`.
    While a crawl given up on is still blocked in its driver, the source is not crawled again
    (that attempt fails at once): a silent source holds one thread, never more."""
    key = id(source)
    with _stuck_lock:
        blocked = _stuck.get(key)
        if blocked is not None and not blocked.done():
            return failed_crawl(errcodes.ConnectionFailure(
                f'connection "{name}": its previous sync has not returned from the source yet'))
    seconds = sync_timeout(config, name)
    future = in_thread(lambda: crawl_connection(config, name, source), f"sync-{name}")
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        with _stuck_lock:
            _stuck[key] = future
        future.add_done_callback(lambda _: _unstick(key, future))
        return failed_crawl(timed_out(name, seconds))


def _unstick(key: int, future: concurrent.futures.Future[Crawl]) -> None:
    with _stuck_lock:
        if _stuck.get(key) is future:
            del _stuck[key]


def record_crawl(store: CatalogStore, config: VeilConfig, name: str, crawl: Crawl, trigger: str) -> SyncResult:
    """Compare a crawl with the store and record what changed (in one write transaction)."""
    conn = config.connections[name]
    found, error, started = crawl.found, crawl.error, crawl.started
    with store.write():
        identity = fingerprint(conn)
        known = store.connection(name, identity)
        if error is not None:
            if known is not None:
                store.record_attempt(known.id, error.message)
            store.add_run(name, trigger, started, error.message, 0, [])
            return SyncResult(name, (), error)
        registered = known or store.register_connection(name, identity)
        crawled = [t for t in found if in_population(conn, t.schema, t.name)]
        outside = frozenset((t.schema, t.name) for t in found) - {(t.schema, t.name) for t in crawled}
        delta = compare(
            name, store.tables([registered], present_only=False), crawled,
            new_status="active" if conn.sync.activate_new or known is None else "inactive",
            initial=known is None, outside_population=outside,
        )
        for table, changed in delta.saves:
            store.save_table(registered.id, table, changed=changed)
        store.mark_seen(delta.unchanged)
        for table in delta.dropped:
            assert table.id is not None
            store.mark_dropped(table.id)
        changes = [*delta.changes, *_record_collisions(store, config), *crawl.tag_changes]
        store.record_attempt(registered.id, None)
        store.add_run(name, trigger, started, None, len(crawled), changes)
    for change in changes:
        log.info("sync %s: %s %s (%s)", name, change.kind, change.object, change.detail)
    return SyncResult(name, tuple(changes), None, len(crawled))


Progress = Callable[[str, str], None]  # (connection, "crawling" | "done")


def sync_connections(
    config: VeilConfig,
    sources: Mapping[str, Source],
    names: Sequence[str] | None = None,
    trigger: str = "cli",
    progress: Progress | None = None,
) -> list[SyncResult]:
    """Sync these connections (all configured ones by default), one after the other, each
    crawl bounded by the connection's :func:`sync_timeout`."""
    results = []
    with CatalogStore.open(Path(config.state_dir)) as store:
        for name in names if names is not None else list(config.connections):
            if progress is not None:
                progress(name, "crawling")
            if name not in config.connections:
                results.append(SyncResult(name, (), errcodes.UndefinedObject(f'connection "{name}" does not exist')))
            elif name not in sources:
                error = errcodes.ConnectionFailure(f'connection "{name}" is not open (see the errors at startup)')
                results.append(SyncResult(name, (), error))
            else:
                crawl = bounded_crawl(config, name, sources[name])
                results.append(record_crawl(store, config, name, crawl, trigger))
            if progress is not None:
                progress(name, "done")
    return results
