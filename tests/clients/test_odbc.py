"""psqlODBC (the Debian driver, through unixODBC and pyodbc) against `veil serve`.

The driver is registered in a private odbcinst.ini / odbc.ini (ODBCSYSINI / ODBCINI point at a tmp
dir), so the test never depends on or changes the machine's ODBC configuration.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.clients.support import in_ci, require_file
from tests.conftest import PASSWORDS, VeilServer

if TYPE_CHECKING or in_ci():  # a missing client fails in CI, never skips
    import pyodbc
else:  # pyodbc needs unixODBC's libodbc at import time
    pyodbc = pytest.importorskip("pyodbc")

DRIVER_NAME = "Veil PostgreSQL Unicode"
DSN_NAME = "veil_test"
SALES_TABLES = {"orders", "customers", "all_types", "big"}


def driver_candidates() -> list[Path]:
    found = [Path(p) for p in sorted(glob.glob("/usr/lib/*/odbc/psqlodbcw.so"))]
    found += [Path("/usr/lib/odbc/psqlodbcw.so"), Path("/usr/local/lib/psqlodbcw.so")]
    odbcinst = shutil.which("odbcinst")
    if odbcinst:
        listing = subprocess.run(
            [odbcinst, "-q", "-d", "-n", "PostgreSQL Unicode"], capture_output=True, text=True, check=False
        )
        found += [
            Path(line.split("=", 1)[1].strip()) for line in listing.stdout.splitlines() if line.startswith("Driver=")
        ]
    return found


@pytest.fixture(scope="module")
def odbc_env(veil_server: VeilServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    driver = require_file(driver_candidates(), "psqlODBC driver psqlodbcw.so (apt package odbc-postgresql)")
    directory = tmp_path_factory.mktemp("odbc")
    (directory / "odbcinst.ini").write_text(f"[{DRIVER_NAME}]\nDescription=psqlODBC Unicode\nDriver={driver}\n")
    (directory / "odbc.ini").write_text(
        f"[{DSN_NAME}]\nDriver={DRIVER_NAME}\nServername={veil_server.host}\nPort={veil_server.port}\n"
        "Database=veil\nSSLmode=disable\nBoolsAsChar=0\n"
    )
    saved = {name: os.environ.get(name) for name in ("ODBCSYSINI", "ODBCINI")}
    os.environ["ODBCSYSINI"] = str(directory)
    os.environ["ODBCINI"] = str(directory / "odbc.ini")
    try:
        yield directory
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connection_string(server: VeilServer, user: str = "alice") -> str:
    return (
        f"DRIVER={{{DRIVER_NAME}}};SERVER={server.host};PORT={server.port};DATABASE=veil;"
        f"UID={user};PWD={PASSWORDS[user]};SSLmode=disable;BoolsAsChar=0"
    )


@pytest.fixture(scope="module")
def cnxn(odbc_env: Path, veil_server: VeilServer) -> Iterator[pyodbc.Connection]:
    connection = pyodbc.connect(connection_string(veil_server), autocommit=True, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def test_select_with_integer_parameter(cnxn: pyodbc.Connection) -> None:
    row = cnxn.execute("select id, customer, amount, created from sales.orders where id = ?", 1).fetchone()
    assert tuple(row) == (1, "Ada", Decimal("12.50"), dt.datetime(2024, 1, 2, 3, 4, 5, 123456))


def test_select_with_text_parameter(cnxn: pyodbc.Connection) -> None:
    row = cnxn.execute("select id, amount, created from sales.orders where customer = ?", "Zoë ünïcode").fetchone()
    assert tuple(row) == (4, Decimal("-7.25"), dt.datetime(1999, 12, 31, 23, 59, 59))


def test_select_with_typed_parameters(cnxn: pyodbc.Connection) -> None:
    rows = cnxn.execute(
        "select id from sales.orders where created > ? and amount > ? order by id",
        dt.datetime(2000, 1, 1),
        Decimal("10.5"),
    ).fetchall()
    assert [row.id for row in rows] == [1, 2]


def test_typed_values(cnxn: pyodbc.Connection) -> None:
    cursor = cnxn.execute("select i4, i8, n, f8, t, d, ts, b, tm from sales.all_types order by i4 nulls last")
    values, nulls = (tuple(row) for row in cursor.fetchall())
    assert values == (
        2147483647,
        -9223372036854775807,
        Decimal("12345678901234.5678"),
        0.1,
        "hello",
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 13, 14, 15, 500000),
        True,
        dt.time(13, 14, 15, 500000),
    )
    assert nulls == (None,) * 9
    assert [column[1] for column in cursor.description] == [
        int,
        int,
        Decimal,
        float,
        str,
        dt.date,
        dt.datetime,
        bool,
        dt.time,
    ]


def test_bool_parameter_filter(cnxn: pyodbc.Connection) -> None:
    assert cnxn.execute("select count(*) from sales.all_types where b = ?", True).fetchone()[0] == 1


def test_catalog_tables_hide_unsubscribed_schema(cnxn: pyodbc.Connection) -> None:
    tables = {(row.table_schem, row.table_name) for row in cnxn.cursor().tables()}
    assert {("sales", name) for name in SALES_TABLES} <= tables
    assert ("hr", "salaries") not in tables
    assert list(cnxn.cursor().tables(schema="hr")) == []
    sales = {row.table_name: row.table_type for row in cnxn.cursor().tables(schema="sales")}
    assert sales == dict.fromkeys(SALES_TABLES, "TABLE")


def test_catalog_columns(cnxn: pyodbc.Connection) -> None:
    columns = [(row.column_name, row.type_name) for row in cnxn.cursor().columns(table="orders", schema="sales")]
    assert columns == [
        ("id", "int8"),
        ("customer", "text"),
        ("amount", "numeric"),
        ("created", "timestamp"),
        ("tags", "_text"),
    ]
    assert list(cnxn.cursor().columns(table="salaries", schema="hr")) == []


def test_catalog_calls_beyond_tables_and_columns(cnxn: pyodbc.Connection) -> None:
    """SQLSpecialColumns (best row id, row version), SQLForeignKeys both ways, SQLStatistics,
    SQLPrimaryKeys, SQLProcedures and SQLGetTypeInfo answer as for PostgreSQL tables without keys;
    a table the user may not read does not exist for them."""
    cursor = cnxn.cursor()
    assert list(cursor.rowIdColumns("orders", schema="sales")) == []
    row_versions = [(row.column_name, row.type_name) for row in cursor.rowVerColumns("orders", schema="sales")]
    assert row_versions == [("xmin", "xid")]  # what psqlODBC reports for a PostgreSQL 15 table
    assert list(cursor.foreignKeys(table="orders", schema="sales")) == []
    assert list(cursor.foreignKeys(foreignTable="orders", foreignSchema="sales")) == []
    assert list(cursor.primaryKeys("orders", schema="sales")) == []
    assert all(row.table_name == "orders" for row in cursor.statistics("orders", schema="sales"))
    assert list(cursor.procedures(schema="sales")) == []
    type_names = sorted({row.type_name for row in cursor.getTypeInfo()})
    assert type_names == [  # psqlODBC 13 against PostgreSQL 15 lists exactly these
        "bool", "bytea", "char", "date", "float4", "float8", "int2", "int4", "int8", "numeric", "text",
        "time", "timestamptz", "uuid", "varchar",
    ]
    with pytest.raises(pyodbc.Error, match="specified table does not exist"):  # as for a missing table
        cursor.rowIdColumns("salaries", schema="hr")


def test_syntax_error_then_working_query(cnxn: pyodbc.Connection) -> None:
    cursor = cnxn.cursor()
    with pytest.raises(pyodbc.ProgrammingError) as error:
        cursor.execute("selec 1")
    assert error.value.args[0] == "42601"
    assert cursor.execute("select 2").fetchone()[0] == 2


def test_dsn_transaction_rollback_after_error(odbc_env: Path) -> None:
    """Through the odbc.ini DSN, in a transaction: the error is reported, rollback recovers."""
    connection = pyodbc.connect(f"DSN={DSN_NAME};UID=alice;PWD={PASSWORDS['alice']}", timeout=30)
    try:
        cursor = connection.cursor()
        with pytest.raises(pyodbc.ProgrammingError) as error:
            cursor.execute("select * from hr.salaries")
        assert error.value.args[0] == "42P01"
        connection.rollback()
        assert cursor.execute("select count(*) from sales.big where id < ?", 1000).fetchone()[0] == 1000
    finally:
        connection.close()


# --- the conformance server (a mask on sales.customers.name) --------------------------------


@pytest.mark.parametrize("user", ["alice", "root"])
def test_masked_and_exempt_users_through_catalog_calls(
    odbc_env: Path, conformance_server: VeilServer, user: str
) -> None:
    connection = pyodbc.connect(connection_string(conformance_server, user), autocommit=True, timeout=30)
    try:
        cursor = connection.cursor()
        names = [row.column_name for row in cursor.columns(table="customers", schema="sales")]
        assert names == ["id", "name", "country"]
        statistics = list(cursor.statistics("customers", schema="sales"))
        assert all(row.index_name is None for row in statistics)  # no index on a query-backed table
        assert list(cursor.primaryKeys("customers", schema="sales")) == []
        rows = cursor.execute(
            "select id, name from sales.customers where id in (?, ?, ?) and country <> ? order by id",
            2, 3, 5, "XX",
        ).fetchall()
        expected = [(i, "***" if user == "alice" else f"customer {i}") for i in (2, 3, 5)]
        assert [tuple(row) for row in rows] == expected
        cursor.execute("select id, doubled from sales.big")
        count = total = 0
        while batch := cursor.fetchmany(10000):
            count += len(batch)
            total += sum(row.doubled for row in batch)
        assert (count, total) == (200000, sum(range(200000)) * 2)
    finally:
        connection.close()
