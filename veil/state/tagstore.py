"""The tag store: discovered column tags, their rejections and the scans that produced them.

An embedded SQLite file, ``<state_dir>/tags.sqlite``, in WAL mode so ``veil discover`` (a CLI
process) can write while ``veil serve`` reads. Every write transaction bumps a modification
counter (``meta.version``); a server polls that counter to notice new tags.

Each stored tag has an origin: ``discovery`` (found by a classifier), ``source`` (kept in the
source system, such as Snowflake's object tags, copied by each object sync) or ``config`` (a copy
of the tags an admin set in ``veil.yaml``, recorded at each scan for the record). The engine takes
``discovery`` and ``source`` rows from here — the live config stays the authority on admin tags. A rejected
tag (``veil tags reject``) is removed and never written again by later scans.

A tag the source keeps on a table itself (not on one of its columns) is stored as a ``source`` row
whose column name is empty (:data:`TABLE_TAG_COLUMN`): no source allows an empty column name, so
the row cannot be taken for a column's, and the table's source tags are replaced, diffed and
versioned together with its column tags in one place. Readers get them apart from the column tags
(:attr:`DiscoveredTags.tables`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from veil.state import sqlite
from veil.state.sqlite import SqliteStore

STORE_FILE = "tags.sqlite"
TAG_ROOT = "Discovered"  # the root of every tag discovery writes
ENTITY_PREFIX = f"{TAG_ROOT}.Entity."
ORIGIN_CONFIG = "config"
ORIGIN_DISCOVERY = "discovery"
ORIGIN_SOURCE = "source"
TABLE_TAG_COLUMN = ""  # the column name under which a tag on the table itself is stored

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0);
CREATE TABLE IF NOT EXISTS column_tags (
    table_key TEXT NOT NULL,
    column_name TEXT NOT NULL,
    tag TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('config', 'discovery', 'source')),
    classifier TEXT,
    hit_rate REAL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (table_key, column_name, tag, origin)
);
CREATE TABLE IF NOT EXISTS rejected_tags (
    table_key TEXT NOT NULL,
    column_name TEXT NOT NULL,
    tag TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (table_key, column_name, tag)
);
CREATE TABLE IF NOT EXISTS column_scans (
    table_key TEXT NOT NULL,
    column_name TEXT NOT NULL,
    column_type TEXT NOT NULL,
    classifier TEXT,
    hit_rate REAL,
    sampled_values INTEGER NOT NULL,
    scanned_at TEXT NOT NULL,
    PRIMARY KEY (table_key, column_name)
);
"""


def store_path(state_dir: Path) -> Path:
    return Path(state_dir) / STORE_FILE


@dataclass(frozen=True)
class StoredTag:
    table_key: str  # connection.schema.table, as the config's ``tables:`` names it
    column: str
    tag: str
    origin: str
    classifier: str | None
    hit_rate: float | None
    updated_at: str


@dataclass(frozen=True)
class Rejection:
    table_key: str
    column: str
    tag: str
    rejected_at: str


@dataclass(frozen=True)
class ColumnFinding:
    """What one scan concluded about one column: the winning classifier's tags, entity tag
    first (empty when nothing qualified)."""

    column: str
    column_type: str
    classifier: str | None = None
    tags: tuple[str, ...] = ()
    hit_rate: float | None = None
    sampled_values: int = 0


@dataclass(frozen=True)
class ColumnChange:
    """How a scan changed one column's discovered tags."""

    column: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()  # found again but rejected earlier: not applied
    in_config: tuple[str, ...] = ()  # found, but the admin already set the same tag


@dataclass(frozen=True)
class DiscoveredTags:
    """The discovered and source tags in force (rejections removed): table key → column → tags,
    and table key → the tags the source keeps on the table itself."""

    version: int = 0
    by_table: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def for_table(self, table_key: str) -> Mapping[str, tuple[str, ...]]:
        return self.by_table.get(table_key, {})

    def table_tags(self, table_key: str, configured: Sequence[str] = ()) -> tuple[str, ...]:
        """The table's tags as policies match them: the admin's ``table_tags`` first, then the
        source's that the config does not already set (tags accumulate, as on columns)."""
        found = self.tables.get(table_key, ())
        return (*configured, *(t for t in found if t not in configured))


class TagStore(SqliteStore):
    """One connection to the store; cheap to open, safe to use from one thread at a time."""

    FILE_NAME = STORE_FILE

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self._db = sqlite.connect(self.path, create=create, existing_mode="rw")
        if create:
            with self._write(bump=False) as db:
                sqlite.create_schema(db, _SCHEMA)
                _allow_source_origin(db)
            sqlite.check_layout(self._db, _SCHEMA, self.path)

    @contextmanager
    def _write(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (taking the write lock up front) that bumps the modification
        counter when it commits."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            if bump:
                self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- reading ------------------------------------------------------------------------------
    def tags(self, table_key: str | None = None, origin: str | None = None) -> list[StoredTag]:
        sql = "SELECT table_key, column_name, tag, origin, classifier, hit_rate, updated_at FROM column_tags"
        where, params = _filters(table_key=table_key, origin=origin)
        rows = self._db.execute(sql + where + " ORDER BY 1, 2, 4, 3", params).fetchall()
        return [StoredTag(*row) for row in rows]

    def rejections(self, table_key: str | None = None) -> list[Rejection]:
        where, params = _filters(table_key=table_key)
        rows = self._db.execute(
            "SELECT table_key, column_name, tag, rejected_at FROM rejected_tags" + where + " ORDER BY 1, 2, 3",
            params,
        ).fetchall()
        return [Rejection(*row) for row in rows]

    def scanned_columns(self, table_key: str) -> dict[str, str]:
        """Column name → column type, for every column of the table a scan has looked at."""
        rows = self._db.execute(
            "SELECT column_name, column_type FROM column_scans WHERE table_key = ?", (table_key,)
        ).fetchall()
        return dict(rows)

    def discovered(self) -> DiscoveredTags:
        """The discovered tags the engine applies (a consistent read of tags and version)."""
        self._db.execute("BEGIN")
        try:
            version = self.version()
            rows = self._db.execute(
                "SELECT t.table_key, t.column_name, t.tag FROM column_tags t "
                "WHERE t.origin IN ('discovery', 'source') AND NOT EXISTS (SELECT 1 FROM rejected_tags r "
                "WHERE r.table_key = t.table_key AND r.column_name = t.column_name "
                "AND (r.tag = t.tag OR r.tag = ? || t.classifier)) "
                "ORDER BY 1, 2, 3",
                (ENTITY_PREFIX,),
            ).fetchall()
        finally:
            self._db.execute("COMMIT")
        by_table: dict[str, dict[str, tuple[str, ...]]] = {}
        tables: dict[str, tuple[str, ...]] = {}
        for table_key, column, tag in rows:
            if column == TABLE_TAG_COLUMN:
                tables[table_key] = (*tables.get(table_key, ()), tag)
                continue
            columns = by_table.setdefault(table_key, {})
            columns[column] = (*columns.get(column, ()), tag)
        return DiscoveredTags(version, by_table, tables)

    # -- writing ------------------------------------------------------------------------------
    def record_scan(
        self, table_key: str, findings: Sequence[ColumnFinding], config_tags: Mapping[str, Sequence[str]]
    ) -> list[ColumnChange]:
        """Replace the discovered tags of the scanned columns with this scan's findings.

        Columns not in ``findings`` keep their tags. Tags an admin set on a column are recorded
        with origin ``config`` and never duplicated as discovered; rejected tags are skipped."""
        now = sqlite.now()
        changes = []
        with self._write() as db:
            rejected = {(r.column, r.tag) for r in self.rejections(table_key)}
            db.execute("DELETE FROM column_tags WHERE table_key = ? AND origin = 'config'", (table_key,))
            db.executemany(
                "INSERT INTO column_tags VALUES (?, ?, ?, 'config', NULL, NULL, ?)",
                [(table_key, column, tag, now) for column, tags in config_tags.items() for tag in dict.fromkeys(tags)],
            )
            for finding in findings:
                before = {
                    row[0]
                    for row in db.execute(
                        "SELECT tag FROM column_tags WHERE table_key = ? AND column_name = ? AND origin = 'discovery'",
                        (table_key, finding.column),
                    )
                }
                admin = set(config_tags.get(finding.column, ()))
                if finding.tags and (finding.column, finding.tags[0]) in rejected:
                    skipped_rejected = finding.tags  # the classification itself was rejected
                else:
                    skipped_rejected = tuple(t for t in finding.tags if (finding.column, t) in rejected)
                skipped_config = tuple(t for t in finding.tags if t in admin)
                wanted = tuple(t for t in finding.tags if t not in skipped_rejected and t not in admin)
                db.execute(
                    "DELETE FROM column_tags WHERE table_key = ? AND column_name = ? AND origin = 'discovery'",
                    (table_key, finding.column),
                )
                db.executemany(
                    "INSERT INTO column_tags VALUES (?, ?, ?, 'discovery', ?, ?, ?)",
                    [(table_key, finding.column, tag, finding.classifier, finding.hit_rate, now) for tag in wanted],
                )
                db.execute(
                    "INSERT OR REPLACE INTO column_scans VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (table_key, finding.column, finding.column_type, finding.classifier, finding.hit_rate,
                     finding.sampled_values, now),
                )
                changes.append(
                    ColumnChange(
                        finding.column,
                        added=tuple(t for t in wanted if t not in before),
                        removed=tuple(sorted(before - set(wanted))),
                        kept=tuple(t for t in wanted if t in before),
                        rejected=skipped_rejected,
                        in_config=skipped_config,
                    )
                )
        return changes

    def replace_source_tags(self, connection: str, tags: Mapping[str, Mapping[str, Sequence[str]]]) -> bool:
        """Make ``tags`` (table key → column → tags; column :data:`TABLE_TAG_COLUMN` for the
        table's own tags) the source tags of ``connection``'s tables; True if they changed."""
        prefix = connection + "."
        with self._write(bump=False) as db:
            before = set(db.execute(
                "SELECT table_key, column_name, tag FROM column_tags "
                "WHERE origin = 'source' AND substr(table_key, 1, ?) = ?", (len(prefix), prefix),
            ).fetchall())
            after = {
                (table_key, column, tag)
                for table_key, columns in tags.items() if table_key.startswith(prefix)
                for column, column_tags in columns.items() for tag in column_tags
            }
            if before == after:
                return False
            db.execute("DELETE FROM column_tags WHERE origin = 'source' AND substr(table_key, 1, ?) = ?",
                       (len(prefix), prefix))
            now = sqlite.now()
            db.executemany("INSERT INTO column_tags VALUES (?, ?, ?, 'source', NULL, NULL, ?)",
                           [(*row, now) for row in sorted(after)])
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
        return True

    def reject(self, table_key: str, column: str, tag: str) -> bool:
        """Reject a discovered tag on a column; True if the column carried it. Rejecting an
        entity tag (``Discovered.Entity.X``) rejects the classification: the category tags it
        brought go too."""
        with self._write() as db:
            removed = db.execute(
                "DELETE FROM column_tags WHERE table_key = ? AND column_name = ? AND origin = 'discovery' "
                "AND (tag = ? OR ? = ? || classifier)",
                (table_key, column, tag, tag, ENTITY_PREFIX),
            ).rowcount
            db.execute("INSERT OR REPLACE INTO rejected_tags VALUES (?, ?, ?, ?)", (table_key, column, tag, sqlite.now()))
        return removed > 0

    def unreject(self, table_key: str, column: str, tag: str) -> bool:
        """Withdraw a rejection (the tag comes back with the next scan); True if there was one."""
        with self._write() as db:
            return db.execute(
                "DELETE FROM rejected_tags WHERE table_key = ? AND column_name = ? AND tag = ?",
                (table_key, column, tag),
            ).rowcount > 0


def _allow_source_origin(db: sqlite3.Connection) -> None:
    """Stores made before source tags existed only accept the config and discovery origins:
    rebuild their tag table with the current constraint (SQLite cannot alter a CHECK)."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'column_tags'").fetchone()
    if row is None or "'source'" in row[0]:
        return
    db.execute("ALTER TABLE column_tags RENAME TO column_tags_old")
    sqlite.create_schema(db, _SCHEMA)
    db.execute("INSERT INTO column_tags SELECT * FROM column_tags_old")
    db.execute("DROP TABLE column_tags_old")


def _filters(**conditions: str | None) -> tuple[str, tuple[str, ...]]:
    names = {"table_key": "table_key", "origin": "origin"}
    used = [(names[k], v) for k, v in conditions.items() if v is not None]
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(f"{column} = ?" for column, _ in used), tuple(v for _, v in used)


def read_discovered(path: Path) -> DiscoveredTags | None:
    """The discovered tags in the store at ``path``; None if there is no store (yet)."""
    with TagStore.existing(path) as store:
        return None if store is None else store.discovered()


read_version = TagStore.read_version
