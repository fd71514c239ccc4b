import pytest

from veil.engine.statements import Kind, classify, split
from veil.errors import ReadOnlyViolation, SqlSyntaxError


def test_split_respects_strings_comments_and_dollar_quotes() -> None:
    sql = "/* c; */ select 'a;b' -- x;\n; UNLISTEN *; select $$x;$$; ;; set application_name = 'x;y'"
    assert split(sql) == [
        "/* c; */ select 'a;b' -- x;",
        "UNLISTEN *",
        "select $$x;$$",
        "set application_name = 'x;y'",
    ]


def test_split_of_only_comments_is_empty() -> None:
    assert split("  -- nothing\n ; /* here */ ;") == []


@pytest.mark.parametrize(
    ("sql", "kind", "name", "value"),
    [
        ("SET extra_float_digits = 3", Kind.SET, "extra_float_digits", "3"),
        ("SET application_name = 'pgjdbc'", Kind.SET, "application_name", "pgjdbc"),
        ("SET TIME ZONE 'Europe/Paris'", Kind.SET, "timezone", "Europe/Paris"),
        ("set search_path to sales, public", Kind.SET, "search_path", "sales, public"),
        ("SET LOCAL statement_timeout = 0", Kind.SET, "statement_timeout", "0"),
        ("SET datestyle TO DEFAULT", Kind.SET, "datestyle", None),
        ("SHOW transaction isolation level", Kind.SHOW, "transaction_isolation", None),
        ("show standard_conforming_strings", Kind.SHOW, "standard_conforming_strings", None),
        ("RESET ALL", Kind.RESET, "all", None),
    ],
)
def test_session_statements(sql: str, kind: Kind, name: str, value: str | None) -> None:
    statement = classify(sql)
    assert (statement.kind, statement.name, statement.value) == (kind, name, value)


@pytest.mark.parametrize(
    ("sql", "kind", "tag"),
    [
        ("BEGIN", Kind.BEGIN, "BEGIN"),
        ("START TRANSACTION ISOLATION LEVEL READ COMMITTED", Kind.BEGIN, "START TRANSACTION"),
        ("COMMIT", Kind.COMMIT, "COMMIT"),
        ("END", Kind.COMMIT, "COMMIT"),
        ("ROLLBACK", Kind.ROLLBACK, "ROLLBACK"),
        ('SAVEPOINT "_pg3_1"', Kind.SAVEPOINT, "SAVEPOINT"),
        ("ROLLBACK TO SAVEPOINT x", Kind.ROLLBACK_TO, "ROLLBACK"),
        ("DISCARD ALL", Kind.NOOP, "DISCARD ALL"),
        ("CLOSE ALL", Kind.CLOSE, "CLOSE CURSOR ALL"),
        ("UNLISTEN *", Kind.NOOP, "UNLISTEN"),
        ("DEALLOCATE ALL", Kind.DEALLOCATE, "DEALLOCATE ALL"),
        ("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED", Kind.NOOP, "SET"),
        ("select 1", Kind.QUERY, "SELECT"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", Kind.QUERY, "SELECT"),
        ("VALUES (1), (2)", Kind.QUERY, "SELECT"),
        ("EXPLAIN (FORMAT JSON) SELECT 1", Kind.EXPLAIN, "EXPLAIN"),
    ],
)
def test_statement_kinds(sql: str, kind: Kind, tag: str) -> None:
    statement = classify(sql)
    assert statement.kind == kind
    assert statement.tag == tag


@pytest.mark.parametrize(
    "sql",
    [
        "insert into t values (1)",
        "UPDATE t SET a = 1",
        "delete from t",
        "drop table x",
        "create table x (a int)",
        "COPY t FROM STDIN",
        "ATTACH 'x.db'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA database_list",
        "WITH x AS (SELECT 1) DELETE FROM t",
    ],
)
def test_writes_are_refused(sql: str) -> None:
    with pytest.raises((ReadOnlyViolation, SqlSyntaxError)) as info:
        classify(sql)
    assert info.value.sqlstate in ("25006", "42601")


def test_syntax_error_has_position() -> None:
    with pytest.raises(SqlSyntaxError) as info:
        classify("SELECT * FROM t WHERE")
    assert info.value.sqlstate == "42601"
    assert info.value.position == 22  # as PostgreSQL 15 reports it


def test_unknown_statement_is_a_syntax_error() -> None:
    with pytest.raises(SqlSyntaxError):
        classify("selec 1")
