"""Perl DBD::Pg (Debian libdbd-pg-perl) against `veil serve`: table_info, column_info,
primary_key_info and statistics_info run DBD::Pg's own catalog queries."""

from __future__ import annotations

import pytest

from tests.clients.conftest import (
    EXEMPT_USER,
    MASKED_USER,
    PROGRAMS,
    assert_conformant,
    column_types,
    run_program,
)
from tests.clients.support import Report, require_library
from tests.conftest import VeilServer, require_tool

SECTIONS = ["version", "table_info", "column_info", "primary_key_info", "statistics_info",
            "placeholders", "stream", "masked"]


@pytest.fixture(scope="module", params=[MASKED_USER, EXEMPT_USER])
def dbd_pg(request: pytest.FixtureRequest, conformance_server: VeilServer) -> tuple[str, Report]:
    perl = require_tool("perl")
    require_library([perl, "-MDBD::Pg", "-e", "1"], "DBD::Pg", "libdbd-pg-perl")
    return request.param, run_program([perl, str(PROGRAMS / "dbd_pg.pl")], conformance_server, request.param)


@pytest.mark.parametrize("section", SECTIONS)
def test_section(dbd_pg: tuple[str, Report], section: str) -> None:
    dbd_pg[1].assert_section_ok(section)


def test_conformant(dbd_pg: tuple[str, Report]) -> None:
    user, report = dbd_pg
    assert_conformant(report, user)
    types = dict(column_types(report))
    assert types == {"id": "bigint", "customer": "text", "amount": "numeric(12,2)",
                     "created": "timestamp without time zone", "tags": "text[]"}


def test_no_keys_or_indexes(dbd_pg: tuple[str, Report]) -> None:
    """Query-backed tables have no primary key and no index: DBD::Pg must say so, not fail."""
    report = dbd_pg[1]
    assert report.one("primary_key") == ("0",), report.context()
    # DBD::Pg reports the table itself (TYPE 'table'), as against PostgreSQL, and no index rows.
    assert report.one("statistics") == ("table",), report.context()
