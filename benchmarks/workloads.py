"""Client workloads, each run the same way against PostgreSQL and against Veil.

A workload opens a session (connection set up outside the timed region) that yields `run()`; one
call is one timed repetition and returns a digest of what it read. The digests of both servers must
agree, so a fast wrong answer never counts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import psycopg

from benchmarks.dataset import TABLE

BULK_SQL = f"SELECT id, customer_id, name, score, amount, created, flag FROM {TABLE}"
POINT_SQL = f"SELECT * FROM {TABLE} WHERE id = %s"
GROUP_BY_SQL = (
    (
        f"SELECT customer_id % 100 AS bucket, count(*) AS n, sum(amount) AS total, avg(score) AS mean_score"
        f" FROM {TABLE} GROUP BY 1 ORDER BY 1"
    ),
    (
        f"SELECT flag, count(*) AS n, min(created) AS first, max(created) AS last, sum(amount) AS total"
        f" FROM {TABLE} GROUP BY flag ORDER BY flag"
    ),
    (
        f"SELECT date_trunc('month', created) AS month, count(*) AS n, avg(amount) AS mean_amount, max(score) AS top"
        f" FROM {TABLE} GROUP BY 1 ORDER BY 1"
    ),
)

Run = Callable[[], Any]  # one timed repetition; returns a digest of the rows read


@dataclass(frozen=True)
class Options:
    rows: int
    repeat: int
    points: int
    budget_seconds: float  # stop repeating a workload once one server has used this much time on it


@dataclass(frozen=True)
class Statement:
    """A statement in PostgreSQL's own spelling (``$n`` parameters) and its parameter values:
    what Veil sends its source for a workload's statement (the floor of a proxy with policies)."""

    sql: str
    params: tuple[object, ...] = ()


BULK = Statement(BULK_SQL)


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    target_ratio: float | None
    session: Callable[[str, Options], AbstractContextManager[Run]]
    #: The same session reading a given statement instead (bulk reads: the floor, see harness).
    statement_session: Callable[[str, Options, Statement], AbstractContextManager[Run]] | None = None


def _normalise(value: Any) -> Any:
    """Aggregates may differ in representation (numeric vs double): compare to 9 significant digits."""
    if isinstance(value, float | Decimal):
        return float(f"{float(value):.9g}")
    return value


@contextmanager
def bulk_psycopg_text(dsn: str, options: Options, statement: Statement = BULK) -> Iterator[Run]:
    # The statement's own spelling: a RawCursor sends ``$n`` and its parameters as they are.
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.RawCursor) as connection:

        def run() -> tuple[int, int, Decimal]:
            count, ids, amounts = 0, 0, Decimal(0)
            with connection.cursor() as cursor:
                for row in cursor.execute(statement.sql, statement.params or None):
                    count += 1
                    ids += row[0]
                    amounts += row[4]
            return count, ids, amounts

        yield run


@contextmanager
def bulk_asyncpg_binary(dsn: str, options: Options, statement: Statement = BULK) -> Iterator[Run]:
    loop = asyncio.new_event_loop()
    connection = loop.run_until_complete(asyncpg.connect(dsn))
    try:

        def run() -> tuple[int, int, Decimal]:
            records = loop.run_until_complete(connection.fetch(statement.sql, *statement.params))
            return len(records), sum(r[0] for r in records), sum((r[4] for r in records), Decimal(0))

        yield run
    finally:
        loop.run_until_complete(connection.close())
        loop.close()


@contextmanager
def point_queries(dsn: str, options: Options) -> Iterator[Run]:
    ids = random.Random(42).sample(range(1, options.rows + 1), min(options.points, options.rows))
    with psycopg.connect(dsn, autocommit=True) as connection:

        def run() -> tuple[int, int]:
            found, checksum = 0, 0
            with connection.cursor() as cursor:
                for id_ in ids:
                    row = cursor.execute(POINT_SQL, (id_,), prepare=True).fetchone()
                    if row is not None:
                        found += 1
                        checksum += row[0] + row[1]
            return found, checksum

        yield run


@contextmanager
def group_by(dsn: str, options: Options) -> Iterator[Run]:
    with psycopg.connect(dsn, autocommit=True) as connection:

        def run() -> list[list[tuple[Any, ...]]]:
            return [
                [tuple(_normalise(v) for v in row) for row in connection.execute(query).fetchall()]
                for query in GROUP_BY_SQL
            ]

        yield run


WORKLOADS = (
    Workload("bulk psycopg text", "all rows, psycopg 3, text results", 1.5, bulk_psycopg_text, bulk_psycopg_text),
    Workload(
        "bulk asyncpg binary",
        "all rows, asyncpg fetch(), binary results",
        1.5,
        bulk_asyncpg_binary,
        bulk_asyncpg_binary,
    ),
    Workload("point queries", "psycopg prepared `WHERE id = $1`, one connection", 3.0, point_queries),
    Workload("group-by aggregates", f"{len(GROUP_BY_SQL)} GROUP BY queries, psycopg", None, group_by),
)
