"""The query engine shared by all sessions: catalog, per-user views of it, plan caches."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa
from cachetools import LRUCache

from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.registry import Catalog, build_catalog
from veil.catalog.sync import SyncResult, sync_connections
from veil.catalog.watch import CatalogWatcher
from veil.config.models import TableConfig, VeilConfig
from veil.discovery.run import DiscoverySettings, TableDiscovery, discover_synced, run_discovery, select_tables
from veil.discovery.store import TagStore, store_path
from veil.discovery.watch import TagWatcher
from veil.engine.api import SessionInfo
from veil.engine.audit import AppliedPolicy, AuditLog
from veil.engine.cache import ResultCache, make_cache
from veil.engine.planner import SourcePlan

if TYPE_CHECKING:
    from veil.engine.federation import FederatedPlan
from veil.engine.policy.masks import masked_arrow_type
from veil.engine.policy.principals import User
from veil.engine.policy.resolve import TablePolicy, resolve_table_policy
from veil.engine.policy.subscription import visible_tables


@dataclass(frozen=True)
class CachedPlan:
    plan: SourcePlan | FederatedPlan
    schema: pa.Schema
    policies: tuple[AppliedPolicy, ...] = ()


class QueryEngine:
    """Implements :class:`veil.engine.api.Engine`: one per server, shared by every session."""

    def __init__(self, config: VeilConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog if catalog is not None else build_catalog(config)
        self._catalog_config = config  # the config the catalog's sources were opened with
        self._reloads = 0  # reloads so far: a catalog built for an older one is not swapped in
        self._lock = threading.Lock()
        self._snapshots: dict[str, CatalogSnapshot] = {}
        self._local_engines: LRUCache = LRUCache(maxsize=64)
        self.plans: LRUCache = LRUCache(maxsize=4096)
        # (user, table oid, dialect) -> the policy-protected derived table (None: unprotected)
        self.protected_tables: LRUCache = LRUCache(maxsize=4096)
        self.audit = AuditLog(config.audit.path)
        self._generation = 1
        self.cache: ResultCache = make_cache(config.cache)
        self.tags = TagWatcher(store_path(config.state_dir))
        self.tags.poll(force=True)
        self.catalog_watcher = CatalogWatcher()

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

    def reload(self, config: VeilConfig) -> None:
        """Apply a new, validated config. Users, policies and settings apply to the next statement
        at once, and tables of removed connections disappear at once. When connections changed,
        the sources are opened and synced on a thread of their own (each bounded by its
        connect and statement timeouts) and the new catalog replaces the current one when ready:
        a slow or unreachable source never holds up the rest of a reload, nor the next one."""
        connections_changed = config.connections != self.config.connections
        with self._lock:
            self._reloads += 1
            ticket = self._reloads
            self.config = config
            if connections_changed:
                self.catalog = _without_removed(self.catalog, config)
            self.audit = AuditLog(config.audit.path)
            if config.state_dir != self.tags.path.parent:
                self.tags = TagWatcher(store_path(config.state_dir))
                self.tags.poll(force=True)
            self._forget_plans()
            if (config.cache.max_bytes, config.cache.backend) != (self.cache.max_bytes, self.cache.location):
                self.cache.close()
                self.cache = make_cache(config.cache)
        if connections_changed:
            threading.Thread(target=self._swap_catalog, args=(config, ticket), name="veil-reload", daemon=True).start()

    def _swap_catalog(self, config: VeilConfig, ticket: int) -> None:
        """Build the catalog of ``config``'s connections and serve it, unless a later reload came."""
        catalog = build_catalog(config, version=self.catalog.snapshot.version + 1)
        with self._lock:
            current = self._reloads == ticket
            if current:
                old, self.catalog, self._catalog_config = self.catalog, catalog, config
                self._forget_plans()
        if not current:
            old = catalog
        else:
            self.cache.invalidate()
        for name, source in old.sources.items():
            if not current or catalog.sources.get(name) is not source:
                source.close()  # idle connections close now, busy ones when their statement ends

    def _forget_plans(self) -> None:
        """Drop everything derived from policies and tags (call with the lock held)."""
        self._snapshots.clear()
        self._local_engines.clear()
        self.plans.clear()
        self.protected_tables.clear()
        self._generation += 1

    def user(self, name: str) -> User:
        return User.from_config(name, self.config.users.get(name))

    def snapshot_for(self, user: User) -> CatalogSnapshot:
        """The tables this user is subscribed to (cached per user and catalog version)."""
        self.refresh_tags()
        self.refresh_catalog()
        with self._lock:
            snapshot = self._snapshots.get(user.name)
            if snapshot is None or snapshot.version != self.catalog.snapshot.version:
                table_tags = {t.source_key: list(self.table_tags(t)) for t in self.catalog.snapshot}
                visible = visible_tables(self.catalog.snapshot, self.config.policies, user, table_tags)
                snapshot = visible.restricted_to(self._with_masked_types(user, t) for t in visible)
                self._snapshots[user.name] = snapshot
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
            replace(column, arrow_type=masked_arrow_type(masks[column.name].mask, column.arrow_type))
            if column.name in masks
            else column
            for column in table.columns
        )
        return replace(table, columns=columns)

    def local_engine_for(self, snapshot: CatalogSnapshot):
        """The pg_catalog emulation for one visible set of tables (shared by users who see the same)."""
        from veil.engine.pgcatalog import LocalEngine

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

    def open_session(self, info: SessionInfo):
        from veil.engine.session import Session

        return Session(self, info)

    def close(self) -> None:
        for source in self.catalog.sources.values():
            source.close()


def plan_cache_key(
    snapshot: CatalogSnapshot, search_path: Sequence[str], sql: str, param_oids: Sequence[int]
) -> tuple[object, ...]:
    return (snapshot.version, id(snapshot), tuple(search_path), sql, tuple(param_oids))


def _without_removed(catalog: Catalog, config: VeilConfig) -> Catalog:
    """``catalog`` without the tables of connections ``config`` no longer has."""
    kept = tuple(t for t in catalog.snapshot if t.connection in config.connections)
    if len(kept) == len(catalog.snapshot):
        return catalog
    return replace(catalog, snapshot=CatalogSnapshot(kept, catalog.snapshot.version + 1))
