"""Embedded SQLite stores under ``state_dir``, shared by a CLI and a running server.

WAL mode lets readers proceed while one writer commits; a busy timeout makes a second writer
wait instead of failing. Autocommit mode (``isolation_level=None``) leaves transactions to the
stores, which open them explicitly (``BEGIN IMMEDIATE``) around each write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar, Self

BUSY_TIMEOUT_MS = 15_000


def connect(path: Path, *, create: bool, existing_mode: str = "ro") -> sqlite3.Connection:
    """Open (or create) a store file; ``existing_mode`` is ``ro`` or ``rw`` when not creating."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
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


class SqliteStore:
    """Open/close plumbing of one store file named ``FILE_NAME`` under ``state_dir``."""

    FILE_NAME: ClassVar[str]
    path: Path
    _db: sqlite3.Connection

    @classmethod
    def open(cls, state_dir: Path) -> Self:
        return cls(Path(state_dir) / cls.FILE_NAME)  # type: ignore[call-arg]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
