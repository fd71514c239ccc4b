"""pgcli against `veil serve`: its completion refresher runs every metadata query pgcli sends
at startup (schemata, tables, views, columns, functions, types, databases, casing); a refresher
that fails leaves pgcli without completions. Driven programmatically through pgcli's own
PGExecute and CompletionRefresher.refreshers."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from tests.clients.conftest import EXEMPT_USER, MASK, MASKED_USER, SALES_TABLES
from tests.clients.support import in_ci
from tests.conftest import PASSWORDS, VeilServer


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        if in_ci():
            pytest.fail("pgcli is required in CI (test extra in pyproject.toml)")
        pytest.skip("pgcli is not installed")


def _executor(server: VeilServer, user: str) -> object:
    pgexecute = _module("pgcli.pgexecute")
    return pgexecute.PGExecute(
        database="veil", user=user, password=PASSWORDS[user], host=server.host, port=server.port,
        dsn=None, sslmode="disable",
    )


@pytest.fixture(scope="module")
def refreshed(conformance_server: VeilServer) -> tuple[object, dict[str, str]]:
    refresher = _module("pgcli.completion_refresher")
    completer_module = _module("pgcli.pgcompleter")
    executor = _executor(conformance_server, MASKED_USER)
    completer = completer_module.PGCompleter(smart_completion=True, settings={})
    failures: dict[str, str] = {}
    for name, refresh in refresher.CompletionRefresher.refreshers.items():
        try:
            refresh(completer, executor)
        except Exception as error:  # noqa: BLE001 - any failure of a refresher is the finding
            failures[name] = f"{type(error).__name__}: {error}"
    executor.conn.close()
    return completer, failures


def test_every_refresher_succeeds(refreshed: tuple[object, dict[str, str]]) -> None:
    assert refreshed[1] == {}


def test_completions_know_tables_and_columns(refreshed: tuple[object, dict[str, str]]) -> None:
    completer = refreshed[0]
    tables = completer.dbmetadata["tables"]  # type: ignore[attr-defined]
    assert set(tables["sales"]) == SALES_TABLES
    assert "hr" not in tables
    columns = [c.name for c in tables["sales"]["orders"].values()]
    assert columns == ["id", "customer", "amount", "created", "tags"]
    assert "format_type" in completer.dbmetadata["functions"]["pg_catalog"]  # type: ignore[attr-defined]
    assert "veil" in completer.databases  # type: ignore[attr-defined]


@pytest.mark.parametrize("user", [MASKED_USER, EXEMPT_USER])
def test_queries_stream_and_mask(conformance_server: VeilServer, user: str) -> None:
    executor = _executor(conformance_server, user)
    try:
        results = list(executor.run(
            "SELECT id, name FROM sales.customers WHERE id IN (2, 3, 5) ORDER BY id; "
            "SELECT count(*), sum(doubled) FROM sales.big"
        ))
        names = [row for row in results[0][1]]
        expected = [(i, MASK if user == MASKED_USER else f"customer {i}") for i in (2, 3, 5)]
        assert names == expected
        assert list(results[1][1]) == [(200000, sum(range(200000)) * 2)]
        first, *_ = executor.run("SELECT id, label FROM sales.big")
        big = first[1]
        assert sum(1 for _ in big) == 200000
    finally:
        executor.conn.close()
