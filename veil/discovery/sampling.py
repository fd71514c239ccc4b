"""Bounded random samples, taken by a query pushed to the source.

Discovery never reads a whole large table: it asks the source for the table's size from its
statistics, then for a sample in the source's own dialect:

* DuckDB: ``USING SAMPLE reservoir(n ROWS)`` for tables up to ``LARGE_FACTOR × n`` rows; larger
  tables are first cut down block-wise with ``TABLESAMPLE system(p PERCENT)`` so only about
  ``OVERSAMPLE × n`` rows are read before the reservoir picks ``n``.
* PostgreSQL: ``TABLESAMPLE SYSTEM (p)`` (random pages) for large tables and materialised views,
  then ``ORDER BY random() LIMIT n``; small tables use ``ORDER BY random() LIMIT n`` directly.
* Snowflake: ``SAMPLE (n ROWS)`` (a fixed-size row sample, computed at the source).
* Databricks: ``TABLESAMPLE (n ROWS)`` on ``catalog.schema.table``, names in backticks.
* Views, foreign tables and tables without statistics: the first ``LARGE_FACTOR × n`` rows at
  most (``LIMIT``), from which ``n`` are picked at random — bounded, if less random.

Only columns that can hold an entity are read, each cast to text at the source. Columns are read
and named by the source's spelling (``EMAIL`` on Snowflake, served as ``email``): findings and the
tag store key columns the way the catalog store does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from veil.catalog.model import Column, Table
from veil.catalog.sources.base import Source, read_all
from veil.discovery.classify import value_kind
from veil.errors import VeilError

DEFAULT_SAMPLE_ROWS = 10_000
LARGE_FACTOR = 20  # a table above LARGE_FACTOR × n rows is sampled block-wise first
OVERSAMPLE = 3  # rows read by block sampling, relative to the rows kept
SEED = 42


@dataclass(frozen=True)
class SamplePlan:
    sql: str
    method: str
    estimated_rows: int | None


@dataclass(frozen=True)
class Sample:
    table: Table
    data: pa.Table
    plan: SamplePlan
    seconds: float


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sampled_columns(table: Table) -> tuple[Column, ...]:
    """The columns worth sampling: text, integers, dates/timestamps, UUIDs."""
    return tuple(c for c in table.columns if value_kind(c.arrow_type) is not None)


def _projection(columns: Sequence[Column], text_type: str) -> str:
    return ", ".join(
        f"CAST({quote_identifier(c.raw_name)} AS {text_type}) AS {quote_identifier(c.raw_name)}" for c in columns
    )


def _percent(rows: int, keep: int) -> str:
    """The share of ``rows`` to read so that about ``OVERSAMPLE × keep`` rows come back."""
    return f"{min(100.0, 100.0 * OVERSAMPLE * keep / rows):.6f}"


def duckdb_sample_sql(table: Table, columns: Sequence[Column], rows: int, estimated: int | None) -> SamplePlan:
    relation = f"{quote_identifier(table.source_schema)}.{quote_identifier(table.source_name)}"
    projection = _projection(columns, "VARCHAR")
    reservoir = f"USING SAMPLE reservoir({rows} ROWS) REPEATABLE ({SEED})"
    if estimated is None:
        sql = f"SELECT * FROM (SELECT {projection} FROM {relation} LIMIT {LARGE_FACTOR * rows}) {reservoir}"
        return SamplePlan(sql, "bounded", None)
    if estimated > LARGE_FACTOR * rows:
        block = f"TABLESAMPLE system({_percent(estimated, rows)} PERCENT) REPEATABLE ({SEED})"
        return SamplePlan(f"SELECT {projection} FROM {relation} {block} {reservoir}", "system+reservoir", estimated)
    return SamplePlan(f"SELECT {projection} FROM {relation} {reservoir}", "reservoir", estimated)


def postgres_sample_sql(
    table: Table, columns: Sequence[Column], rows: int, estimated: int | None, samplable: bool
) -> SamplePlan:
    relation = f"{quote_identifier(table.source_schema)}.{quote_identifier(table.source_name)}"
    projection = _projection(columns, "text")
    pick = f"ORDER BY random() LIMIT {rows}"
    if estimated is None:
        inner = f"SELECT {projection} FROM {relation} LIMIT {LARGE_FACTOR * rows}"
        return SamplePlan(f"SELECT * FROM ({inner}) AS veil_sample {pick}", "bounded", None)
    if samplable and estimated > OVERSAMPLE * rows:
        block = f"TABLESAMPLE SYSTEM ({_percent(estimated, rows)}) REPEATABLE ({SEED})"
        return SamplePlan(f"SELECT {projection} FROM {relation} {block} {pick}", "tablesample", estimated)
    return SamplePlan(f"SELECT {projection} FROM {relation} {pick}", "random", estimated)


def databricks_sample_sql(table: Table, columns: Sequence[Column], rows: int) -> SamplePlan:
    """Databricks quotes names with backticks (a double-quoted name is a string there)."""
    def tick(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    parts = (table.source_database, table.source_schema, table.source_name)
    relation = ".".join(tick(p) for p in parts if p)
    projection = ", ".join(f"CAST({tick(c.raw_name)} AS STRING) AS {tick(c.raw_name)}" for c in columns)
    return SamplePlan(f"SELECT {projection} FROM {relation} TABLESAMPLE ({rows} ROWS)", "rows", None)


def _read_all(source: Source, sql: str) -> pa.Table:
    try:
        return read_all(source, sql)
    except VeilError:
        raise
    except Exception as exc:  # noqa: BLE001 - any driver error becomes a VeilError
        raise source.map_error(exc) from None


def _duckdb_estimate(source: Source, table: Table) -> int | None:
    database = _literal(table.source_database) if table.source_database else "current_database()"
    sql = (
        "SELECT estimated_size FROM duckdb_tables() WHERE database_name = "
        f"{database} AND schema_name = {_literal(table.source_schema)} "
        f"AND table_name = {_literal(table.source_name)}"
    )
    rows = _read_all(source, sql).column(0).to_pylist()
    return int(rows[0]) if rows and rows[0] is not None else None


_PG_ESTIMATE = """
SELECT c.relkind::text, c.reltuples::float8, pg_catalog.pg_relation_size(c.oid)::float8
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = {schema} AND c.relname = {name}
"""
_PG_BYTES_PER_ROW = 100  # only used when a table was never analysed


def _postgres_estimate(source: Source, table: Table) -> tuple[int | None, bool]:
    """(estimated rows or None if unknown, whether TABLESAMPLE applies to the relation)."""
    sql = _PG_ESTIMATE.format(schema=_literal(table.source_schema), name=_literal(table.source_name))
    found = _read_all(source, sql).to_pylist()
    if not found:
        return None, False
    kind, tuples, size = found[0].values()
    samplable = kind in ("r", "m", "p")
    if tuples is not None and tuples >= 0 and not (tuples == 0 and size):
        return int(tuples), samplable
    if kind in ("r", "m") and size is not None:
        return int(size // _PG_BYTES_PER_ROW), samplable
    return None, samplable


def plan_sample(source: Source, table: Table, rows: int = DEFAULT_SAMPLE_ROWS) -> SamplePlan | None:
    """The sample query for ``table`` in its source's dialect (None: nothing worth sampling)."""
    columns = sampled_columns(table)
    if not columns:
        return None
    if source.dialect == "duckdb":
        return duckdb_sample_sql(table, columns, rows, _duckdb_estimate(source, table))
    if source.dialect == "postgres":
        estimated, samplable = _postgres_estimate(source, table)
        return postgres_sample_sql(table, columns, rows, estimated, samplable)
    relation = f"{quote_identifier(table.source_schema)}.{quote_identifier(table.source_name)}"
    if source.dialect == "databricks":
        return databricks_sample_sql(table, columns, rows)
    if source.dialect == "snowflake":
        return SamplePlan(f"SELECT {_projection(columns, 'VARCHAR')} FROM {relation} SAMPLE ({rows} ROWS)", "rows", None)
    return SamplePlan(f"SELECT {_projection(columns, 'VARCHAR')} FROM {relation} LIMIT {rows}", "bounded", None)


def sample_table(source: Source, table: Table, rows: int = DEFAULT_SAMPLE_ROWS) -> Sample | None:
    """Run the sample query; the result has one text column per sampled column."""
    started = time.perf_counter()
    plan = plan_sample(source, table, rows)
    if plan is None:
        return None
    data = _read_all(source, plan.sql)
    return Sample(table, data, plan, time.perf_counter() - started)
