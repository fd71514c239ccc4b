"""Source databases for end-to-end tests: run the DDL, insert the rows (one ``executemany`` per
table, placeholders sized to the rows), return the connection's config where the caller needs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import psycopg

Rows = Mapping[str, Sequence[Sequence[object]]]


def seed_duckdb(path: Path, statements: Sequence[str], rows: Rows) -> dict[str, object]:
    connection = duckdb.connect(str(path))
    try:
        for statement in statements:
            connection.execute(statement)
        for table, values in rows.items():
            if values:
                connection.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values[0]))})", values)
    finally:
        connection.close()
    return {"type": "duckdb", "path": str(path)}


def seed_postgres(dsn: str, statements: Sequence[str], rows: Rows) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)
        with connection.cursor() as cursor:
            for table, values in rows.items():
                if values:
                    cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(values[0]))})", values)
