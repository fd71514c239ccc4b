"""Server-side cursors, COPY TO STDOUT and SQL PREPARE/EXECUTE through `veil serve`, with real
drivers (psycopg 3 named cursors and COPY, psycopg2 named cursors, asyncpg cursors, SQLAlchemy
reflection, pandas chunked reads). A masked column must come out masked every way it is read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pandas as pd
import psycopg
import psycopg2
import pytest
import sqlalchemy as sa

from tests.conftest import VeilServer, base_config, start_server, stop_server

MASK = "***"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[VeilServer]:
    config = base_config(warehouse)
    config["policies"].append(  # type: ignore[attr-defined]
        {"name": "Hide names", "mask": {"columns": ["name"], "with": "constant", "value": MASK}}
    )
    process, veil = start_server(tmp_path_factory.mktemp("cursors"), config)
    try:
        yield veil
    finally:
        stop_server(process)


def test_psycopg_named_cursor_streams_in_batches_and_sees_masked_values(server: VeilServer) -> None:
    with psycopg.connect(server.dsn()) as conn:
        with conn.cursor(name="customers_cursor") as cur:
            cur.execute("SELECT id, name FROM sales.customers WHERE id > %s ORDER BY id", [90])
            first = cur.fetchmany(3)
            rest = cur.fetchall()
        assert first == [(91, MASK), (92, MASK), (93, MASK)]
        assert [r[0] for r in rest] == list(range(94, 101))
        assert all(r[1] == MASK for r in rest)
        assert not any("customer" in str(r) for r in first + rest)


def test_psycopg2_named_cursor(server: VeilServer) -> None:
    conn = psycopg2.connect(**server.kwargs())
    try:
        cur = conn.cursor("p2cursor")
        cur.itersize = 7
        cur.execute("SELECT id, doubled FROM sales.big WHERE id < %s ORDER BY id", (25,))
        rows = list(cur)
        assert rows == [(i, 2 * i) for i in range(25)]
        cur.close()
        conn.commit()
    finally:
        conn.close()


def test_fetch_move_scroll_and_hold_follow_postgres(server: VeilServer) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.NoActiveSqlTransaction):  # 25P01
            conn.execute("DECLARE c CURSOR FOR SELECT 1")
        with conn.transaction():
            conn.execute("DECLARE s SCROLL CURSOR FOR SELECT id FROM sales.customers ORDER BY id LIMIT 5")
            assert conn.execute("FETCH 3 FROM s").fetchall() == [(1,), (2,), (3,)]
            assert conn.execute("FETCH PRIOR FROM s").fetchall() == [(2,)]
            assert conn.execute("FETCH ABSOLUTE 5 FROM s").fetchall() == [(5,)]
            assert conn.execute("MOVE BACKWARD 2 IN s").statusmessage == "MOVE 2"
            cur = conn.execute("FETCH ALL FROM s")
            assert cur.fetchall() == [(4,), (5,)] and cur.statusmessage == "FETCH 2"
            conn.execute("DECLARE f CURSOR FOR SELECT id FROM sales.customers ORDER BY id")
            conn.execute("FETCH 2 FROM f")
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):  # 55000
                conn.execute("FETCH PRIOR FROM f")
            raise psycopg.Rollback()
        with conn.transaction():
            conn.execute("DECLARE h CURSOR WITH HOLD FOR SELECT id FROM sales.customers ORDER BY id")
            conn.execute("DECLARE gone CURSOR FOR SELECT 1")
        assert conn.execute("FETCH 2 FROM h").fetchall() == [(1,), (2,)]
        with pytest.raises(psycopg.errors.InvalidCursorName):  # 34000: ended with its transaction
            conn.execute("FETCH 1 FROM gone")
        conn.execute("CLOSE h")
        with pytest.raises(psycopg.errors.InvalidCursorName):
            conn.execute("FETCH 1 FROM h")


def test_copy_text_csv_binary_through_policies(server: VeilServer) -> None:
    query = "SELECT id, name, country FROM sales.customers ORDER BY id LIMIT 3"
    with psycopg.connect(server.dsn()) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            text = b"".join(bytes(b) for b in copy).decode()
        assert text == f"1\t{MASK}\tCA\n2\t{MASK}\tDE\n3\t{MASK}\tUS\n"
        with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            csv = b"".join(bytes(b) for b in copy).decode()
        assert csv.splitlines() == ["id,name,country", f"1,{MASK},CA", f"2,{MASK},DE", f"3,{MASK},US"]
        with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(["int8", "text", "text"])
            assert list(copy.rows()) == [(1, MASK, "CA"), (2, MASK, "DE"), (3, MASK, "US")]
        with cur.copy("COPY sales.customers (id, name) TO STDOUT") as copy:
            lines = b"".join(bytes(b) for b in copy).decode().splitlines()
        assert len(lines) == 100 and all(line.split("\t")[1] == MASK for line in lines)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            cur.execute("COPY sales.customers FROM STDIN")


def test_sql_prepare_execute_deallocate(server: VeilServer) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("PREPARE by_id(int, text[]) AS SELECT id, name FROM sales.customers WHERE id <= $1 AND country = ANY($2) ORDER BY id")
        assert conn.execute("EXECUTE by_id(4, '{CA,US}')").fetchall() == [(1, MASK), (3, MASK), (4, MASK)]
        assert conn.execute("SELECT id FROM sales.customers WHERE country = ANY('{CA,US}'::text[]) AND id < 4 ORDER BY id").fetchall() == [(1,), (3,)]
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            conn.execute("PREPARE by_id AS SELECT 1")
        conn.execute("DEALLOCATE by_id")
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            conn.execute("EXECUTE by_id(1, '{}')")


def test_unspaced_parameters_and_declared_types(server: VeilServer) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        rows = conn.execute("SELECT id FROM sales.customers WHERE id IN (%s,%s,%s) ORDER BY id", [1, 2, 3]).fetchall()
        assert rows == [(1,), (2,), (3,)]
        assert conn.execute("SELECT %s||%s, coalesce(%s,%s)", ["a", "b", None, "c"]).fetchone() == ("ab", "c")
        int2 = psycopg.types.numeric.Int2(0)
        names = conn.execute("SELECT attname FROM pg_attribute WHERE attnum > %s LIMIT 1", [int2]).fetchall()
        assert len(names) == 1


async def test_asyncpg_cursor_and_int_array_parameter(server: VeilServer) -> None:
    conn = await asyncpg.connect(server.dsn())
    try:
        rows = await conn.fetch("SELECT id FROM sales.customers WHERE id = ANY($1::int[]) ORDER BY id", [2, 5])
        assert [r["id"] for r in rows] == [2, 5]
        untyped = await conn.fetch("SELECT id FROM sales.customers WHERE country = ANY($1) AND id < 5 ORDER BY id", ["DE"])
        assert [r["id"] for r in untyped] == [2]
        async with conn.transaction():
            seen = [r["id"] async for r in conn.cursor("SELECT id FROM sales.big WHERE id < $1 ORDER BY id", 300, prefetch=50)]
        assert seen == list(range(300))
    finally:
        await asyncio.wait_for(conn.close(), 10)


def test_sqlalchemy_reflection_and_pandas(server: VeilServer) -> None:
    engine = sa.create_engine(server.dsn().replace("postgresql://", "postgresql+psycopg://"))
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine, schema="sales")
        assert {"sales.customers", "sales.orders", "sales.big"} <= set(metadata.tables)
        assert [c.name for c in metadata.tables["sales.customers"].columns] == ["id", "name", "country"]
        assert sa.inspect(engine).get_table_names(schema="sales")
        frame = pd.read_sql_table("customers", engine, schema="sales")
        assert frame.shape == (100, 3) and set(frame["name"]) == {MASK}
        with engine.connect() as conn:
            chunks = list(pd.read_sql("SELECT id FROM sales.big ORDER BY id", conn.execution_options(stream_results=True), chunksize=50000))
        assert [len(c) for c in chunks] == [50000, 50000, 50000, 50000]
    finally:
        engine.dispose()


COPY_QUERY = (
    "SELECT 1 AS n, E'a\\tb' AS tab, E'line\\nbreak\\r' AS nl, E'back\\\\slash' AS bs, NULL::text AS nothing, "
    "'q\"u,o' AS quoted, '' AS empty, 'Zoë' AS accent, ARRAY['a,b', 'c\"d'] AS arr, 2.50 AS num"
)


@pytest.mark.parametrize("options", ["", "(FORMAT csv)", "(FORMAT csv, HEADER, DELIMITER ';', NULL 'NIL')", "(DELIMITER '|')"])
def test_copy_output_is_byte_for_byte_postgres(server: VeilServer, postgres_dsn: str, options: str) -> None:
    sql = f"COPY ({COPY_QUERY}) TO STDOUT {options}"

    def copied(dsn: str) -> bytes:
        with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
            return b"".join(bytes(b) for b in copy)

    assert copied(server.dsn()) == copied(postgres_dsn)


BINARY_CURSOR_QUERY = (
    "SELECT 1::int2 AS s, 2 AS i, 3::int8 AS l, 1.5::float4 AS r, 2.5::float8 AS d, 12.50::numeric(12,2) AS n, "
    "'Zoë'::text AS t, true AS b, DATE '2024-02-29' AS day, ARRAY[1, 2] AS arr FROM generate_series(1, 3) g"
)


def _fetch_raw(dsn: str, declare: str, fetch: str) -> tuple[list[tuple[int, int]], list[list[bytes | None]], bytes | None]:
    """A simple-Query FETCH: each column's (type OID, format code), the raw values, the tag."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        pgconn = conn.pgconn
        pgconn.exec_(b"BEGIN")
        pgconn.exec_(declare.encode())
        result = pgconn.exec_(fetch.encode())
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, result.error_message
        described = [(result.ftype(i), result.fformat(i)) for i in range(result.nfields)]
        values = [[result.get_value(row, i) for i in range(result.nfields)] for row in range(result.ntuples)]
        pgconn.exec_(b"COMMIT")
        return described, values, result.command_status


def test_binary_cursor_fetches_binary_rows_like_postgres(server: VeilServer, postgres_dsn: str) -> None:
    """DECLARE ... BINARY CURSOR: a simple-Query FETCH returns binary DataRows (format 1), byte
    for byte what PostgreSQL sends; a text cursor over the same query stays text."""
    declare = f"DECLARE c BINARY CURSOR FOR {BINARY_CURSOR_QUERY}"
    veil = _fetch_raw(server.dsn(), declare, "FETCH 2 FROM c")
    assert veil == _fetch_raw(postgres_dsn, declare, "FETCH 2 FROM c")
    assert {fmt for _, fmt in veil[0]} == {1} and len(veil[1]) == 2
    text = _fetch_raw(server.dsn(), f"DECLARE c CURSOR FOR {BINARY_CURSOR_QUERY}", "FETCH 1 FROM c")
    assert {fmt for _, fmt in text[0]} == {0} and text[1][0][6] == "Zoë".encode()
    masked = _fetch_raw(server.dsn(), "DECLARE m BINARY CURSOR FOR SELECT name FROM sales.customers ORDER BY id", "FETCH 2 FROM m")
    assert masked[1] == [[MASK.encode()], [MASK.encode()]]


def _rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def test_scroll_cursor_over_a_big_result_keeps_memory_bounded(server: VeilServer) -> None:
    """A SCROLL cursor over 1M rows of ~220 bytes (~220 MB) moved to its end and back: its rows
    spill beyond work_mem, so the server's resident memory grows by far less than the result
    (it grew by 216 MiB when the cursor kept every row). No ORDER BY: the source's own sort
    memory is not the cursor's; rows read again must be the rows read the first time."""
    query = "SELECT b.id, g, repeat('x', 200) AS pad FROM sales.big b, generate_series(1, 5) g"
    with psycopg.connect(server.dsn("root")) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        before = _rss_mib(pid)
        conn.execute(f"DECLARE big SCROLL CURSOR FOR {query}")
        first = conn.execute("FETCH 3 FROM big").fetchall()
        assert conn.execute("MOVE FORWARD ALL IN big").statusmessage == "MOVE 999997"
        grown = _rss_mib(pid) - before
        middle = conn.execute("FETCH ABSOLUTE 777776 FROM big").fetchone()
        assert conn.execute("FETCH ABSOLUTE 1 FROM big").fetchall() == first[:1]
        assert conn.execute("FETCH FORWARD 2 FROM big").fetchall() == first[1:]
        conn.execute("FETCH ABSOLUTE 777777 FROM big")
        assert conn.execute("FETCH PRIOR FROM big").fetchone() == middle
        assert conn.execute("FETCH LAST FROM big").fetchone() is not None
        ids = conn.execute("FETCH BACKWARD ALL FROM big").fetchall()
        assert len(ids) == 999999 and len({(row[0], row[1]) for row in ids}) == 999999
        conn.execute("CLOSE big")
    assert grown < 100, f"server RSS grew by {grown} MiB for a 220 MB scroll cursor"


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_sqlalchemy_inspector_reads_what_postgresql_has(server: VeilServer, driver: str) -> None:
    """Every Inspector call SQLAlchemy's PostgreSQL dialect makes (indexes, constraints, comments,
    views, sequences, enums, domains, the multi-table forms) answers as PostgreSQL would for
    tables without keys, indexes or comments, with both drivers."""
    engine = sa.create_engine(server.dsn().replace("postgresql://", f"postgresql+{driver}://"))
    try:
        inspector = sa.inspect(engine)
        assert inspector.get_indexes("orders", schema="sales") == []
        assert inspector.get_unique_constraints("orders", schema="sales") == []
        assert inspector.get_check_constraints("orders", schema="sales") == []
        assert inspector.get_table_comment("orders", schema="sales") == {"text": None}
        assert inspector.get_pk_constraint("orders", schema="sales")["constrained_columns"] == []
        assert inspector.get_foreign_keys("orders", schema="sales") == []
        assert inspector.get_view_names(schema="sales") == [] and inspector.get_materialized_view_names(schema="sales") == []
        assert inspector.get_sequence_names(schema="sales") == []
        assert inspector.get_enums(schema="sales") == [] and inspector.get_domains(schema="sales") == []
        assert inspector.has_table("orders", schema="sales") and not inspector.has_table("salaries", schema="hr")
        indexes = inspector.get_multi_indexes(schema="sales")
        assert {table for _, table in indexes} >= {"orders", "customers", "big"} and not any(indexes.values())
        columns = inspector.get_multi_columns(schema="sales")
        assert [c["name"] for c in columns[("sales", "orders")]] == ["id", "customer", "amount", "created", "tags"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("query", [
    pytest.param("SELECT b.id, g, repeat('x', 100) AS pad FROM sales.big b, generate_series(1, 50) g", id="duckdb-source"),
    pytest.param("SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 10000000) g", id="local-engine"),
])
def test_cursor_over_ten_million_rows_never_holds_them(server: VeilServer, query: str) -> None:
    """A NO SCROLL cursor over 10M rows of ~110 bytes (~1.1 GB) read to its end in 1M-row MOVEs
    and a FETCH at each step: the server's resident memory grows by far less than the result (it
    levels off at 100-200 MiB above its start on the DuckDB source, 0 on the local engine)."""
    with psycopg.connect(server.dsn("root")) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.execute(f"DECLARE ten NO SCROLL CURSOR FOR {query}")
        before = _rss_mib(pid)
        peak, seen = before, 0
        for _ in range(10):
            seen += int(str(conn.execute("MOVE FORWARD 999999 IN ten").statusmessage).split()[1])
            seen += len(conn.execute("FETCH 1 FROM ten").fetchall())
            peak = max(peak, _rss_mib(pid))
        assert seen == 10_000_000
        assert conn.execute("FETCH 1 FROM ten").fetchall() == []
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            conn.execute("FETCH PRIOR FROM ten")
    assert peak - before < 300, f"server RSS grew by {peak - before} MiB over a 1.1 GB cursor"
