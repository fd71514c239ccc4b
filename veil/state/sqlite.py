"""Embedded SQLite stores under ``state_dir``, shared by a CLI and a running server.

WAL mode lets readers proceed while one writer commits; a busy timeout makes a second writer
wait instead of failing. Autocommit mode (``isolation_level=None``) leaves transactions to the
stores, which open them explicitly (``BEGIN IMMEDIATE``) around each write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Self

from veil import errcodes
from veil.private_files import private_file

BUSY_TIMEOUT_MS = 15_000


def now() -> str:
    """The time stamps the stores write: UTC, ISO 8601, whole seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def connect(path: Path, *, create: bool, existing_mode: str = "ro") -> sqlite3.Connection:
    """Open (or create) a store file; ``existing_mode`` is ``ro`` or ``rw`` when not creating."""
    if create:
        private_file(path)  # 0600 before SQLite opens it: its -wal and -shm files copy the mode
    db = sqlite3.connect(
        f"file:{path}?mode={'rwc' if create else existing_mode}", uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False,
    )
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if create:
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    return db


def create_schema(db: sqlite3.Connection, schema: str) -> None:
    for statement in schema.split(";"):
        if statement.strip():
            db.execute(statement)


def check_layout(db: sqlite3.Connection, schema: str, path: Path) -> None:
    """Refuse a store whose tables do not have the columns ``schema`` creates (a store written
    by another Veil version), with a message an admin can act on instead of a failed INSERT
    later. ``CREATE TABLE IF NOT EXISTS`` leaves such tables as they are, so this must run
    after the schema (and any upgrade) was applied."""
    expected = sqlite3.connect(":memory:")
    try:
        create_schema(expected, schema)
        tables = [name for (name,) in expected.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            wanted = _columns(expected, table)
            found = _columns(db, table)
            if found != wanted:
                raise errcodes.ConfigFileError(
                    f"the state store {path} was written by another Veil version (table {table} has columns "
                    f"{', '.join(found)}; this version needs {', '.join(wanted)})",
                    hint=f"stop Veil, move {path} away and start again: object sync rebuilds it from the "
                    "sources (status overrides, approvals and tag decisions kept in it are lost)",
                )
    finally:
        expected.close()


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


class SqliteStore:
    """Open/close plumbing of one store file named ``FILE_NAME`` under ``state_dir``."""

    FILE_NAME: ClassVar[str]
    path: Path
    _db: sqlite3.Connection

    @classmethod
    def open(cls, state_dir: Path) -> Self:
        # every concrete store takes ``path`` and a keyword ``create``; this base declares the
        # field only, so mypy sees object's no-argument __init__
        return cls(Path(state_dir) / cls.FILE_NAME)  # type: ignore[call-arg]

    @classmethod
    @contextmanager
    def existing(cls, path: Path) -> Iterator[Self | None]:
        """The store at ``path`` without creating it (None when there is no store yet)."""
        if not Path(path).exists():
            yield None
            return
        store = cls(path, create=False)  # type: ignore[call-arg]
        try:
            yield store
        finally:
            store.close()

    @classmethod
    def read_version(cls, path: Path) -> int | None:
        """The version of the store at ``path`` (None when there is no store yet)."""
        with cls.existing(path) as store:
            return None if store is None else store.version()

    def version(self) -> int:
        """The store's version: ``meta``'s counter, moved by each write that changes the store."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
