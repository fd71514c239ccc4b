"""psycopg2 against `veil serve` with the conformance mask: its normal path (client-side
parameter interpolation, so every statement arrives as a simple Query), a named cursor streaming
sales.big in batches, ANY arrays, copy_expert and masked values."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal

import psycopg2
import pytest

from tests.clients.conftest import (
    IN_SQL,
    MASK,
    MASKED_USER,
    STREAM_SQL,
    TABLES_SQL,
    USERS,
    Recorder,
    assert_conformant,
)
from tests.conftest import VeilServer


@pytest.fixture
def connect(conformance_server: VeilServer) -> Iterator[type[object]]:
    opened: list[psycopg2.extensions.connection] = []

    def open_as(user: str) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(**conformance_server.kwargs(user), sslmode="disable")
        opened.append(conn)
        return conn

    yield open_as  # type: ignore[misc]
    for conn in opened:
        conn.close()


@pytest.mark.parametrize("user", USERS)
def test_conformant(connect: object, user: str) -> None:
    conn = connect(user)  # type: ignore[operator]
    out = Recorder()
    cur = conn.cursor()
    cur.execute("SHOW server_version")
    out.add("version", cur.fetchone()[0])
    cur.execute(TABLES_SQL, ("sales",))
    out.add("tables", ",".join(r[0] for r in cur.fetchall()))
    cur.execute("SELECT * FROM sales.orders LIMIT 0")
    out.add("columns", ",".join(f"{d.name}:{d.type_code}" for d in cur.description))
    cur.execute(IN_SQL, (2, 3, 5, "XX"))
    out.in_rows(cur.fetchall())
    named = conn.cursor("big_stream")
    named.itersize = 25000
    named.execute(STREAM_SQL)
    count = total = 0
    for row in named:
        count += 1
        total += row[1]
    named.close()
    out.add("stream", count, total)
    cur.execute("SELECT name FROM sales.customers WHERE id = %s", (1,))
    out.add("masked", cur.fetchone()[0])
    conn.rollback()
    assert_conformant(out.report(), user)


def test_any_arrays_typed_parameters_and_copy(connect: object) -> None:
    conn = connect(MASKED_USER)  # type: ignore[operator]
    cur = conn.cursor()
    cur.execute("SELECT id, name FROM sales.customers WHERE id = ANY(%s) ORDER BY id", ([4, 7],))
    assert cur.fetchall() == [(4, MASK), (7, MASK)]
    cur.execute("SELECT id FROM sales.orders WHERE amount >= %s::numeric AND id = ANY(%s::int8[]) ORDER BY id",
                (Decimal("12.5"), [1, 2, 3]))
    assert cur.fetchall() == [(1,), (2,)]
    buffer = io.StringIO()
    cur.copy_expert("COPY (SELECT id, name FROM sales.customers WHERE id < 3 ORDER BY id) TO STDOUT WITH CSV HEADER", buffer)
    assert buffer.getvalue().splitlines() == ["id,name", f"1,{MASK}", f"2,{MASK}"]
    conn.rollback()
