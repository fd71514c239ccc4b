"""Veil reads SQL as PostgreSQL does: statement kind, ``$n`` parameters and syntax errors are
compared with a real PostgreSQL 15 server over a corpus of inputs sqlglot's tokenizer gets wrong
or that are easy to misread (dollar quotes, E'' strings, comments, ``$1,$2``, ``$1::int[]``,
operators next to parameters)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.pq import DiagnosticField, ExecStatus

from tests.conftest import scratch_database
from veil.errors import ReadOnlyViolation, SqlSyntaxError, VeilError
from veil.sql import pgsql
from veil.sql.params import placeholder_count
from veil.sql.statements import Kind, classify, split

CORPUS = [
    "SELECT $1,$2",
    "SELECT $1||$2",
    "SELECT coalesce($1,$2)",
    "SELECT a FROM t WHERE a IN ($1,$2,$3)",
    "SELECT a FROM t WHERE arr = $1::int[]",
    "SELECT a FROM t WHERE a = ANY($1::int[])",
    "SELECT a FROM t WHERE a=$1 AND b<>$2",
    "SELECT a FROM t WHERE a>=$1 AND a<=$2 AND -$3::int < a",
    "SELECT $$ $1 $$, $1",
    "SELECT $tag$ it's $2 $tag$ || $1",
    "SELECT E'\\'$2', $1",
    "SELECT 'a''$2', $1",
    "SELECT $1 -- $2 in a comment\n",
    "SELECT /* $3 */ $1",
    "SELECT /* nested /* $3 */ still */ $1",
    'SELECT "$2" FROM (SELECT 1 AS "$2") s WHERE $1 = 1',
    "SELECT a$1 FROM (SELECT 1 AS a$1) s WHERE $1 = 1",
    "SELECT $1::text[], $2::int",
    "SELECT a FROM t LIMIT $1 OFFSET $2",
    "SELECT a FROM t WHERE a BETWEEN $1 AND $2",
    "WITH x AS (SELECT $1::int AS v) SELECT v FROM x",
    "VALUES ($1,$2)",
    "SELECT $2::int, $1::int",
    "SELECT a FROM t WHERE b LIKE $1||'%'",
    "DECLARE c CURSOR FOR SELECT $1,$2",
]

SYNTAX_ERRORS = [
    "SELECT * FROM t WHERE",
    "SELECT FROM WHERE",
    "SELECT 'unterminated",
    "SELECT $$ unterminated",
    "SELECT 1 FROM t WHERE a = $1,$2",
    "SELEC 1",
    "SELECT (1",
    "SELECT /* unterminated comment",
]


@pytest.fixture(scope="module")
def postgres(postgres_dsn: str) -> Iterator[psycopg.Connection]:
    dsn = scratch_database(postgres_dsn, "veil_pgsql_corpus")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE t (a int, b text, arr int[])")
        yield connection


def _postgres_parameters(connection: psycopg.Connection, sql: str) -> int:
    result = connection.pgconn.prepare(b"", sql.encode())
    assert result.status == ExecStatus.COMMAND_OK, result.error_message
    return connection.pgconn.describe_prepared(b"").nparams


@pytest.mark.parametrize("sql", CORPUS)
def test_parameters_agree_with_postgres(postgres: psycopg.Connection, sql: str) -> None:
    statement = classify(sql)
    query = statement.query or statement
    assert query.ast is not None
    assert placeholder_count(query.ast) == _postgres_parameters(postgres, sql)
    assert max(pgsql.parameter_numbers(sql), default=0) == _postgres_parameters(postgres, sql)
    assert statement.kind == (Kind.DECLARE if sql.startswith("DECLARE") else Kind.QUERY)


@pytest.mark.parametrize("sql", SYNTAX_ERRORS)
def test_syntax_errors_agree_with_postgres(postgres: psycopg.Connection, sql: str) -> None:
    result = postgres.pgconn.prepare(b"", sql.encode())
    assert result.status == ExecStatus.FATAL_ERROR
    with pytest.raises(SqlSyntaxError) as info:
        classify(sql)
    assert info.value.sqlstate == result.error_field(DiagnosticField.SQLSTATE).decode()
    assert info.value.message == result.error_field(DiagnosticField.MESSAGE_PRIMARY).decode()
    assert info.value.position == int(result.error_field(DiagnosticField.STATEMENT_POSITION).decode())


def test_casts_on_parameters_reach_sqlglot() -> None:
    ast = classify("SELECT $1::int[],$2::text").ast
    assert ast is not None
    assert ast.sql("postgres") == "SELECT CAST($1 AS INT[]), CAST($2 AS TEXT)"


def test_split_follows_postgres_quoting() -> None:
    text = "SELECT ';' -- ;\n; SELECT $$;$$; SELECT E'\\';'; /* ; */ SELECT $1,$2"
    assert split(text) == ["SELECT ';' -- ;", "SELECT $$;$$", "SELECT E'\\';'", "/* ; */ SELECT $1,$2"]


@pytest.mark.parametrize(
    ("sql", "verb"),
    [
        ("INSERT INTO t VALUES ($1,$2)", "INSERT"),
        ("WITH d AS (DELETE FROM t RETURNING a) SELECT * FROM d", "DELETE"),
        ("SELECT a INTO u FROM t", "SELECT INTO"),
        ("COPY t FROM STDIN", "COPY FROM"),
        ("PREPARE p AS UPDATE t SET a = 1", "UPDATE"),
        ("CREATE TABLE u (a int)", "CREATE"),
    ],
)
def test_only_writes_are_read_only_violations(sql: str, verb: str) -> None:
    with pytest.raises(ReadOnlyViolation) as info:
        classify(sql)
    assert info.value.sqlstate == "25006"
    assert info.value.message == f"cannot execute {verb} in a read-only transaction"


@pytest.mark.parametrize(
    ("sql", "kind", "tag"),
    [
        ("DECLARE c BINARY SCROLL CURSOR WITH HOLD FOR SELECT 1", Kind.DECLARE, "DECLARE CURSOR"),
        ("FETCH FORWARD 5 FROM c", Kind.FETCH, "FETCH"),
        ("MOVE ABSOLUTE 2 IN c", Kind.FETCH, "MOVE"),
        ("CLOSE c", Kind.CLOSE, "CLOSE CURSOR"),
        ("COPY (SELECT $1,$2) TO STDOUT WITH (FORMAT csv)", Kind.COPY, "COPY"),
        ("COPY t (a, b) TO STDOUT", Kind.COPY, "COPY"),
        ("PREPARE p(int) AS SELECT $1", Kind.PREPARE, "PREPARE"),
        ("EXECUTE p(1)", Kind.EXECUTE, "SELECT"),
        ("DEALLOCATE PREPARE p", Kind.DEALLOCATE, "DEALLOCATE"),
    ],
)
def test_reads_postgres_allows_read_only(sql: str, kind: Kind, tag: str) -> None:
    statement = classify(sql)
    assert (statement.kind, statement.tag) == (kind, tag)


def test_copy_to_a_file_is_refused_clearly() -> None:
    with pytest.raises(VeilError) as info:
        classify("COPY t TO '/tmp/x'")
    assert info.value.sqlstate == "0A000"


def test_interval_literals_of_several_quantities_reach_sqlglot_as_casts() -> None:
    """sqlglot reads ``INTERVAL '-3 days 04:00:00'`` as ``INTERVAL '-3 DAYS'``; a cast keeps the
    whole text. One quantity, a field keyword after the literal, and strings are left alone."""
    from veil.sql.pgsql import for_sqlglot

    sql = "SELECT INTERVAL '-3 days 04:00:00', interval '1' day, INTERVAL '2 hours', 'INTERVAL ''x''', $1,$2"
    assert for_sqlglot(sql) == (
        "SELECT CAST('-3 days 04:00:00' AS INTERVAL), interval '1' day, INTERVAL '2 hours', 'INTERVAL ''x''', $1 ,$2"
    )
