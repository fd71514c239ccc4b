"""pandas against `veil serve` with the conformance mask, through a SQLAlchemy psycopg engine
(pandas' supported path): `read_sql_table` reflects and reads a table, `read_sql` with bound
parameters and `chunksize` streams sales.big, and the masked user's frames hold masked names only."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.clients.conftest import MASK, MASKED_USER, RAW_NAME, STREAM, USERS
from tests.conftest import VeilServer


@pytest.fixture(params=USERS)
def engine(request: pytest.FixtureRequest, conformance_server: VeilServer) -> Iterator[tuple[str, sa.Engine]]:
    user = request.param
    made = sa.create_engine(conformance_server.dsn(user).replace("postgresql://", "postgresql+psycopg://"))
    yield user, made
    made.dispose()


def test_read_sql_table_reflects_and_masks(engine: tuple[str, sa.Engine]) -> None:
    user, made = engine
    frame = pd.read_sql_table("customers", made, schema="sales")
    assert list(frame.columns) == ["id", "name", "country"] and len(frame) == 100  # masked, not filtered
    names = set(frame["name"])
    if user == MASKED_USER:
        assert names == {MASK} and RAW_NAME not in names
    else:
        assert RAW_NAME in names and MASK not in names


def test_read_sql_parameters_and_chunks(engine: tuple[str, sa.Engine]) -> None:
    user, made = engine
    with made.connect() as conn:
        frame = pd.read_sql(
            sa.text("SELECT id, name FROM sales.customers WHERE id IN (:a, :b, :c) AND country <> :d ORDER BY id"),
            conn, params={"a": 2, "b": 3, "c": 5, "d": "XX"})
        assert frame["id"].tolist() == [2, 3, 5]
        assert frame["name"].tolist() == ([MASK] * 3 if user == MASKED_USER else [f"customer {i}" for i in (2, 3, 5)])
        chunks = pd.read_sql("SELECT id, doubled FROM sales.big", conn.execution_options(stream_results=True),
                             chunksize=40000)
        sizes, total = [], 0
        for chunk in chunks:
            sizes.append(len(chunk))
            total += int(chunk["doubled"].sum())
    assert sizes == [40000] * 5 and (str(sum(sizes)), str(total)) == STREAM
