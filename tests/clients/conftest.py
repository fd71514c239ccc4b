"""The conformance server every client test talks to: the session warehouse behind `veil serve`
with a column mask on, so each client shows masked values to one user and raw ones to another.

Each client program (tests/clients/programs/) runs its library's normal path and prints one
record per line (``kind<TAB>field...``, see :class:`tests.clients.support.Report`):
``version``, ``tables`` (sales tables its metadata API lists), ``columns`` (name:type of
sales.orders), ``in`` (ids and names from a parameterised IN-list query), ``stream`` (row count
and sum of sales.big, 200,000 rows) and ``masked`` (customers.name of id 1).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.support import Report
from tests.conftest import PASSWORDS, VeilServer, base_config, start_server, stop_server

PROGRAMS = Path(__file__).parent / "programs"
MASKED_USER = "alice"  # in group Analytics: customers.name is masked
EXEMPT_USER = "root"  # the mask's exception: raw values
MASK = "***"
RAW_NAME = "customer 1"
SALES_TABLES = {"all_types", "big", "customers", "orders"}
ORDERS_COLUMNS = ["id", "customer", "amount", "created", "tags"]
IN_IDS = ["2", "3", "5"]  # SELECT ... WHERE id IN (2, 3, 5) AND country <> 'XX'
STREAM = ("200000", str(sum(range(200000)) * 2))  # count(*), sum(doubled) of sales.big


def conformance_config(warehouse: Path) -> dict[str, object]:
    config = base_config(warehouse)
    config["policies"] = [  # type: ignore[index]
        *config["policies"],  # type: ignore[index]
        {
            "name": "Mask customer names",
            "mask": {
                "tables": ["warehouse.sales.customers"],
                "columns": ["name"],
                "with": "constant",
                "value": MASK,
                "except": {"users": [EXEMPT_USER]},
            },
        },
    ]
    return config


@pytest.fixture(scope="session")
def conformance_server(
    tmp_path_factory: pytest.TempPathFactory, warehouse: Path
) -> Iterator[VeilServer]:
    directory = tmp_path_factory.mktemp("conformance")
    process, server = start_server(directory, conformance_config(warehouse))
    try:
        yield server
    finally:
        stop_server(process)


def client_env(server: VeilServer, user: str) -> dict[str, str]:
    """Where the client programs find the server (and libpq-based ones their password)."""
    return {
        **os.environ,
        "VEIL_HOST": server.host,
        "VEIL_PORT": str(server.port),
        "VEIL_USER": user,
        "VEIL_PASSWORD": PASSWORDS[user],
        "PGPASSWORD": PASSWORDS[user],
        "PGSSLMODE": "disable",
        "PAGER": "",
    }


def run_program(
    command: list[str], server: VeilServer, user: str, timeout: float = 300,
    cwd: Path | None = None,
) -> Report:
    ran = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False,
        env=client_env(server, user), cwd=cwd,
    )
    report = Report.parse(ran.stdout, ran.stderr, ran.returncode)
    report.server_log = server.log_path
    return report


def column_types(report: Report) -> list[tuple[str, str]]:
    """The ``columns`` record (``name:type,...``; a type may hold commas: numeric(12,2))."""
    return re.findall(r"(\w+):((?:[^,(]|\([^)]*\))+)", report.one("columns")[0])


def assert_conformant(report: Report, user: str) -> None:
    """The checks every client shares; ``ok``/``fail`` sections are asserted by each test."""
    assert report.returncode == 0, report.context()
    assert report.one("version")[0].startswith("15"), report.context()
    assert set(report.one("tables")[0].split(",")) == SALES_TABLES, report.context()
    names = [name for name, _ in column_types(report)]
    assert names == ORDERS_COLUMNS, report.context()
    rows = report.one("in")[0].split(",")
    assert [row.split(":")[0] for row in rows] == IN_IDS, report.context()
    for row in rows:
        row_id, name = row.split(":", 1)
        assert name == (MASK if user == MASKED_USER else f"customer {row_id}"), report.context()
    assert tuple(report.one("stream")) == STREAM, report.context()
    masked = report.one("masked")[0]
    if user == MASKED_USER:
        assert masked == MASK and RAW_NAME not in masked, report.context()
    else:
        assert masked == RAW_NAME, report.context()


USERS = [MASKED_USER, EXEMPT_USER]
TABLES_SQL = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
    "AND table_type = 'BASE TABLE' ORDER BY 1"
)
IN_SQL = "SELECT id, name FROM sales.customers WHERE id IN (%s, %s, %s) AND country <> %s ORDER BY id"
STREAM_SQL = "SELECT id, doubled, label FROM sales.big"


class Recorder:
    """The records an in-process (Python) client produces, read by :func:`assert_conformant`
    like a client program's output."""

    def __init__(self) -> None:
        self.records: list[tuple[str, ...]] = []

    def add(self, kind: str, *fields: object) -> None:
        self.records.append((kind, *(str(f) for f in fields)))

    def in_rows(self, rows: list[tuple[object, ...]] | list[Any]) -> None:
        self.add("in", ",".join(f"{row[0]}:{row[1]}" for row in rows))

    def report(self) -> Report:
        return Report(self.records)
