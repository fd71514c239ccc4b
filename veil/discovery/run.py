"""A discovery run: sample each table at its source, classify, record tags in the store."""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from veil.catalog.model import CatalogSnapshot, Table
from veil.catalog.records import SyncChange
from veil.catalog.registry import Catalog
from veil.catalog.sync import SyncResult
from veil.config.models import VeilConfig
from veil.discovery.classifiers import BUILTIN_CLASSIFIERS, Classifier
from veil.discovery.classify import ColumnResult, classify_column
from veil.discovery.sampling import SamplePlan, sample_table, sampled_columns
from veil.errors import VeilError
from veil.state.tagstore import ColumnChange, ColumnFinding, TagStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiscoverySettings:
    threshold: float = 0.9
    sample_rows: int = 10_000
    only_new: bool = False  # only columns no earlier scan has seen (or whose type changed)
    classifiers: tuple[Classifier, ...] = BUILTIN_CLASSIFIERS

    @classmethod
    def from_config(
        cls, config: VeilConfig, threshold: float | None = None, sample_rows: int | None = None, only_new: bool = False
    ) -> DiscoverySettings:
        """The config's ``discovery:`` settings, with command-line overrides where given."""
        return cls(
            threshold=config.discovery.threshold if threshold is None else threshold,
            sample_rows=config.discovery.sample_rows if sample_rows is None else sample_rows,
            only_new=only_new,
        )


@dataclass(frozen=True)
class TableDiscovery:
    table: Table
    columns: tuple[ColumnResult, ...] = ()
    changes: tuple[ColumnChange, ...] = ()
    plan: SamplePlan | None = None
    rows_sampled: int = 0
    seconds: float = 0.0  # the whole table: sample query, classification, store update
    sample_seconds: float = 0.0  # the sample query alone
    error: VeilError | None = None

    @property
    def tagged(self) -> tuple[ColumnResult, ...]:
        return tuple(c for c in self.columns if c.winner is not None)


def select_tables(snapshot: CatalogSnapshot, patterns: Sequence[str]) -> list[Table]:
    """Tables named by Veil name (``schema.table``) or source key (``connection.schema.table``),
    globs allowed; every table when ``patterns`` is empty."""
    if not patterns:
        return list(snapshot)
    return [
        t for t in snapshot
        if any(fnmatch.fnmatchcase(n, p) for p in patterns for n in (t.qualified_name, t.source_key))
    ]


def source_spelled(table: Table, tags: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Config tags keyed by the source's column spelling, as findings and the tag store are
    (the config may name a column either way)."""
    spelled: dict[str, list[str]] = {}
    for name, column_tags in tags.items():
        column = table.find_column(name)
        merged = spelled.setdefault(column.raw_name if column is not None else name, [])
        merged += [t for t in column_tags if t not in merged]
    return spelled


def _columns_to_scan(table: Table, store: TagStore | None, only_new: bool) -> Table:
    if not only_new or store is None:
        return table
    seen = store.scanned_columns(table.source_key)
    return replace(table, columns=tuple(c for c in table.columns if seen.get(c.raw_name) != str(c.arrow_type)))


def discover_table(
    catalog: Catalog,
    config: VeilConfig,
    table: Table,
    settings: DiscoverySettings,
    store: TagStore | None = None,
) -> TableDiscovery:
    """Sample and classify one table; with a store, record the findings (unless dry-running)."""
    started = time.perf_counter()
    scanned = _columns_to_scan(table, store, settings.only_new)
    if not sampled_columns(scanned):
        return TableDiscovery(table, seconds=time.perf_counter() - started)
    try:
        sample = sample_table(catalog.source_for(table), scanned, settings.sample_rows)
    except VeilError as error:
        return TableDiscovery(table, error=error, seconds=time.perf_counter() - started)
    assert sample is not None
    types = {c.raw_name: c.arrow_type for c in scanned.columns}
    results = tuple(
        classify_column(
            table.name, name, types[name], sample.data.column(name), settings.threshold, settings.classifiers
        )
        for name in sample.data.column_names
    )
    changes: tuple[ColumnChange, ...] = ()
    if store is not None:
        table_config = config.tables.get(table.source_key)
        findings = [
            ColumnFinding(
                r.column, str(types[r.column]), r.winner.entity if r.winner else None, r.tags,
                r.winner.hit_rate if r.winner else None, r.values,
            )
            for r in results
        ]
        admin_tags = source_spelled(table, table_config.tags) if table_config else {}
        changes = tuple(store.record_scan(table.source_key, findings, admin_tags))
    return TableDiscovery(
        table, results, changes, sample.plan, sample.data.num_rows, time.perf_counter() - started, sample.seconds
    )


def run_discovery(
    catalog: Catalog,
    config: VeilConfig,
    tables: Iterable[Table],
    settings: DiscoverySettings,
    store: TagStore | None = None,
    on_table: Callable[[TableDiscovery], None] | None = None,
) -> list[TableDiscovery]:
    """Discover every table in turn; one failing table never stops the run."""
    results = []
    for table in tables:
        result = discover_table(catalog, config, table, settings, store)
        results.append(result)
        if on_table is not None:
            on_table(result)
    return results


_NEW_TABLES = frozenset({"table_added", "table_recreated"})
_NEW_COLUMNS = frozenset({"column_added", "column_type_changed"})


def discover_after_sync(
    catalog: Catalog, config: VeilConfig, changes: Iterable[SyncChange], store: TagStore
) -> list[TableDiscovery]:
    """Discovery of what a sync found: new and recreated tables whole, and on known tables only
    the columns no scan has seen yet (new ones, or ones whose type changed). Tags on other
    columns are left alone."""
    whole: set[str] = set()
    columns: set[str] = set()
    for change in changes:
        if change.kind in _NEW_TABLES:
            whole.add(change.object)
        elif change.kind in _NEW_COLUMNS:
            columns.add(change.object.rpartition(".")[0])
    if not whole and not columns:
        return []
    settings = DiscoverySettings.from_config(config)
    by_key = {t.source_key: t for t in catalog.snapshot}
    results = run_discovery(catalog, config, [by_key[k] for k in sorted(whole) if k in by_key], settings, store)
    results += run_discovery(
        catalog, config, [by_key[k] for k in sorted(columns - whole) if k in by_key],
        replace(settings, only_new=True), store,
    )
    return results


def discover_synced(catalog: Catalog, config: VeilConfig, results: Iterable[SyncResult]) -> list[TableDiscovery]:
    """Run discovery after an object sync (when ``discovery.on_sync``); a failure is logged and
    never fails the sync."""
    if not config.discovery.on_sync:
        return []
    try:
        with TagStore.open(config.state_dir) as store:
            found = discover_after_sync(catalog, config, [c for r in results for c in r.changes], store)
    except Exception:
        log.exception("sensitive data discovery after sync failed")
        return []
    for result in found:
        if result.error is not None:
            log.error("discovery of %s failed: %s", result.table.source_key, result.error.message)
        for column in result.tagged:
            assert column.winner is not None
            log.info("discovery: %s.%s tagged %s (hit rate %.0f%%)", result.table.source_key, column.column,
                     column.winner.classifier.tag, 100 * column.winner.hit_rate)
    return found
