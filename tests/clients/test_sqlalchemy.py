"""SQLAlchemy 2.1 against `veil serve` with the conformance mask, through each of its PostgreSQL
dialects (psycopg, psycopg2, asyncpg): `inspect()` lists tables and columns, `MetaData.reflect`
builds Table objects that Core selects then use (IN lists, ANY arrays, typed bind parameters),
pandas `read_sql` streams sales.big in chunks, and the masked user sees masked names only."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from types import ModuleType

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER

from tests.clients.conftest import MASK, MASKED_USER, STREAM, USERS, Recorder, assert_conformant
from tests.clients.support import Report, in_ci
from tests.conftest import VeilServer

SYNC_DRIVERS = ["psycopg", "psycopg2"]


def _sqlalchemy_asyncio() -> ModuleType:
    """sqlalchemy.ext.asyncio needs greenlet (the ``sqlalchemy[asyncio]`` extra): skipped on a
    laptop without it, a failure in CI."""
    try:
        importlib.import_module("greenlet")
        return importlib.import_module("sqlalchemy.ext.asyncio")
    except ImportError as error:
        if in_ci():
            pytest.fail(f"SQLAlchemy's asyncio extension is required in CI: {error}")
        pytest.skip(f"SQLAlchemy's asyncio extension is not installed: {error}")


def _url(server: VeilServer, user: str, driver: str) -> str:
    return server.dsn(user).replace("postgresql://", f"postgresql+{driver}://").replace(
        "?sslmode=disable", "?ssl=disable" if driver == "asyncpg" else "?sslmode=disable")


def _run(conn: sa.Connection, out: Recorder) -> None:
    """The conformance path on one (sync or run_sync'ed async) connection."""
    out.add("version", ".".join(str(p) for p in conn.dialect.server_version_info[:2]))
    inspector = sa.inspect(conn)
    out.add("tables", ",".join(sorted(inspector.get_table_names(schema="sales"))))
    out.add("columns", ",".join(f"{c['name']}:{c['type']}" for c in inspector.get_columns("orders", schema="sales")))
    metadata = sa.MetaData()
    metadata.reflect(conn, schema="sales", only=["customers", "orders"])
    customers = metadata.tables["sales.customers"]
    query = (sa.select(customers.c.id, customers.c.name)
             .where(customers.c.id.in_([2, 3, 5]), customers.c.country != "XX").order_by(customers.c.id))
    out.in_rows(list(conn.execute(query)))
    masked = conn.execute(sa.select(customers.c.name).where(customers.c.id == sa.bindparam("i", type_=sa.Integer)), {"i": 1})
    out.add("masked", masked.scalar_one())


def _stream(conn: sa.Connection, out: Recorder) -> None:
    count = total = 0
    chunks = pd.read_sql("SELECT id, doubled FROM sales.big", conn.execution_options(stream_results=True), chunksize=50000)
    for chunk in chunks:
        assert len(chunk) <= 50000
        count += len(chunk)
        total += int(chunk["doubled"].sum())
    out.add("stream", count, total)


@pytest.fixture
def engines() -> Iterator[list[sa.Engine]]:
    made: list[sa.Engine] = []
    yield made
    for engine in made:
        engine.dispose()


@pytest.mark.parametrize("driver", SYNC_DRIVERS)
@pytest.mark.parametrize("user", USERS)
def test_conformant_sync_dialects(conformance_server: VeilServer, engines: list[sa.Engine], user: str, driver: str) -> None:
    engine = sa.create_engine(_url(conformance_server, user, driver))
    engines.append(engine)
    out = Recorder()
    with engine.connect() as conn:
        _run(conn, out)
        _stream(conn, out)
    assert_conformant(out.report(), user)


@pytest.mark.parametrize("user", USERS)
def test_conformant_asyncpg_dialect(conformance_server: VeilServer, user: str) -> None:
    asyncio_ext = _sqlalchemy_asyncio()

    async def run() -> Report:
        engine = asyncio_ext.create_async_engine(_url(conformance_server, user, "asyncpg"))
        out = Recorder()
        try:
            async with engine.connect() as conn:
                await conn.run_sync(_run, out)
                count = total = 0
                result = await conn.stream(sa.text("SELECT id, doubled FROM sales.big"))
                async for partition in result.partitions(50000):
                    count += len(partition)
                    total += sum(row[1] for row in partition)
                out.add("stream", count, total)
        finally:
            await engine.dispose()
        return out.report()

    report = asyncio.run(run())
    assert_conformant(report, user)
    assert tuple(report.one("stream")) == STREAM


@pytest.mark.parametrize("driver", SYNC_DRIVERS)
def test_any_arrays_and_typed_bind_parameters(conformance_server: VeilServer, engines: list[sa.Engine], driver: str) -> None:
    engine = sa.create_engine(_url(conformance_server, MASKED_USER, driver))
    engines.append(engine)
    with engine.connect() as conn:
        ids = sa.bindparam("ids", type_=ARRAY(INTEGER))
        rows = conn.execute(sa.text("SELECT id, name FROM sales.customers WHERE id = ANY(:ids) ORDER BY id").bindparams(ids),
                            {"ids": [4, 7]}).all()
        assert [tuple(r) for r in rows] == [(4, MASK), (7, MASK)]
        frame = pd.read_sql(sa.text("SELECT id, name FROM sales.customers WHERE id < :n ORDER BY id"), conn, params={"n": 4})
        assert frame["id"].tolist() == [1, 2, 3] and set(frame["name"]) == {MASK}
