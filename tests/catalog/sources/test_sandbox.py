"""Every DuckDB Veil opens comes from one factory, and what it opens cannot reach outside.

Each check runs real SQL against a real DuckDB opened by :func:`sandboxed_duckdb`: reading a file,
naming a Python variable, loading an extension and loosening the settings must all fail.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from veil.catalog.sources.sandbox import sandboxed_duckdb, set_zone, with_macros
from veil.errcodes import InvalidParameterValue


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


_LOOSENING = (
    "SET enable_external_access = true",
    "SET GLOBAL enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "SET allowed_configs = ['TimeZone', 'enable_external_access']",
    "RESET allowed_configs",
    "SET allowed_directories = ['/']",
    "SET autoload_known_extensions = true",
    "SET python_enable_replacements = true",
    "SET threads = 1",
    "SET Calendar = 'japanese'",
)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "+05:30"])
def test_a_per_statement_database_computes_in_its_zone_and_keeps_it(zone: str, csv_file: Path) -> None:
    """A database opened per statement takes the session's zone before the lock: nothing, not
    even the zone, can be changed afterwards."""
    with sandboxed_duckdb(timezone=zone) as connection:
        shown = connection.execute("SELECT current_setting('TimeZone')").fetchone()
        assert shown == ({"UTC": "UTC", "Europe/Berlin": "Europe/Berlin", "+05:30": "GMT-05:30"}[zone],)
        for statement in (*_LOOSENING, "SET TimeZone = 'Asia/Tokyo'", "SET GLOBAL TimeZone = 'Asia/Tokyo'"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                connection.execute(statement)
        with pytest.raises(duckdb.PermissionException):
            connection.execute(f"SELECT * FROM read_csv('{csv_file}')").fetchall()


def test_a_shared_database_lets_each_cursor_have_its_zone_and_nothing_else(tmp_path: Path, csv_file: Path) -> None:
    """A long-lived database (``zoned_cursors``: the emulated catalog, a DuckDB source file)
    keeps TimeZone alone changeable: two cursors compute in two zones at once, every other
    setting stays locked on every cursor, and files stay out of reach."""
    path = tmp_path / "zoned.duckdb"
    with duckdb.connect(str(path)) as writer:
        writer.execute("CREATE TABLE t AS SELECT TIMESTAMPTZ '2020-01-01 00:00:00+00' AS at")
    for database in (sandboxed_duckdb(zoned_cursors=True), sandboxed_duckdb(str(path), read_only=True, zoned_cursors=True)):
        with database:
            allowed = database.execute("SELECT current_setting('allowed_configs')").fetchone()
            assert allowed == (["TimeZone"],)
            berlin, tokyo, fresh = database.cursor(), database.cursor(), database.cursor()
            set_zone(berlin, "Europe/Berlin")
            set_zone(tokyo, "Asia/Tokyo")
            sql = "SELECT (TIMESTAMPTZ '2020-01-01 00:00:00+00')::VARCHAR"
            assert berlin.execute(sql).fetchone() == ("2020-01-01 01:00:00+01",)
            assert tokyo.execute(sql).fetchone() == ("2020-01-01 09:00:00+09",)
            assert fresh.execute(sql).fetchone() == ("2020-01-01 00:00:00+00",)  # a new cursor: UTC
            for cursor in (database, berlin, fresh):
                for statement in _LOOSENING:
                    with pytest.raises(duckdb.InvalidInputException, match="locked"):
                        cursor.execute(statement)
                with pytest.raises(duckdb.PermissionException):
                    cursor.execute(f"SELECT * FROM read_csv('{csv_file}')").fetchall()


def test_a_zone_icu_does_not_know_is_a_postgresql_error() -> None:
    with sandboxed_duckdb(zoned_cursors=True) as database, pytest.raises(InvalidParameterValue):
        set_zone(database.cursor(), "posixrules")
