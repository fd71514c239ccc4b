"""The benchmark table: the same N rows in a DuckDB file (served by Veil) and in PostgreSQL.

Rows are generated once in DuckDB, exported as CSV and COPYed into PostgreSQL, so both sides hold
identical values. Both copies are reused across runs when their marker says they are current.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

VERSION = "veil-bench-v1"
SCHEMA = "bench"
TABLE = f"{SCHEMA}.t"

COLUMNS_DDL = """
    id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    amount NUMERIC(12, 2) NOT NULL,
    created TIMESTAMP NOT NULL,
    flag BOOLEAN NOT NULL
"""

#: The DuckDB file's own version: v2 keys the table by id (an ART index), as PostgreSQL's is.
DUCKDB_VERSION = "veil-bench-v2"

GENERATE_SQL = f"""
INSERT INTO {TABLE}
SELECT
    i::BIGINT AS id,
    ((i * 7919) % 50000)::BIGINT AS customer_id,
    'customer name ' || (i % 100000)::VARCHAR AS name,
    ((i * 2654435761) % 1000003)::DOUBLE / 7.0 AS score,
    (((i * 31) % 10000000) / 100.0)::DECIMAL(12, 2) AS amount,
    TIMESTAMP '2024-01-01 00:00:00' + to_microseconds(i * 37000123) AS created,
    i % 3 = 0 AS flag
FROM range(1, $rows + 1) AS r(i)
ORDER BY i
"""


def marker(rows: int) -> str:
    return f"{VERSION} rows={rows}"


def duckdb_file(cache_dir: Path, rows: int) -> Path:
    """The DuckDB copy, built on first use (written to a temporary name, then renamed)."""
    path = cache_dir / f"wire-{DUCKDB_VERSION}-{rows}.duckdb"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with duckdb.connect(str(partial)) as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        connection.execute(f"CREATE TABLE {TABLE} ({COLUMNS_DDL})")
        connection.execute(GENERATE_SQL.replace("$rows", str(int(rows))))
        connection.execute("CHECKPOINT")
    partial.rename(path)
    return path


def postgres_is_current(dsn: str, rows: int) -> bool:
    with psycopg.connect(dsn, autocommit=True) as connection:
        found = connection.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (TABLE,)).fetchone()
    return bool(found and found[0] == marker(rows))


def load_postgres(dsn: str, duckdb_path: Path, rows: int) -> None:
    """(Re)create bench.t in PostgreSQL from the DuckDB copy, unless it is already current."""
    if postgres_is_current(dsn, rows):
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "t.csv"
        with duckdb.connect(str(duckdb_path), read_only=True) as source:
            source.execute(f"COPY (SELECT * FROM {TABLE} ORDER BY id) TO '{csv_path}' (HEADER, DELIMITER ',')")
        with psycopg.connect(dsn) as connection:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            connection.execute(f"DROP TABLE IF EXISTS {TABLE}")
            connection.execute(f"CREATE TABLE {TABLE} ({COLUMNS_DDL})")
            copy_sql = f"COPY {TABLE} FROM STDIN (FORMAT csv, HEADER true)"
            with connection.cursor().copy(copy_sql) as copy, csv_path.open("rb") as data:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
            connection.execute(
                sql.SQL("COMMENT ON TABLE {} IS {}").format(sql.Identifier(SCHEMA, "t"), sql.Literal(marker(rows)))
            )
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"VACUUM ANALYZE {TABLE}")
