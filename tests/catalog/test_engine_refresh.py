"""An engine applies object sync at once: a new catalog snapshot, and cached results dropped only
for the tables that changed at their source (in process, over a real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from tests.catalog.support import ddl, private_database
from tests.conftest import postgres_connection
from veil.api import SessionInfo
from veil.config import parse_config
from veil.engine.engine import QueryEngine
from veil.engine.session import Session


async def fetch(engine: QueryEngine, sql: str) -> list[tuple[object, ...]]:
    session = Session(engine, SessionInfo(user="u", database="veil"))
    prepared = await session.prepare(sql, [])
    stream = await session.execute(prepared, [])
    batches = [b async for b in stream]
    return [tuple(r.values()) for r in pa.Table.from_batches(batches, schema=stream.schema).to_pylist()]


@pytest.fixture
def engine(postgres_dsn: str, tmp_path: Path):
    with private_database(postgres_dsn, "veil_catalog_refresh") as dsn:
        ddl(dsn, "CREATE SCHEMA s", "CREATE TABLE s.kept (id int)", "INSERT INTO s.kept VALUES (1)",
            "CREATE TABLE s.redone (id int)", "INSERT INTO s.redone VALUES (1)")
        config = parse_config({
            "state_dir": str(tmp_path / "state"),
            "server": {"search_path": "s"},
            "cache": {"default_latency": "1h"},
            "connections": {"pg": postgres_connection(dsn)},
            "users": {"u": {}},
            "policies": [{"name": "all", "subscription": {"tables": ["*"], "allow": "everyone"}}],
        })
        engine = QueryEngine(config)
        yield engine, dsn
        engine.close()


async def test_sync_drops_cached_results_of_changed_tables_only(engine) -> None:
    engine, dsn = engine
    assert await fetch(engine, "SELECT id FROM kept") == [(1,)]
    assert await fetch(engine, "SELECT id FROM redone") == [(1,)]
    assert engine.cache.summary()["entries"] == 2
    generation, version = engine.generation, engine.catalog.snapshot.version

    ddl(dsn, "DROP TABLE s.redone", "CREATE TABLE s.redone (id int)", "INSERT INTO s.redone VALUES (2)",
        "INSERT INTO s.kept VALUES (2)")
    [result] = engine.sync(["pg"])
    assert [(c.kind, c.object) for c in result.changes] == [("table_recreated", "pg.s.redone")]
    assert engine.catalog.snapshot.version == version + 1 and engine.generation > generation
    assert engine.cache.summary()["entries"] == 1, "only the recreated table's results were dropped"
    assert await fetch(engine, "SELECT id FROM redone") == [(2,)]
    assert await fetch(engine, "SELECT id FROM kept") == [(1,)], "an unchanged table keeps its cached result"


async def test_a_store_without_changes_keeps_plans(engine) -> None:
    engine, _ = engine
    await fetch(engine, "SELECT id FROM kept")
    generation = engine.generation
    engine.sync(["pg"])
    engine.refresh_catalog(force=True)
    assert engine.generation == generation, "a sync that changed nothing does not invalidate plans"
