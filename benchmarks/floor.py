"""What the sources cost on their own, for reading the point-query ratio.

Veil cannot answer a point query faster than its source runs it. This module times the same
point queries in this process through Veil's own source adapters (the DuckDB file with Veil's
settings; PostgreSQL through ADBC), without the wire protocol, sessions, policies or audit. The
difference between a workload's Veil time and this floor is what the proxy adds per statement;
a ratio below ``floor / PostgreSQL direct`` is out of reach for any proxy on that source.

:func:`source_statement` is the floor of a statement under policies: the SQL Veil sends its
source for a user (row filters and masks applied) with the values of its parameters (the hash
key included), for running on PostgreSQL directly (``benchmarks.wire --policies``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from benchmarks.workloads import POINT_SQL, Options, Statement
from tests.conftest import postgres_connection
from veil.api import SessionInfo
from veil.catalog.registry import open_source
from veil.catalog.sources.base import Source, read_all
from veil.config import parse_config
from veil.config.models import ConnectionConfig
from veil.engine.engine import QueryEngine
from veil.engine.session import Plan
from veil.planner.pushdown import SourcePlan

_STATEMENT = POINT_SQL.replace("%s", "$1")


@dataclass(frozen=True)
class EngineFloor:
    """Best seconds for ``points`` point queries run in-process through each source adapter."""

    points: int
    duckdb_seconds: float
    postgres_seconds: float

    def as_json(self) -> dict[str, float | int]:
        return asdict(self)


def _best(repeat: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _point_queries(source: Source, ids: list[int], repeat: int) -> float:
    def run() -> None:
        for id_ in ids:
            read_all(source, _STATEMENT, [id_])

    try:
        return _best(repeat, run)
    finally:
        source.close()


def measure(duckdb_path: Path, postgres_dsn: str, options: Options) -> EngineFloor:
    ids = random.Random(42).sample(range(1, options.rows + 1), min(options.points, options.rows))
    duckdb_source = open_source("warehouse", ConnectionConfig(type="duckdb", path=duckdb_path))
    postgres_source = open_source("warehouse", ConnectionConfig.model_validate(postgres_connection(postgres_dsn)))
    return EngineFloor(
        len(ids),
        _point_queries(duckdb_source, ids, options.repeat),
        _point_queries(postgres_source, ids, options.repeat),
    )


def source_statement(config: dict[str, object], user: str, sql: str, state_dir: Path) -> Statement:
    """What Veil sends its source for ``sql`` read by ``user`` under ``config``'s policies: the
    pushed-down SQL and its parameters (the hash key as ``$n``, as Veil binds it)."""
    engine = QueryEngine(parse_config({**config, "state_dir": str(state_dir)}))

    async def plan() -> SourcePlan:
        session = engine.open_session(SessionInfo(user=user, database=engine.config.server.database))
        query = cast(Plan, (await session.prepare(sql, [])).plan).query  # the engine's own plan
        if not isinstance(query, SourcePlan):
            raise SystemExit(f"{sql!r} does not run on one source as a whole: no floor statement")
        return query

    try:
        query = asyncio.run(plan())
        return Statement(query.sql, tuple(engine.with_hash_key([], query.key_param)))
    finally:
        engine.close()
