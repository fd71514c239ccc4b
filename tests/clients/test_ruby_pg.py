"""Ruby pg (Debian ruby-pg) against `veil serve`: ActiveRecord's catalog queries, exec_params,
single-row mode and copy_data."""

from __future__ import annotations

import pytest

from tests.clients.conftest import EXEMPT_USER, MASKED_USER, PROGRAMS, assert_conformant, run_program
from tests.clients.support import Report, require_library
from tests.conftest import VeilServer, require_tool

SECTIONS = ["version", "tables", "columns", "exec_params", "single_row_mode", "copy_data", "masked"]


@pytest.fixture(scope="module", params=[MASKED_USER, EXEMPT_USER])
def ruby_pg(request: pytest.FixtureRequest, conformance_server: VeilServer) -> tuple[str, Report]:
    ruby = require_tool("ruby")
    require_library([ruby, "-e", "require 'pg'"], "the pg gem", "ruby-pg")
    report = run_program([ruby, str(PROGRAMS / "ruby_pg.rb")], conformance_server, request.param)
    return request.param, report


@pytest.mark.parametrize("section", SECTIONS)
def test_section(ruby_pg: tuple[str, Report], section: str) -> None:
    ruby_pg[1].assert_section_ok(section)


def test_conformant(ruby_pg: tuple[str, Report]) -> None:
    assert_conformant(ruby_pg[1], ruby_pg[0])


def test_copy_data_streams_rows_as_postgresql_text(ruby_pg: tuple[str, Report]) -> None:
    report = ruby_pg[1]
    report.assert_section_ok("copy_data")
    assert report.one("copy") == ("1:Ada,2:Grace,3:Linus,4:Zoë ünïcode",), report.context()
