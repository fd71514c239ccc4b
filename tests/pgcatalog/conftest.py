"""Fixtures: a user's catalog snapshot (sales.orders, sales.customers) and its local engine.

``HIDDEN`` tables exist in the warehouse but not in this user's snapshot: they must never show
up anywhere in the emulated catalog.
"""

from __future__ import annotations

import pytest

from tests.pgcatalog.pgcat_support import HIDDEN, USERS, VISIBLE, Runner
from veil.catalog.model import CatalogSnapshot
from veil.pgcatalog import LocalContext, LocalEngine


@pytest.fixture(scope="session")
def snapshot() -> CatalogSnapshot:
    full = CatalogSnapshot(tables=(*VISIBLE, *HIDDEN), version=3)
    return full.restricted_to(VISIBLE)


@pytest.fixture(scope="session")
def engine(snapshot: CatalogSnapshot) -> LocalEngine:
    return LocalEngine(snapshot, database="veil", users=USERS)


@pytest.fixture
def ctx() -> LocalContext:
    return LocalContext(
        user="alice",
        database="veil",
        search_path=("public",),
        settings={"application_name": "pytest", "TimeZone": "UTC"},
        backend_pid=4242,
    )


@pytest.fixture
def run(engine: LocalEngine, ctx: LocalContext) -> Runner:
    return Runner(engine, ctx)
