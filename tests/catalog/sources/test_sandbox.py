"""Every DuckDB Veil opens comes from one factory, and what it opens cannot reach outside.

Each check runs real SQL against a real DuckDB opened by :func:`sandboxed_duckdb`: reading a file,
naming a Python variable, loading an extension and loosening the settings must all fail.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from veil.catalog.sources.sandbox import sandboxed_duckdb, with_macros


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.csv"
    path.write_text("secret\nhunter2\n")
    return path


def test_files_and_urls_are_out_of_reach(csv_file: Path) -> None:
    with sandboxed_duckdb() as connection, pytest.raises(duckdb.PermissionException):
        connection.execute(f"SELECT * FROM read_csv('{csv_file}')").fetchall()


def test_the_settings_cannot_be_loosened() -> None:
    with sandboxed_duckdb() as connection:
        for statement in ("SET enable_external_access = true", "SET lock_configuration = false",
                          "SET python_enable_replacements = true"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                connection.execute(statement)


def test_python_variables_are_not_read_by_name() -> None:
    veil_hidden_rows = pa.table({"secret": ["hunter2"]})  # noqa: F841 - what a replacement scan would find
    with sandboxed_duckdb() as connection, pytest.raises(duckdb.CatalogException):
        connection.execute("SELECT * FROM veil_hidden_rows").fetchall()


def test_extensions_are_not_installed_on_demand() -> None:
    with sandboxed_duckdb() as connection, pytest.raises(duckdb.Error):
        connection.execute("INSTALL spatial").fetchall()


def test_prepare_runs_before_the_lock_and_registered_tables_stay_readable(csv_file: Path) -> None:
    def prepare(connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(f"CREATE TABLE copied AS SELECT * FROM read_csv('{csv_file}')")

    with sandboxed_duckdb(prepare=prepare) as connection:
        connection.register("given", pa.table({"n": [1, 2]}))
        assert connection.execute("SELECT secret FROM copied").fetchall() == [("hunter2",)]
        assert connection.execute("SELECT sum(n) FROM given").fetchall() == [(3,)]
        with pytest.raises(duckdb.PermissionException):
            connection.execute(f"SELECT * FROM read_csv('{csv_file}')").fetchall()


def test_a_file_opened_twice_shares_one_locked_database(tmp_path: Path, csv_file: Path) -> None:
    """DuckDB shares the database instance of a file within a process: the second connection
    finds it locked already and is as closed to the outside as the first."""
    path = tmp_path / "shared.duckdb"
    with duckdb.connect(str(path)) as writer:
        writer.execute("CREATE TABLE t AS SELECT 1 AS n")
    with sandboxed_duckdb(str(path), read_only=True) as first, sandboxed_duckdb(str(path), read_only=True) as second:
        assert second.execute("SELECT n FROM t").fetchall() == [(1,)]
        for connection in (first, second):
            with pytest.raises(duckdb.PermissionException):
                connection.execute(f"SELECT * FROM read_csv('{csv_file}')").fetchall()


_QUOTIENT = "SELECT veil_numeric_div(CAST('-1.50' AS DECIMAL(38, 2)), CAST(7 AS DECIMAL(38, 0)), 2, 0)"


def test_the_quotient_macro_is_on_every_connection_and_cursor(tmp_path: Path) -> None:
    """Veil's numeric quotient macro: defined before the lock in a database that asks for it
    (its cursors see it), and once locked on any connection or cursor that calls it, even of a
    read-only database file (without writing into the file)."""
    path = tmp_path / "source.duckdb"
    with duckdb.connect(str(path)) as setup:
        setup.execute("CREATE TABLE t AS SELECT 1 AS n")
    expected = [("-0.21428571428571428571",)]
    with sandboxed_duckdb(macros=True) as memory:
        assert memory.execute(_QUOTIENT).fetchall() == expected
        assert memory.cursor().execute(_QUOTIENT).fetchall() == expected
    with sandboxed_duckdb(str(path), read_only=True) as source:
        assert with_macros(source, lambda: source.execute(_QUOTIENT).fetchall()) == expected
        cursor = source.cursor()
        assert with_macros(cursor, lambda: cursor.execute(_QUOTIENT).fetchall()) == expected
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            source.execute("SET enable_external_access = true")
    with duckdb.connect(str(path), read_only=True) as plain:
        assert plain.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'veil_%'").fetchall() == [(0,)]
