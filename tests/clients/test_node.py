"""node-postgres (pg) and postgres.js against `veil serve`. The npm packages are pinned in
tests/clients/node/package-lock.json and installed by ``make node-clients`` (``make test`` runs
it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.conftest import EXEMPT_USER, MASKED_USER, assert_conformant, run_program
from tests.clients.support import Report, require_file
from tests.conftest import VeilServer, require_tool

NODE_DIR = Path(__file__).parent / "node"
SECTIONS = {
    "pg": ["version", "tables", "columns", "in_list", "stream", "field_metadata", "masked"],
    "postgres": ["version", "tables", "columns", "in_list", "stream", "masked"],
}
CASES = [(driver, user) for driver in SECTIONS for user in (MASKED_USER, EXEMPT_USER)]


@pytest.fixture(scope="module", params=CASES, ids=[f"{d}-{u}" for d, u in CASES])
def node(request: pytest.FixtureRequest, conformance_server: VeilServer) -> tuple[str, str, Report]:
    binary = require_tool("node")
    for package in ("pg", "postgres"):
        require_file([NODE_DIR / "node_modules" / package / "package.json"],
                     f"npm package {package} (run `make node-clients`)")
    driver, user = request.param
    report = run_program([binary, str(NODE_DIR / "check.mjs"), driver], conformance_server, user, cwd=NODE_DIR)
    return driver, user, report


def test_sections(node: tuple[str, str, Report]) -> None:
    driver, _, report = node
    for section in SECTIONS[driver]:
        report.assert_section_ok(section)


def test_conformant(node: tuple[str, str, Report]) -> None:
    _, user, report = node
    assert_conformant(report, user)


PG_CASES = [case for case in CASES if case[0] == "pg"]  # postgres.js exposes no table OID


@pytest.mark.parametrize("node", PG_CASES, ids=[f"{d}-{u}" for d, u in PG_CASES], indirect=True)
def test_field_metadata_names_table_and_column(node: tuple[str, str, Report]) -> None:
    """pg's Result.fields carry RowDescription's tableID and columnID."""
    _, _, report = node
    assert report.one("field_table") == ("orders", "1,2"), report.context()
