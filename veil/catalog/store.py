"""The metadata store: every object Veil has found in its sources, and the history of syncs.

An embedded SQLite file, ``<state_dir>/catalog.db``, in WAL mode with a busy timeout, so a CLI
(``veil sync``, ``veil approve``) and a running ``veil serve`` can use it at once. Writers take
the write lock up front (``BEGIN IMMEDIATE``) and hold it only while writing, never while a
source is crawled.

A *connection* is identified by its name and its location (the DuckDB file, or PostgreSQL
host, port and database): pointing a connection elsewhere registers it anew. Tables and columns
keep their first and last sighting; a dropped table keeps its row (``present`` false) for the
record. Every write that changes what the catalog serves bumps ``meta.version`` and stamps the
touched tables with it, so a server polling the version knows what changed since it last looked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from veil.catalog.records import (
    STATUSES,
    Status,
    StatusOverride,
    StoredColumn,
    StoredConnection,
    StoredTable,
    StoreState,
    SyncChange,
    SyncRun,
)
from veil.catalog.sources.postgres.table_keys import keys_from_json, keys_to_json
from veil.pgfields import column_type_for_field, pinned_metadata
from veil.pgtypes import PG_TYPE_METADATA_KEY, ColumnType
from veil.state import sqlite
from veil.state.sqlite import SqliteStore, now

__all__ = [
    "STATUSES",
    "CatalogStore",
    "Status",
    "StatusOverride",
    "StoreState",
    "StoredColumn",
    "StoredConnection",
    "StoredTable",
    "SyncChange",
    "SyncRun",
    "now",
    "read_version",
    "store_path",
]

STORE_FILE = "catalog.db"
_HISTORY_RUNS_KEPT = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0);
CREATE TABLE IF NOT EXISTS connections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_attempt TEXT,
    last_success TEXT,
    last_error TEXT,
    UNIQUE (name, fingerprint)
);
CREATE TABLE IF NOT EXISTS tables (
    id INTEGER PRIMARY KEY,
    connection_id INTEGER NOT NULL REFERENCES connections (id),
    database_name TEXT,
    schema_name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    object_id TEXT,
    created TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    present INTEGER NOT NULL,
    collision TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    dropped_at TEXT,
    changed_version INTEGER NOT NULL,
    UNIQUE (connection_id, schema_name, table_name)
);
CREATE TABLE IF NOT EXISTS columns (
    table_id INTEGER NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    type_name TEXT NOT NULL,
    arrow_type BLOB NOT NULL,
    nullable INTEGER NOT NULL,
    is_new INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (table_id, name)
);
CREATE TABLE IF NOT EXISTS table_details (
    table_id INTEGER PRIMARY KEY REFERENCES tables (id) ON DELETE CASCADE,
    description TEXT,
    keys TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_overrides (
    connection TEXT NOT NULL,
    schema_name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    set_at TEXT NOT NULL,
    PRIMARY KEY (connection, schema_name, table_name)
);
CREATE TABLE IF NOT EXISTS sync_runs (
    id INTEGER PRIMARY KEY,
    connection TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),
    error TEXT,
    tables INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_changes (
    run_id INTEGER NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS tables_changed ON tables (changed_version);
CREATE INDEX IF NOT EXISTS sync_runs_connection ON sync_runs (connection, id)
"""


def store_path(state_dir: Path) -> Path:
    return Path(state_dir) / STORE_FILE


@dataclass
class _TypeCodec:
    """A column's types as IPC schema bytes: the Arrow type, and in the field's metadata the
    source's own type, default and comment where it has them (no store layout change). Decoding
    is cached because a catalog repeats few types."""

    decoded: dict[bytes, tuple[pa.DataType, ColumnType | None, str | None, str | None, str | None]] = field(
        default_factory=dict
    )

    @staticmethod
    def encode(column: StoredColumn) -> bytes:
        metadata: dict[bytes, bytes] = {}
        if column.source_type is not None:
            metadata.update(pinned_metadata(column.source_type.type, column.source_type.typmod))
        if column.default is not None:
            metadata[_DEFAULT_KEY] = column.default.encode()
        if column.description is not None:
            metadata[_COMMENT_KEY] = column.description.encode()
        if column.declared_type is not None:
            metadata[_DECLARED_KEY] = column.declared_type.encode()
        return pa.schema([pa.field("c", column.arrow_type, metadata=metadata or None)]).serialize().to_pybytes()

    def decode(self, blob: bytes) -> tuple[pa.DataType, ColumnType | None, str | None, str | None, str | None]:
        decoded = self.decoded.get(blob)
        if decoded is None:
            stored = pa.ipc.read_schema(pa.py_buffer(blob)).field(0)
            metadata = stored.metadata or {}
            source_type = column_type_for_field(stored) if PG_TYPE_METADATA_KEY in metadata else None
            default, comment = metadata.get(_DEFAULT_KEY), metadata.get(_COMMENT_KEY)
            declared = metadata.get(_DECLARED_KEY)
            decoded = (
                stored.type, source_type,
                None if default is None else default.decode(), None if comment is None else comment.decode(),
                None if declared is None else declared.decode(),
            )
            self.decoded[blob] = decoded
        return decoded


_DEFAULT_KEY = b"veil.default"
_COMMENT_KEY = b"veil.comment"
_DECLARED_KEY = b"veil.declared_type"
_TYPES = _TypeCodec()


class CatalogStore(SqliteStore):
    """One connection to the store; use from one thread at a time (open one per thread)."""

    FILE_NAME = STORE_FILE

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self._db = sqlite.connect(self.path, create=create)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._in_write = False
        self._touched: set[int] = set()
        self._bump = False
        if create:
            with self.write():
                sqlite.create_schema(self._db, _SCHEMA)
            sqlite.check_layout(self._db, _SCHEMA, self.path)

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[CatalogStore]:
        """One write transaction; the version moves once at commit if the catalog changed."""
        if self._in_write:
            raise RuntimeError("nested catalog store transaction")
        self._db.execute("BEGIN IMMEDIATE")
        self._in_write, self._touched, self._bump = True, set(), False
        try:
            yield self
            if self._bump or self._touched:
                version = self.version() + 1
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (version,))
                self._db.executemany(
                    "UPDATE tables SET changed_version = ? WHERE id = ?", [(version, i) for i in self._touched]
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        finally:
            self._in_write = False

    @contextmanager
    def read(self) -> Iterator[CatalogStore]:
        """A consistent snapshot for several reads (WAL readers never block the writer)."""
        self._db.execute("BEGIN")
        try:
            yield self
        finally:
            self._db.execute("COMMIT")

    def _require_write(self) -> None:
        if not self._in_write:
            raise RuntimeError("catalog store writes need `with store.write():`")

    # -- connections --------------------------------------------------------------------------
    def connection(self, name: str, fingerprint: str) -> StoredConnection | None:
        row = self._db.execute(
            "SELECT id, name, fingerprint, first_seen, last_attempt, last_success, last_error "
            "FROM connections WHERE name = ? AND fingerprint = ?",
            (name, fingerprint),
        ).fetchone()
        return StoredConnection(*row) if row else None

    def register_connection(self, name: str, fingerprint: str) -> StoredConnection:
        self._require_write()
        self._db.execute(
            "INSERT OR IGNORE INTO connections (name, fingerprint, first_seen) VALUES (?, ?, ?)",
            (name, fingerprint, now()),
        )
        found = self.connection(name, fingerprint)
        assert found is not None
        return found

    def record_attempt(self, connection_id: int, error: str | None) -> None:
        self._require_write()
        stamp = now()
        if error is None:
            self._db.execute(
                "UPDATE connections SET last_attempt = ?, last_success = ?, last_error = NULL WHERE id = ?",
                (stamp, stamp, connection_id),
            )
        else:
            self._db.execute(
                "UPDATE connections SET last_attempt = ?, last_error = ? WHERE id = ?", (stamp, error, connection_id)
            )

    # -- tables -------------------------------------------------------------------------------
    def tables(self, connections: Sequence[StoredConnection], present_only: bool = True) -> list[StoredTable]:
        """Tables of these connections, in the order they were first found (oldest first)."""
        by_id = {c.id: c.name for c in connections}
        if not by_id:
            return []
        marks = ",".join("?" * len(by_id))
        where = f"connection_id IN ({marks})" + (" AND present = 1" if present_only else "")
        rows = self._db.execute(
            "SELECT id, connection_id, database_name, schema_name, table_name, object_id, created, status, "
            f"present, collision, first_seen, last_seen, dropped_at FROM tables WHERE {where} ORDER BY id",
            tuple(by_id),
        ).fetchall()
        columns: dict[int, list[StoredColumn]] = {}
        for table_id, name, blob, nullable, is_new, first, last in self._db.execute(
            "SELECT c.table_id, c.name, c.arrow_type, c.nullable, c.is_new, c.first_seen, c.last_seen "
            f"FROM columns c JOIN tables t ON t.id = c.table_id WHERE t.{where} ORDER BY c.table_id, c.position",
            tuple(by_id),
        ):
            arrow_type, source_type, default, comment, declared = _TYPES.decode(blob)
            columns.setdefault(table_id, []).append(
                StoredColumn(name, arrow_type, bool(nullable), bool(is_new), first, last,
                             source_type=source_type, default=default, description=comment, declared_type=declared)
            )
        details = {
            table_id: (description, keys_from_json(keys))
            for table_id, description, keys in self._db.execute(
                "SELECT d.table_id, d.description, d.keys "
                f"FROM table_details d JOIN tables t ON t.id = d.table_id WHERE t.{where}",
                tuple(by_id),
            )
        }
        return [
            StoredTable(
                connection=by_id[connection_id], database=database, schema=schema, name=name,
                columns=tuple(columns.get(table_id, ())), status=status, id=table_id, object_id=object_id,
                created=created, present=bool(present), collision=collision, first_seen=first,
                last_seen=last, dropped_at=dropped, description=details.get(table_id, (None, ()))[0],
                keys=details.get(table_id, (None, ()))[1],
            )
            for (table_id, connection_id, database, schema, name, object_id, created, status, present,
                 collision, first, last, dropped) in rows
        ]

    def save_table(self, connection_id: int, table: StoredTable, *, changed: bool) -> int:
        """Insert or fully rewrite one present table and its columns; ``changed`` marks it as
        changed at the source (the result cache drops what it holds for it)."""
        self._require_write()
        stamp = now()
        values = (
            table.database, table.object_id, table.created, table.status, table.collision,
            table.first_seen or stamp, stamp,
        )
        if table.id is None:
            cursor = self._db.execute(
                "INSERT INTO tables (connection_id, schema_name, table_name, database_name, object_id, created, "
                "status, collision, first_seen, last_seen, present, dropped_at, changed_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, 0)",
                (connection_id, table.schema, table.name, *values),
            )
            table_id = int(cursor.lastrowid or 0)
        else:
            table_id = table.id
            self._db.execute(
                "UPDATE tables SET database_name = ?, object_id = ?, created = ?, status = ?, collision = ?, "
                "first_seen = ?, last_seen = ?, present = 1, dropped_at = NULL WHERE id = ?",
                (*values, table_id),
            )
        self._db.execute("DELETE FROM columns WHERE table_id = ?", (table_id,))
        self._db.executemany(
            "INSERT INTO columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (table_id, c.name, position, c.type_name, _TYPES.encode(c), int(c.nullable),
                 int(c.is_new), c.first_seen or stamp, stamp)
                for position, c in enumerate(table.columns)
            ],
        )
        self._db.execute("DELETE FROM table_details WHERE table_id = ?", (table_id,))
        if table.description is not None or table.keys:
            self._db.execute("INSERT INTO table_details VALUES (?, ?, ?)",
                             (table_id, table.description, keys_to_json(table.keys)))
        if changed:
            self._touched.add(table_id)
        else:
            self._bump = True
        return table_id

    def mark_seen(self, table_ids: Iterable[int]) -> None:
        """Unchanged tables: only their (and their columns') last sighting moves."""
        self._require_write()
        stamp = now()
        ids = [(stamp, i) for i in table_ids]
        self._db.executemany("UPDATE tables SET last_seen = ? WHERE id = ?", ids)
        self._db.executemany("UPDATE columns SET last_seen = ? WHERE table_id = ?", ids)

    def mark_dropped(self, table_id: int) -> None:
        self._require_write()
        self._db.execute("UPDATE tables SET present = 0, dropped_at = ? WHERE id = ?", (now(), table_id))
        self._touched.add(table_id)

    def set_collision(self, table_id: int, holder: str | None) -> None:
        self._require_write()
        self._db.execute("UPDATE tables SET collision = ? WHERE id = ?", (holder, table_id))
        self._bump = True

    def changed_tables(self, since: int) -> set[str]:
        """Source keys (``connection.schema.table``) of tables changed after version ``since``."""
        rows = self._db.execute(
            "SELECT c.name, t.schema_name, t.table_name FROM tables t JOIN connections c ON c.id = t.connection_id "
            "WHERE t.changed_version > ?",
            (since,),
        ).fetchall()
        return {f"{c}.{s}.{t}" for c, s, t in rows}

    # -- New flags ----------------------------------------------------------------------------
    def approve(self, table_id: int, columns: Sequence[str] | None = None) -> list[str]:
        """Clear the ``New`` flag of these columns (all of the table's when None); returns the
        columns that carried it."""
        self._require_write()
        flagged = [
            row[0]
            for row in self._db.execute(
                "SELECT name FROM columns WHERE table_id = ? AND is_new = 1 ORDER BY position", (table_id,)
            )
        ]
        approved = [c for c in flagged if columns is None or c in columns]
        self._db.executemany(
            "UPDATE columns SET is_new = 0 WHERE table_id = ? AND name = ?", [(table_id, c) for c in approved]
        )
        if approved:
            self._bump = True
        return approved

    # -- status overrides ---------------------------------------------------------------------
    def overrides(self) -> list[StatusOverride]:
        rows = self._db.execute(
            "SELECT connection, schema_name, table_name, status, set_at FROM status_overrides ORDER BY 1, 2, 3"
        ).fetchall()
        return [StatusOverride(*row) for row in rows]

    def set_override(self, connection: str, schema: str, table: str, status: Status | None) -> None:
        """Set an object's status, or remove its override (``None``: inherit again)."""
        self._require_write()
        if status is None:
            self._db.execute(
                "DELETE FROM status_overrides WHERE connection = ? AND schema_name = ? AND table_name = ?",
                (connection, schema, table),
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO status_overrides VALUES (?, ?, ?, ?, ?)",
                (connection, schema, table, status, now()),
            )
        self._bump = True

    # -- history ------------------------------------------------------------------------------
    def add_run(
        self, connection: str, trigger: str, started_at: str, error: str | None, tables: int,
        changes: Sequence[SyncChange],
    ) -> SyncRun:
        self._require_write()
        finished = now()
        outcome: Literal["ok", "failed"] = "failed" if error else "ok"
        cursor = self._db.execute(
            "INSERT INTO sync_runs (connection, trigger, started_at, finished_at, outcome, error, tables) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (connection, trigger, started_at, finished, outcome, error, tables),
        )
        run_id = int(cursor.lastrowid or 0)
        self._db.executemany(
            "INSERT INTO sync_changes VALUES (?, ?, ?, ?, ?)",
            [(run_id, seq, c.kind, c.object, c.detail) for seq, c in enumerate(changes)],
        )
        self._db.execute(
            "DELETE FROM sync_runs WHERE connection = ? AND id <= ?", (connection, run_id - _HISTORY_RUNS_KEPT)
        )
        return SyncRun(run_id, connection, trigger, started_at, finished, outcome, error, tables, tuple(changes))

    def runs(self, connection: str | None = None, limit: int = 20) -> list[SyncRun]:
        """The latest sync runs, newest first, with their changes."""
        where, params = ("WHERE connection = ?", (connection,)) if connection else ("", ())
        rows = self._db.execute(
            "SELECT id, connection, trigger, started_at, finished_at, outcome, error, tables FROM sync_runs "
            f"{where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        runs = []
        for run_id, name, trigger, started, finished, outcome, error, tables in rows:
            changes = tuple(
                SyncChange(*c)
                for c in self._db.execute(
                    "SELECT kind, object, detail FROM sync_changes WHERE run_id = ? ORDER BY seq", (run_id,)
                )
            )
            runs.append(SyncRun(run_id, name, trigger, started, finished, outcome, error, tables, changes))
        return runs

    def state(self, connections: Sequence[tuple[str, str]]) -> StoreState:
        """Version, present tables and overrides of these (name, fingerprint) connections."""
        with self.read():
            known = [c for name, fp in connections if (c := self.connection(name, fp)) is not None]
            return StoreState(self.version(), tuple(self.tables(known)), tuple(self.overrides()), tuple(known))


read_version = CatalogStore.read_version
