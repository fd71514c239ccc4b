"""The DuckDB source's cursor: the fast submit path and the relation path agree, types are served
as Veil reports them, and errors are DuckDB's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from veil.catalog.sources.base import drain, read_all
from veil.catalog.sources.duckdb import source as duckdb_source
from veil.catalog.sources.duckdb.source import DuckDBSource

SQL = """
CREATE SCHEMA s;
CREATE TABLE s.t AS SELECT
    i::BIGINT AS id, i % 2 = 0 AS flag, 'name ' || i AS name, i::HUGEINT * 1000000000000 AS big,
    [i % 2 = 0, NULL] AS flags, {'b': i % 3 = 0, 'n': i} AS rec,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u
FROM range(1, 3001) r(i);
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBSource]:
    path = tmp_path_factory.mktemp("duck") / "w.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(SQL)
    source = DuckDBSource("warehouse", path)
    yield source
    source.close()


def _read(source: DuckDBSource, sql: str, params: list[object]) -> pa.Table:
    return read_all(source, sql, params)


QUERIES = [
    ('SELECT * FROM "s"."t" WHERE id = $1', [7]),
    ('SELECT * FROM "s"."t" WHERE id > $1 ORDER BY id', [10]),
    ("SELECT count(*) AS n, sum(big) AS total FROM s.t", []),
    ("SELECT $1 AS v", [None]),
    ('SELECT * FROM (SELECT * FROM "s"."t" WHERE id = $1) AS veil_describe LIMIT 0', [None]),
]


@pytest.mark.parametrize(("sql", "params"), QUERIES)
def test_submit_and_relation_paths_agree(
    source: DuckDBSource, monkeypatch: pytest.MonkeyPatch, sql: str, params: list[object]
) -> None:
    assert duckdb_source._submit is not None, "this DuckDB release has no submit entry point"
    fast = _read(source, sql, params)
    monkeypatch.setattr(duckdb_source, "_submit", None)
    slow = _read(source, sql, params)
    assert fast.schema.equals(slow.schema, check_metadata=True)
    assert fast.equals(slow)


def test_served_types(source: DuckDBSource) -> None:
    table = _read(source, 'SELECT * FROM "s"."t" WHERE id <= $1 ORDER BY id', [4])
    types = {f.name: f.type for f in table.schema}
    assert types["flag"] == pa.bool_()
    assert types["big"] == pa.decimal128(38, 0)
    assert types["flags"] == pa.list_(pa.bool_())
    assert types["rec"] == pa.struct([pa.field("b", pa.bool_()), pa.field("n", pa.int64())])
    assert getattr(types["u"], "extension_name", None) == "arrow.uuid"
    assert table.column("flag").to_pylist() == [False, True, False, True]
    assert table.column("big").to_pylist()[0] == 1_000_000_000_000
    assert table.column("flags").to_pylist()[1] == [True, None]
    assert table.schema.equals(source.describe('SELECT * FROM "s"."t" WHERE id <= $1', 1))


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("sql", "params", "sqlstate"),
    [
        ('SELECT * FROM "s"."missing"', [], "42P01"),
        ('SELECT nope FROM "s"."t"', [], "42703"),
        ("SELECT CAST('x' AS INTEGER)", [], "22P02"),
        ('SELECT * FROM "s"."t" WHERE id = $1', [1, 2], "22023"),
    ],
)
def test_errors(
    source: DuckDBSource,
    monkeypatch: pytest.MonkeyPatch,
    fast: bool,
    sql: str,
    params: list[object],
    sqlstate: str,
) -> None:
    if not fast:
        monkeypatch.setattr(duckdb_source, "_submit", None)
    with pytest.raises(duckdb.Error) as caught:
        _read(source, sql, params)
    assert source.map_error(caught.value).sqlstate == sqlstate


def test_served_schema_cache_keeps_schemas_apart(tmp_path: Path) -> None:
    connection = duckdb.connect(config={"arrow_lossless_conversion": True})
    cursor = duckdb_source.DuckDBCursor(connection)
    first = cursor.execute("SELECT true AS a, 1 AS b").schema
    second = cursor.execute("SELECT 1 AS a, true AS b").schema
    assert first.types == [pa.bool_(), pa.int32()]
    assert second.types == [pa.int32(), pa.bool_()]
    connection.close()


# --- cursor reuse ------------------------------------------------------------------------------


def _drain(reader: object) -> int:
    rows = 0
    while True:
        try:
            rows += reader.read_next_batch().num_rows  # type: ignore[attr-defined]
        except StopIteration:
            return rows


def test_cursors_are_reused_only_after_a_complete_read(tmp_path: Path) -> None:
    path = tmp_path / "pool.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE t AS SELECT range AS i FROM range(200000)")
    source = DuckDBSource("pool", path)
    try:
        cursor = source.cursor()
        assert _drain(cursor.execute("SELECT * FROM t WHERE i < $1", [10])) == 10
        cursor.close()
        assert len(_idle(source)) == 1
        reused = _idle(source)[0]

        cursor = source.cursor()  # the idle connection again
        assert cursor._connection is reused and not _idle(source)
        reader = cursor.execute("SELECT * FROM t")  # read only partly: the result stays open
        reader.read_next_batch()
        cursor.close()
        assert not _idle(source)  # closed, not kept

        cursor = source.cursor()
        assert _drain(cursor.execute("SELECT count(*) FROM t")) == 1
        cursor.interrupt()  # an interrupted cursor is never reused
        cursor.close()
        assert not _idle(source)

        cursor = source.cursor()
        _ = cursor.execute("SELECT 1").schema  # reader dropped unread: DuckDB destroyed the result
        cursor.close()
        assert len(_idle(source)) == 1
        cursor = source.cursor()
        assert _drain(cursor.execute("SELECT 42")) == 1
        cursor.close()
        cursor.close()  # closing twice is harmless
        cursor.interrupt()  # and so is interrupting a closed cursor
    finally:
        source.close()


def test_cursor_of_a_closed_source_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "reopen.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE t AS SELECT 1 AS i")
    source = DuckDBSource("reopen", path)
    cursor = source.cursor()
    _drain(cursor.execute("SELECT * FROM t"))
    source.close()
    cursor.close()
    assert not _idle(source)
    cursor = source.cursor()  # reopens the database
    assert _drain(cursor.execute("SELECT * FROM t")) == 1
    cursor.close()
    assert len(_idle(source)) == 1
    source.close()
    assert not _idle(source)


def test_reused_cursors_under_concurrency(source: DuckDBSource) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> int:
        cursor = source.cursor()
        try:
            table = _read_with(cursor, 'SELECT id FROM "s"."t" WHERE id = $1', [i % 3000 + 1])
            return table.column("id")[0].as_py()
        finally:
            cursor.close()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(400))) == [i % 3000 + 1 for i in range(400)]
    assert len(_idle(source)) <= duckdb_source._MAX_IDLE


def _idle(source: DuckDBSource) -> list[duckdb.DuckDBPyConnection]:
    """The source's idle cursors, whatever TimeZone each is in."""
    return [cursor for cursors in source._idle.values() for cursor in cursors]


def _read_with(cursor: duckdb_source.DuckDBCursor, sql: str, params: list[object]) -> pa.Table:
    return drain(cursor.execute(sql, params))
