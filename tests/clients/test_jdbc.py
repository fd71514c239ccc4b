"""pgJDBC (the Debian package's driver) against `veil serve`.

`java/VeilJdbcCheck.java` is compiled at test time and run once per module; it prints one record per
observation and these tests assert on the values. The expected values are what the same program
prints against PostgreSQL 15 with the fixture's data (see the program's header for the format).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.clients.support import Report, require_file
from tests.conftest import PASSWORDS, VeilServer, require_tool

SOURCE = Path(__file__).parent / "java" / "VeilJdbcCheck.java"
JAR_CANDIDATES = [
    Path(os.environ.get("VEIL_PGJDBC_JAR", "/usr/share/java/postgresql.jar")),
    Path("/usr/share/java/postgresql.jar"),
]

ORDERS_COLUMNS = [
    ("id", "-5", "int8", "1"),
    ("customer", "12", "text", "2"),
    ("amount", "2", "numeric", "3"),
    ("created", "93", "timestamp", "4"),
    ("tags", "2003", "_text", "5"),
]

# id -> (id, customer, amount, created) as getLong/getString/getBigDecimal/getTimestamp print them.
ORDERS_BY_ID = {
    "1": ("1", "Ada", "12.50", "2024-01-02 03:04:05.123456"),
    "3": ("3", "Linus", "NULL", "NULL"),
    "4": ("4", "Zoë ünïcode", "-7.25", "1999-12-31 23:59:59.0"),
}

# column -> (type name, java.sql.Types, getObject class, getObject rendered, getString in text mode,
#            result format pgJDBC requests once the statement is server-prepared: 1 = binary)
ALL_TYPES: dict[str, tuple[str, str, str, str, str, str]] = {
    "b": ("bool", "-7", "Boolean", "true", "t", "0"),
    "i2": ("int2", "5", "Integer", "-32768", "-32768", "1"),
    "i4": ("int4", "4", "Integer", "2147483647", "2147483647", "1"),
    "i8": ("int8", "-5", "Long", "-9223372036854775807", "-9223372036854775807", "1"),
    "f4": ("float4", "7", "Float", "1.5", "1.5", "1"),
    "f8": ("float8", "8", "Double", "0.1", "0.1", "1"),
    "n": ("numeric", "2", "BigDecimal", "12345678901234.5678", "12345678901234.5678", "1"),
    "t": ("text", "12", "String", "hello", "hello", "0"),
    "bt": ("bytea", "-2", "byte[]", "0x00ff", "\\x00ff", "1"),
    "d": ("date", "91", "Date", "2024-02-29", "2024-02-29", "1"),
    "tm": ("time", "92", "Time", "13:14:15", "13:14:15.5", "1"),
    "ts": ("timestamp", "93", "Timestamp", "2024-02-29 13:14:15.5", "2024-02-29 13:14:15.5", "1"),
    "tstz": ("timestamptz", "93", "Timestamp", "2024-02-29 13:14:15.5", "2024-02-29 13:14:15.5+00", "1"),
    "iv": (
        "interval",
        "1111",
        "PGInterval",
        "1 years 2 mons 3 days 4 hours 5 mins 6.0 secs",
        "1 year 2 mons 3 days 04:05:06",
        "0",
    ),
    "u": (
        "uuid",
        "1111",
        "UUID",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "1",
    ),
    "j": ("json", "1111", "PGobject", '{"k": [1, 2]}', '{"k": [1, 2]}', "0"),
    "ai": ("_int4", "2003", "PgArray", "[1, null, 3]", "{1,NULL,3}", "1"),
    "atx": ("_text", "2003", "PgArray", "[x, null, y z]", '{x,NULL,"y z"}', "1"),
}
# pgJDBC's own getString of binary bytea and arrays differs from the text form (even against
# PostgreSQL: "[B@…", {"1",NULL,"3"}); only getObject is compared for those in binary mode.
BINARY_GETSTRING_DIFFERS = {"bt", "ai", "atx"}


@pytest.fixture(scope="module")
def jdbc_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """The compiled check program: (java, pgJDBC jar, class directory)."""
    java = require_tool("java")
    javac = require_tool("javac")
    jar = require_file(JAR_CANDIDATES, "pgJDBC jar (apt package libpostgresql-jdbc-java)")
    build = tmp_path_factory.mktemp("jdbc")
    compiled = subprocess.run(
        [javac, "-d", str(build), "-cp", str(jar), str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    return java, jar, build


def run_check(build: tuple[str, Path, Path], server: VeilServer, user: str = "alice") -> Report:
    java, jar, classes = build
    url = f"jdbc:postgresql://{server.host}:{server.port}/veil?sslmode=disable"
    ran = subprocess.run(
        [
            java,
            "-Duser.timezone=UTC",
            "-Duser.language=en",
            "-cp",
            f"{jar}{os.pathsep}{classes}",
            "VeilJdbcCheck",
            url,
            user,
            PASSWORDS[user],
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = Report.parse(ran.stdout, ran.stderr, ran.returncode)
    report.server_log = server.log_path
    if "connect" in report.failures:
        pytest.fail(f"pgJDBC could not connect: {report.failures['connect']}\n{report.context()}")
    return report


@pytest.fixture(scope="module")
def jdbc(jdbc_build: tuple[str, Path, Path], veil_server: VeilServer) -> Report:
    return run_check(jdbc_build, veil_server)


@pytest.mark.parametrize(("user", "expected"), [("alice", "1:***,2:***,3:***"),
                                                ("root", "1:customer 1,2:customer 2,3:customer 3")])
def test_masked_and_exempt_users(
    jdbc_build: tuple[str, Path, Path], conformance_server: VeilServer, user: str, expected: str
) -> None:
    """The whole check against the conformance server: a masked user sees the mask, the exempt
    one raw names; ResultSetMetaData finds the column's table through RowDescription."""
    report = run_check(jdbc_build, conformance_server, user)
    for section in ("tables", "columns", "keys", "prepared", "fetch", "masked", "any_array"):
        report.assert_section_ok(section)
    rows, table, schema, column, nullable = report.one("masked")
    assert rows == expected
    names = {"alice": ["***", "***"], "root": ["customer 4", "customer 7"]}[user]
    assert report.one("any") == (f"4:{names[0]},7:{names[1]}",)
    assert (table, schema, column) == ("customers", "sales", "name")
    assert nullable == "1"  # columnNullable: pgJDBC read pg_attribute.attnotnull for it


def test_connects_as_postgresql_15(jdbc: Report) -> None:
    product, _version, major, _driver = jdbc.one("connected")
    assert (product, major) == ("PostgreSQL", "15")


def test_get_tables_lists_subscribed_tables_only(jdbc: Report) -> None:
    jdbc.assert_section_ok("tables")
    tables = {(schema, name): kind for schema, name, kind in jdbc.rows("table")}
    for name in ("orders", "customers", "all_types", "big"):
        assert tables.get(("sales", name)) == "TABLE", tables
    assert ("hr", "salaries") not in tables
    assert jdbc.rows("hr_table") == []


def test_get_columns_of_orders(jdbc: Report) -> None:
    jdbc.assert_section_ok("columns")
    assert jdbc.rows("column") == ORDERS_COLUMNS


def test_get_schemas(jdbc: Report) -> None:
    jdbc.assert_section_ok("schemas")
    schemas = {schema for (schema,) in jdbc.rows("schema")}
    assert {"sales", "pg_catalog", "information_schema"} <= schemas


def test_database_metadata_calls_tools_make(jdbc: Report) -> None:
    """Every DatabaseMetaData call answers (no SQLSTATE), with what PostgreSQL would say for
    tables that have no keys, routines or user types."""
    jdbc.assert_section_ok("metadata")
    assert jdbc.rows("meta_fail") == []
    counts = {name: int(rows) for name, rows in jdbc.rows("meta")}
    assert counts["catalogs"] == 1 and counts["schemas_pattern"] == 1
    assert counts["table_types"] >= 5 and counts["type_info"] >= 40
    assert counts["functions"] >= 1 and counts["function_columns"] >= 1  # version() returns text
    for empty in ("procedures", "imported_keys", "exported_keys", "cross_reference"):
        assert counts[empty] == 0, empty
    assert counts["udts"] == 4  # each sales table's row type (typtype 'c'), as PostgreSQL lists them
    assert counts["version_columns"] == 1  # pgJDBC's ctid, as against PostgreSQL


def test_primary_keys_and_index_info_are_empty(jdbc: Report) -> None:
    jdbc.assert_section_ok("keys")
    assert jdbc.one("primary_keys") == ("0",)
    assert jdbc.one("index_info") == ("0",)


def test_prepared_statement_switches_to_server_prepared_binary(jdbc: Report) -> None:
    jdbc.assert_section_ok("prepared")
    rows = jdbc.rows("prepared")
    assert len(rows) == 3 * 8, rows
    for id_, round_, server_prepared, formats, *values in rows:
        assert tuple(values) == ORDERS_BY_ID[id_], (id_, round_, values)
        if round_ == "1":
            assert formats == "0000", (id_, round_, formats)
        if int(round_) >= 3:
            # server-prepared S_n: id int8, amount numeric and created timestamp come back binary
            assert (server_prepared, formats) == ("true", "1011"), (id_, round_, server_prepared, formats)


def test_fetch_size_streams_all_rows_through_a_suspended_portal(jdbc: Report) -> None:
    jdbc.assert_section_ok("fetch")
    rows, total, ordered = jdbc.one("fetch")
    assert (int(rows), int(total), ordered) == (200_000, sum(range(200_000)), "true")


def test_errors_keep_the_connection_usable(jdbc: Report) -> None:
    jdbc.assert_section_ok("errors")
    assert jdbc.one("syntax_error") == ("42601",)
    assert jdbc.one("in_failed_transaction") == ("25P02",)
    assert jdbc.one("after_rollback") == ("42",)
    assert jdbc.one("hidden_table") == ("42P01",)
    assert jdbc.one("after_hidden_table") == ("4",)
    assert jdbc.one("final") == ("still alive",)


@pytest.mark.parametrize("mode", ["text", "binary"])
def test_all_types(jdbc: Report, mode: str) -> None:
    jdbc.assert_section_ok(f"types_{mode}")
    assert (mode, "2") in jdbc.rows("type_rows")
    got = {(row, column): rest for m, row, column, *rest in jdbc.rows("type") if m == mode}
    mismatches = []
    for column, (type_name, jdbc_type, cls, rendered, text, binary_format) in ALL_TYPES.items():
        type_name_, jdbc_type_, format_, cls_, rendered_, string_ = got.get(("1", column), ["missing"] * 6)
        expected_format = binary_format if mode == "binary" else "0"
        expected: tuple[str, ...] = (type_name, jdbc_type, expected_format, cls, rendered)
        actual: tuple[str, ...] = (type_name_, jdbc_type_, format_, cls_, rendered_)
        if mode == "text" or column not in BINARY_GETSTRING_DIFFERS:
            expected, actual = (*expected, text), (*actual, string_)
        if actual != expected:
            mismatches.append(f"{column}: expected {expected}, got {actual}")
        null_row = got.get(("2", column), ["missing"] * 6)
        if (null_row[0], null_row[3], null_row[4], null_row[5]) != (type_name, "null", "NULL", "NULL"):
            mismatches.append(f"{column} (NULL row): got {null_row}")
    assert not mismatches, "\n".join(mismatches)
