"""What the sources cost on their own, for reading the point-query ratio.

Veil cannot answer a point query faster than its source runs it. This module times the same
point queries in this process through Veil's own source adapters (the DuckDB file with Veil's
settings; PostgreSQL through ADBC), without the wire protocol, sessions, policies or audit. The
difference between a workload's Veil time and this floor is what the proxy adds per statement;
a ratio below ``floor / PostgreSQL direct`` is out of reach for any proxy on that source.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.workloads import POINT_SQL, Options
from tests.conftest import postgres_connection
from veil.catalog.registry import open_source
from veil.catalog.sources.base import Source, read_all
from veil.config.models import ConnectionConfig

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
