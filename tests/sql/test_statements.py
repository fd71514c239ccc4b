import pytest

from veil.errors import ReadOnlyViolation, SqlSyntaxError, VeilError
from veil.sql.statements import Kind, classify, split


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


@pytest.mark.parametrize(
    ("sql", "query"),
    [
        ("EXPLAIN (SELECT 1) EXCEPT SELECT 2", "(SELECT 1) EXCEPT SELECT 2"),
        ("EXPLAIN ((SELECT 1)) UNION SELECT 2", "((SELECT 1)) UNION SELECT 2"),
        ("EXPLAIN (WITH a AS (SELECT 1) SELECT * FROM a) EXCEPT SELECT 2", "(WITH a AS (SELECT 1) SELECT * FROM a) EXCEPT SELECT 2"),
        ("EXPLAIN (VALUES (1))", "(VALUES (1))"),
        ("EXPLAIN (COSTS OFF, FORMAT JSON) SELECT 1", "SELECT 1"),
    ],
)
def test_explain_of_a_parenthesized_query_is_not_an_option_list(sql: str, query: str) -> None:
    statement = classify(sql)
    assert statement.kind is Kind.EXPLAIN
    assert statement.ast is not None and statement.ast.sql(dialect="postgres") == classify(query).ast.sql(dialect="postgres")


@pytest.mark.parametrize(
    ("sql", "message"),
    [  # PostgreSQL 15's words for each
        ("WITH RECURSIVE t AS (SELECT * FROM t) SELECT * FROM t",
         'recursive query "t" does not have the form non-recursive-term UNION [ALL] recursive-term'),
        ("WITH RECURSIVE ledger AS (SELECT * FROM ledger) SELECT memo FROM ledger",
         'recursive query "ledger" does not have the form non-recursive-term UNION [ALL] recursive-term'),
        ("WITH RECURSIVE t(n) AS (SELECT n FROM t UNION ALL SELECT 1) SELECT * FROM t",
         'recursive reference to query "t" must not appear within its non-recursive term'),
        ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT t.n FROM t, t t2) SELECT * FROM t",
         'recursive reference to query "t" must not appear more than once'),
    ],
)
def test_recursive_cte_misuse_is_42p19(sql: str, message: str) -> None:
    with pytest.raises(VeilError) as raised:
        classify(sql)
    assert (raised.value.sqlstate, raised.value.message) == ("42P19", message)


def test_a_well_formed_recursive_cte_and_a_recursive_with_without_self_reference_parse() -> None:
    assert classify("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t").kind is Kind.QUERY
    assert classify("WITH RECURSIVE x AS (SELECT * FROM ledger) SELECT * FROM x").kind is Kind.QUERY


@pytest.mark.parametrize("sql", ["SELECT to_char(entry_id) FROM ledger", "SELECT sum(memo, 1) FROM ledger", "SELECT upper(a, b, c) FROM t"])
def test_a_call_sqlglot_refuses_for_its_arguments_is_42883_not_a_syntax_error(sql: str) -> None:
    with pytest.raises(VeilError) as raised:
        classify(sql)
    name = sql.split()[1].split("(")[0]
    assert (raised.value.sqlstate, raised.value.message) == ("42883", f"function {name} does not exist")
    assert "sqlglot" not in str(raised.value) and "Required keyword" not in str(raised.value)
