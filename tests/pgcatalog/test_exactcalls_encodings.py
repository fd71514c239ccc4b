"""``encode(bytea, format)``/``decode(text, format)`` run on DuckDB (a DuckDB source, the local
engine) as PostgreSQL computes them: same values and types as PostgreSQL itself, invalid hex
data is 22023, a format DuckDB cannot compute is refused with 0A000 (sqlglot once turned them
into DuckDB's one-argument character-set calls: 42883, or the input text back)."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import VeilServer

# the same bytea values as sales.all_types.bt, for PostgreSQL itself
PG_ROWS = "(VALUES ('\\x00ff'::bytea), (NULL::bytea)) AS all_types(bt)"
QUERIES = [
    "SELECT encode(bt, 'hex') AS e, encode(bt, 'base64') AS b, decode(encode(bt, 'hex'), 'hex') AS d,"
    " decode(encode(bt, 'base64'), 'base64') AS d64 FROM {t} ORDER BY 1",
    "SELECT decode(' 0a 0B', 'hex') AS d, encode(decode('YWJj', 'base64'), 'hex') AS e, decode(NULL, 'hex') AS n",
]


def _answer(dsn: str, sql: str) -> tuple[list[tuple[str, int]], list[tuple[object, ...]]]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(sql)
        return [(c.name, c.type_code) for c in cursor.description or []], cursor.fetchall()


@pytest.mark.parametrize("query", QUERIES)
def test_encodings_answer_as_postgres(veil_server: VeilServer, postgres_dsn: str, query: str) -> None:
    expected = _answer(postgres_dsn, query.format(t=PG_ROWS))
    assert expected[1], "PostgreSQL answered no rows"
    assert _answer(veil_server.dsn("alice"), query.format(t="sales.all_types")) == expected


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("SELECT decode('abc', 'hex') FROM {t}", "22023"),
        ("SELECT decode('zz', 'hex')", "22023"),
        ("SELECT encode(bt, 'escape') FROM {t}", None),
    ],
)
def test_encoding_errors(veil_server: VeilServer, postgres_dsn: str, sql: str, sqlstate: str | None) -> None:
    """Invalid hex data fails as in PostgreSQL; the escape format is refused (not answered wrong)."""
    with psycopg.connect(veil_server.dsn("alice"), autocommit=True) as connection:
        with pytest.raises(psycopg.Error) as raised:
            connection.execute(sql.format(t="sales.all_types")).fetchall()
    if sqlstate is None:
        assert raised.value.sqlstate == "0A000"
        assert "duckdb" not in str(raised.value).lower()
        return
    assert raised.value.sqlstate == sqlstate
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        with pytest.raises(psycopg.Error) as oracle:
            connection.execute(sql.format(t=PG_ROWS)).fetchall()
    assert oracle.value.sqlstate == sqlstate
