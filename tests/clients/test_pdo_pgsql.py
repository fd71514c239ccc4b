"""PHP PDO pgsql (Debian php-pgsql) against `veil serve`: information_schema listings, native
prepared statements with typed bindings, an unbuffered stream and getColumnMeta."""

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

SECTIONS = ["version", "tables", "columns", "prepared", "stream", "column_meta", "masked"]


@pytest.fixture(scope="module", params=[MASKED_USER, EXEMPT_USER])
def pdo(request: pytest.FixtureRequest, conformance_server: VeilServer) -> tuple[str, Report]:
    php = require_tool("php")
    require_library([php, "-r", "exit(extension_loaded('pdo_pgsql') ? 0 : 1);"], "PDO pgsql", "php-pgsql")
    report = run_program([php, str(PROGRAMS / "pdo_pgsql.php")], conformance_server, request.param)
    return request.param, report


@pytest.mark.parametrize("section", SECTIONS)
def test_section(pdo: tuple[str, Report], section: str) -> None:
    pdo[1].assert_section_ok(section)


def test_conformant(pdo: tuple[str, Report]) -> None:
    assert_conformant(pdo[1], pdo[0])
    types = [kind for _, kind in column_types(pdo[1])]
    assert types == ["bigint", "text", "numeric", "timestamp without time zone", "ARRAY"]


def test_column_meta_names_the_table(pdo: tuple[str, Report]) -> None:
    """getColumnMeta's table comes from RowDescription's table OID (PQftable), then pg_class."""
    report = pdo[1]
    assert report.one("meta") == ("id:int8:orders,customer:text:orders,amount:numeric:orders",), report.context()
