"""The query engine shared by all sessions: catalog, per-user views of it, plan caches."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from cachetools import LRUCache

from veil import errcodes
from veil.admin.audit import AuditLog, AuditRecord
from veil.api import SessionInfo
from veil.catalog.model import CatalogSnapshot, Column, Table
from veil.catalog.references import catalog_problems
from veil.catalog.registry import Catalog, build_catalog
from veil.catalog.sources.base import Source
from veil.catalog.sync import SyncResult, sync_connections
from veil.catalog.watch import CatalogWatcher
from veil.config.models import MaskPolicy, TableConfig, VeilConfig
from veil.config.references import ConfigProblem, principal_problems
from veil.discovery.run import DiscoverySettings, TableDiscovery, discover_synced, run_discovery, select_tables
from veil.discovery.watch import TagWatcher
from veil.engine.session import Session
from veil.executor.cache.latency import ResultCache, make_cache
from veil.executor.membudget import configure as configure_budget
from veil.state.tagstore import TagStore, store_path

if TYPE_CHECKING:
    pass
from veil.errors import VeilError
from veil.executor.workers import DEFAULT_SOURCE_CONCURRENCY, source_semaphore
from veil.pgtypes import ColumnType
from veil.policy.masks import masked_arrow_type
from veil.policy.principals import User
from veil.policy.resolve import TablePolicy, resolve_table_policy
from veil.policy.subscription import visible_tables

log = logging.getLogger("veil.config")


class QueryEngine:
    """Implements :class:`veil.api.Engine`: one per server, shared by every session."""

    def __init__(self, config: VeilConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        configure_budget(config.server.max_memory, config.server.memory_wait)
        self.catalog = catalog if catalog is not None else build_catalog(config)
        self._catalog_config = config  # the config the catalog's sources were opened with
        self._reloads = 0  # reloads so far: a catalog built for an older one is not swapped in
        self._building: dict[int, dict[str, Source]] = {}  # reload ticket -> the open sources it reuses
        self._lock = threading.Lock()
        # user fingerprint -> that user's tables; never keyed by name alone, so a statement that
        # resolved its user before a reload cannot leave a stale view for the next session
        self._snapshots: dict[tuple[object, ...], CatalogSnapshot] = {}
        self._local_engines: LRUCache = LRUCache(maxsize=64)
        self.plans: LRUCache = LRUCache(maxsize=4096)
        # (generation, user fingerprint, table oid, dialect, guard) -> (the policy-protected derived
        # table, None when unprotected; its verifier marker, None when nothing may be read:
        # veil.planner.verify)
        self.protected_tables: LRUCache = LRUCache(maxsize=4096)
        self.audit = AuditLog(config.audit.path, config.secrets.values())
        self._generation = 1
        self.cache: ResultCache = make_cache(config.cache)
        self.tags = TagWatcher(store_path(config.state_dir))
        self.tags.poll(force=True)
        self.catalog_watcher = CatalogWatcher()
        self._warned: set[str] = set()
        self.warn_config_problems()

    @property
    def generation(self) -> int:
        """Bumped by every reload and every change of discovered tags: prepared statements
        re-plan on change. Reading it notices tags written by another process (at most one
        check of the tag store per second)."""
        self.refresh_tags()
        self.refresh_catalog()
        return self._generation

    @generation.setter
    def generation(self, value: int) -> None:
        self._generation = value

    def refresh_tags(self, force: bool = False) -> None:
        """Pick up discovered tags that changed in the store: new statements plan with them."""
        if self.tags.poll(force):
            with self._lock:
                self._forget_plans()

    def refresh_catalog(self, force: bool = False) -> None:
        """Pick up what object sync or ``veil approve`` (here or in another process) changed in
        the metadata store: a new catalog snapshot, plans re-made, stale cached results dropped."""
        base = self.catalog
        refreshed = self.catalog_watcher.poll(self._catalog_config, base, force)
        if refreshed is None:
            return
        with self._lock:
            if self.catalog is not base:
                return  # a reload replaced the catalog meanwhile
            self.catalog = _without_removed(refreshed.catalog, self.config)
            self._forget_plans()
        self.warn_config_problems()
        if refreshed.changed_tables:
            self.cache.invalidate(set(refreshed.changed_tables))

    def sync(self, names: Sequence[str] | None = None, trigger: str = "sql") -> list[SyncResult]:
        """Object sync of these connections (default: all), applied to the served catalog at once."""
        results = sync_connections(self._catalog_config, self.catalog.sources, names, trigger)
        self.refresh_catalog(force=True)
        if discover_synced(self.catalog, self.config, results):
            self.refresh_tags(force=True)
        return results

    def discover(self, patterns: Sequence[str]) -> list[TableDiscovery]:
        """Sensitive data discovery over the tables matching ``patterns`` (default: all), as
        ``veil discover`` runs it; the new tags apply to the next statement."""
        tables = select_tables(self.catalog.snapshot, patterns)
        store = TagStore.open(self.config.state_dir)
        try:
            results = run_discovery(self.catalog, self.config, tables, DiscoverySettings.from_config(self.config), store)
        finally:
            store.close()
        self.refresh_tags(force=True)
        return results

    def latency_for(self, tables: Sequence[Table]) -> float:
        """How long results over these tables may be served from cache: the smallest latency of
        the tables (per table, else per connection, else ``cache.default_latency``)."""
        latencies = []
        for table in tables:
            table_config = self.config.tables.get(table.source_key)
            connection = self.config.connections.get(table.connection)
            if table_config is not None and table_config.latency is not None:
                latencies.append(table_config.latency)
            elif connection is not None and connection.latency is not None:
                latencies.append(connection.latency)
            else:
                latencies.append(self.config.cache.default_latency)
        return min(latencies, default=0.0)

    def source_slot(self, connection: str) -> asyncio.Semaphore:
        """The slots of ``connection`` (``max_concurrency``) for the running event loop."""
        known = self.config.connections.get(connection)
        return source_semaphore(connection, known.max_concurrency if known else DEFAULT_SOURCE_CONCURRENCY)

    def reload(self, config: VeilConfig) -> None:
        """Apply a new, validated config. Users, policies and settings apply to the next statement
        at once, and tables of removed connections disappear at once. When connections changed,
        the sources are opened and synced on a thread of their own (each bounded by its
        connect and statement timeouts) and the new catalog replaces the current one when ready:
        a slow or unreachable source never holds up the rest of a reload, nor the next one."""
        connections_changed = config.connections != self.config.connections
        configure_budget(config.server.max_memory, config.server.memory_wait)
        with self._lock:
            self._reloads += 1
            ticket = self._reloads
            self.config = config
            if connections_changed:
                self.catalog = _without_removed(self.catalog, config)
            self.audit = AuditLog(config.audit.path, config.secrets.values())
            if config.state_dir != self.tags.path.parent:
                self.tags = TagWatcher(store_path(config.state_dir))
                self.tags.poll(force=True)
            self._forget_plans()
            if (config.cache.max_bytes, config.cache.backend) != (self.cache.max_bytes, self.cache.location):
                self.cache.close()
                self.cache = make_cache(config.cache)
        if connections_changed:
            threading.Thread(target=self._swap_catalog, args=(config, ticket), name="veil-reload", daemon=True).start()
        self.warn_config_problems()

    def config_problems(self) -> list[ConfigProblem]:
        """References in the config in force that resolve to nothing, judged against the
        catalog as object sync last found it (``veil.config_problems``)."""
        config, catalog = self.config, self.catalog
        tables = [e.table for e in catalog.entries] or list(catalog.snapshot)
        return principal_problems(config) + catalog_problems(config, tables, set(catalog.errors))

    def warn_config_problems(self) -> None:
        """Log each unresolved reference once, as a WARNING (``veil check`` makes them errors)."""
        for problem in self.config_problems():
            text = str(problem)
            if text not in self._warned:
                self._warned.add(text)
                log.warning("config problem: %s", text)

    def _swap_catalog(self, config: VeilConfig, ticket: int) -> None:
        """Build the catalog of ``config``'s connections and serve it, unless a later reload came."""
        # Sources whose settings did not change stay open and are not crawled again: one that
        # has stopped answering cannot hold up the reload (interval sync keeps trying it).
        with self._lock:
            serving, served = self.catalog, self._catalog_config
            reuse = {name: source for name, source in serving.sources.items()
                     if served.connections.get(name) == config.connections.get(name)}
            self._building[ticket] = reuse
        try:
            catalog = build_catalog(config, version=serving.snapshot.version + 1,
                                    sync=[name for name in config.connections if name not in reuse], reuse=reuse)
        finally:
            with self._lock:
                del self._building[ticket]
        with self._lock:
            current = self._reloads == ticket
            if current:
                old, self.catalog, self._catalog_config = self.catalog, catalog, config
                self._forget_plans()
            # served, or reused by a reload still building its catalog
            kept = {id(s) for s in self.catalog.sources.values()}
            kept |= {id(s) for building in self._building.values() for s in building.values()}
        if not current:
            old = catalog
        else:
            self.cache.invalidate()
        for source in old.sources.values():
            if id(source) not in kept:
                source.close()  # idle connections close now, busy ones when their statement ends

    def _forget_plans(self) -> None:
        """Drop everything derived from policies and tags (call with the lock held)."""
        self._snapshots.clear()
        self._local_engines.clear()
        self.plans.clear()
        self.protected_tables.clear()
        self._generation += 1

    @property
    def hash_key_id(self) -> str:
        """A fingerprint of the hash key (not the key): cached results computed under another
        key are never served, and the key itself is never part of a cache key."""
        key = self.config.secrets.hash_key or ""
        return hashlib.sha256(b"veil-hash-key-id\0" + key.encode()).hexdigest()[:16]

    def with_hash_key(self, params: Sequence[object | None], key_param: int | None) -> list[object | None]:
        """The parameters a source is sent: the statement's, then the hash key as ``$key_param``
        (the key travels as a bound value, never in SQL text)."""
        values = list(params)
        if key_param is None:
            return values
        key = self.config.secrets.hash_key
        if not key:
            raise errcodes.InsufficientPrivilege("hash masks need secrets.hash_key in the configuration")
        values += [None] * (key_param - 1 - len(values))
        values[key_param - 1 :] = [key]
        return values

    def cache_parameters(self, params: Sequence[object | None], key_param: int | None) -> str:
        """The parameters part of a result cache key (the key's fingerprint, never the key)."""
        text = repr(tuple(params))
        return text if key_param is None else f"{text}#key={self.hash_key_id}"

    def user(self, name: str) -> User:
        return User.from_config(name, self.config.users.get(name))

    def identity(self, name: str, known: bool) -> User:
        """The user as the config in force right now defines them (groups, attributes, admin).
        A user that was configured (``known``) and is no longer gets ``28000``, FATAL: their
        session ends, as a terminated PostgreSQL backend's does."""
        config = self.config.users.get(name)
        if config is None and known:
            raise errcodes.InvalidAuthorizationSpecification(f'role "{name}" does not exist', severity="FATAL")
        return User.from_config(name, config)

    def snapshot_for(self, user: User) -> CatalogSnapshot:
        """The tables this user is subscribed to (cached per user and catalog version)."""
        self.refresh_tags()
        self.refresh_catalog()
        with self._lock:
            key = user.fingerprint
            snapshot = self._snapshots.get(key)
            if snapshot is None or snapshot.version != self.catalog.snapshot.version:
                table_tags = {t.source_key: list(self.table_tags(t)) for t in self.catalog.snapshot}
                visible = visible_tables(self.catalog.snapshot, self.config.policies, user, table_tags)
                snapshot = visible.restricted_to(self._with_masked_types(user, t) for t in visible)
                self._snapshots[key] = snapshot
            return snapshot

    def discovered_tags(self, table: Table) -> Mapping[str, tuple[str, ...]]:
        """Column tags sensitive data discovery found on this table (rejected ones excluded)."""
        return self.tags.current.for_table(table.source_key)

    def table_tags(self, table: Table) -> tuple[str, ...]:
        """The table's tags as every policy matches them: the config's ``table_tags``, then the
        ones the source system keeps on the table (copied by object sync)."""
        configured = self.config.tables.get(table.source_key)
        return self.tags.current.table_tags(table.source_key, configured.table_tags if configured else ())

    def table_config(self, table: Table) -> TableConfig | None:
        """The table's settings as policies read them: the config's, with the source's table
        tags added to ``table_tags`` so that tag-selected policies cover the table either way."""
        configured = self.config.tables.get(table.source_key)
        tags = list(self.table_tags(table))
        if configured is None and not tags:
            return None
        base = configured or TableConfig()
        return base if tags == base.table_tags else base.model_copy(update={"table_tags": tags})

    def table_policy(self, user: User, table: Table) -> TablePolicy:
        return resolve_table_policy(
            user, table, self.config.policies, self.table_config(table), self.discovered_tags(table)
        )

    def _with_masked_types(self, user: User, table: Table) -> Table:
        """The table as this user's catalog describes it: masked columns carry the mask's type."""
        masks = self.table_policy(user, table).masks
        if not masks:
            return table
        columns = tuple(
            _masked_column(column, masks[column.name].mask) if column.name in masks else column
            for column in table.columns
        )
        return replace(table, columns=columns)

    def local_engine_for(self, snapshot: CatalogSnapshot):
        """The pg_catalog emulation for one visible set of tables (shared by users who see the same)."""
        from veil.pgcatalog import LocalEngine

        key = (snapshot.version, tuple(t.oid for t in snapshot))
        with self._lock:
            local = self._local_engines.get(key)
            if local is None:
                local = LocalEngine(
                    snapshot, database=self.config.server.database, users=sorted(self.config.users)
                )
                self._local_engines[key] = local
            return local

    def session_overrides(self) -> dict[str, str]:
        return {"search_path": self.config.server.search_path}

    def audit_login(self, info: SessionInfo, error: VeilError) -> None:
        """A refused login, in the audit trail like a failed statement (``statement`` empty;
        ``error`` carries the detail, which says whether the login was refused in back-off)."""
        record = AuditRecord(info.user, info.client_address, info.application_name, "")
        record.outcome, record.sqlstate = "error", error.sqlstate
        record.error = f"{error.message} ({error.detail})" if error.detail else error.message
        self.audit.write(record)

    def open_session(self, info: SessionInfo) -> Session:
        return Session(self, info)

    def close(self) -> None:
        for source in self.catalog.sources.values():
            source.close()


def _masked_column(column: Column, mask: MaskPolicy) -> Column:
    """A masked column's catalog entry: the mask's type; the source's own type survives only a
    NULL mask (a typed NULL) and, without its modifier, a rounding of the same type."""
    arrow_type = masked_arrow_type(mask, column.arrow_type)
    source_type = column.source_type
    if source_type is not None and (mask.with_ not in ("null", "round") or arrow_type != column.arrow_type):
        source_type = None
    elif source_type is not None and mask.with_ == "round":
        source_type = ColumnType(source_type.type)
    return replace(column, arrow_type=arrow_type, source_type=source_type, default=None)


def _without_removed(catalog: Catalog, config: VeilConfig) -> Catalog:
    """``catalog`` without the tables of connections ``config`` no longer has."""
    kept = tuple(t for t in catalog.snapshot if t.connection in config.connections)
    if len(kept) == len(catalog.snapshot):
        return catalog
    return replace(catalog, snapshot=CatalogSnapshot(kept, catalog.snapshot.version + 1))
