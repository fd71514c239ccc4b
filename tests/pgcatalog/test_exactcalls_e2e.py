"""Calls DuckDB computes differently run on DuckDB (a DuckDB source, the local engine) as
PostgreSQL computes them, compared with PostgreSQL itself (values, column names and types):

* ``encode(bytea, format)``/``decode(text, format)``: invalid hex data is 22023, a format DuckDB
  cannot compute is refused with 0A000 (sqlglot once turned them into DuckDB's one-argument
  character-set calls: 42883, or the input text back).
* ``EXTRACT``: numeric with PostgreSQL's scale, the fraction of seconds kept (DuckDB's second
  was whole: 15 for 15.5, a bigint).
* ``date - date``: int4 days (DuckDB's are bigint).
* ``substring`` from a start below 1 (DuckDB counted a negative start from the end), a negative
  length (22011); a boolean in ``concat``/``concat_ws`` is ``t``/``f`` (DuckDB: ``true``).
"""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import VeilServer

# the same values as sales.all_types, for PostgreSQL itself
PG_ROWS = (
    "(VALUES ('\\x00ff'::bytea, TIMESTAMP '2024-02-29 13:14:15.5', DATE '2024-02-29',"
    " TIMESTAMPTZ '2024-02-29 13:14:15.5+00', INTERVAL '1 year 2 months 3 days 04:05:06', 'hello', true,"
    " CAST(-32768 AS int2)), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)) AS all_types(bt, ts, d, tstz, iv, t, b, i2)"
)
QUERIES = [
    "SELECT encode(bt, 'hex') AS e, encode(bt, 'base64') AS b, decode(encode(bt, 'hex'), 'hex') AS d,"
    " decode(encode(bt, 'base64'), 'base64') AS d64 FROM {t} ORDER BY 1",
    "SELECT decode(' 0a 0B', 'hex') AS d, encode(decode('YWJj', 'base64'), 'hex') AS e, decode(NULL, 'hex') AS n",
    "SELECT EXTRACT(SECOND FROM ts) AS s, EXTRACT(EPOCH FROM ts) AS e, EXTRACT(MILLISECONDS FROM tstz) AS ms,"
    " EXTRACT(YEAR FROM d), EXTRACT(EPOCH FROM d) AS de, EXTRACT(DOW FROM ts) AS dow, EXTRACT(MINUTE FROM iv) AS mi,"
    " EXTRACT(SECOND FROM iv) AS si FROM {t} ORDER BY 1",
    "SELECT EXTRACT(SECOND FROM TIMESTAMP '2000-01-01 00:00:01.25') AS s",
    "SELECT d - DATE '2000-01-01', DATE '2024-03-01' - d AS days FROM {t} ORDER BY 1",
    "SELECT substring(t FROM -1 FOR 4) AS a, substr(t, 0, 2) AS b, substring(t FROM -2) AS c, substr(t, 2, 3) AS d,"
    " substr(t, i2 + 32770, 2) AS e FROM {t} ORDER BY 1",
    "SELECT concat(t, b) AS c, concat_ws(',', b, t, NOT b) AS w, t || b AS p FROM {t} ORDER BY 1",
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
        ("SELECT substr(t, 1, -1) FROM {t}", "22011"),
        ("SELECT encode(bt, 'escape') FROM {t}", None),
    ],
)
def test_encoding_errors(veil_server: VeilServer, postgres_dsn: str, sql: str, sqlstate: str | None) -> None:
    """Invalid hex data fails as in PostgreSQL; the escape format is refused (not answered wrong)."""
    with psycopg.connect(veil_server.dsn("alice"), autocommit=True) as connection, pytest.raises(psycopg.Error) as raised:
        connection.execute(sql.format(t="sales.all_types")).fetchall()
    if sqlstate is None:
        assert raised.value.sqlstate == "0A000"
        assert "duckdb" not in str(raised.value).lower()
        return
    assert raised.value.sqlstate == sqlstate
    with psycopg.connect(postgres_dsn, autocommit=True) as connection, pytest.raises(psycopg.Error) as oracle:
        connection.execute(sql.format(t=PG_ROWS)).fetchall()
    assert oracle.value.sqlstate == sqlstate
