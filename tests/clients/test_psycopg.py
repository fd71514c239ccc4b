"""psycopg 3 against `veil serve` with the conformance mask: its normal path in text and binary
format (client-side and server-prepared), a named (server-side) cursor streaming sales.big, COPY
TO STDOUT, ANY arrays and explicitly typed parameters. The masked user must never see a raw name,
whichever way it is read."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from psycopg.types.numeric import Int2, Int8

from tests.clients.conftest import (
    IN_SQL,
    MASK,
    MASKED_USER,
    RAW_NAME,
    STREAM_SQL,
    TABLES_SQL,
    USERS,
    Recorder,
    assert_conformant,
)
from tests.clients.support import Report
from tests.conftest import VeilServer


def _conformance(server: VeilServer, user: str, binary: bool) -> Report:
    out = Recorder()
    with psycopg.connect(server.dsn(user), prepare_threshold=0 if binary else 5) as conn:
        cur = conn.cursor(binary=binary)
        out.add("version", conn.info.parameter_status("server_version"))
        out.add("tables", ",".join(r[0] for r in cur.execute(TABLES_SQL, ["sales"]).fetchall()))
        cur.execute("SELECT * FROM sales.orders LIMIT 0")
        assert cur.description is not None
        out.add("columns", ",".join(f"{c.name}:{c.type_display}" for c in cur.description))
        out.in_rows(cur.execute(IN_SQL, [Int2(2), 3, Int8(5), "XX"]).fetchall())
        with conn.cursor(name="big_stream", binary=binary) as named:
            named.itersize = 20000
            named.execute(STREAM_SQL)
            count = total = 0
            for row in named:
                count += 1
                total += row[1]
        out.add("stream", count, total)
        out.add("masked", cur.execute("SELECT name FROM sales.customers WHERE id = %s", [1]).fetchone()[0])  # type: ignore[index]
    return out.report()


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("user", USERS)
def test_conformant(conformance_server: VeilServer, user: str, binary: bool) -> None:
    assert_conformant(_conformance(conformance_server, user, binary), user)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_any_array_and_typed_parameters(conformance_server: VeilServer, binary: bool) -> None:
    with psycopg.connect(conformance_server.dsn(MASKED_USER)) as conn:
        cur = conn.cursor(binary=binary)
        rows = cur.execute("SELECT id, name FROM sales.customers WHERE id = ANY(%s) ORDER BY id", [[4, 7]]).fetchall()
        assert rows == [(4, MASK), (7, MASK)]
        rows = cur.execute(
            "SELECT id FROM sales.orders WHERE amount > %s AND created < %s AND customer = ANY(%s) ORDER BY id",
            [Decimal("10.00"), "2024-02-01", ["Ada", "Grace"]],
        ).fetchall()
        assert rows == [(1,)]
        assert cur.execute("SELECT count(*) FROM sales.customers WHERE name = %s", [RAW_NAME]).fetchone() == (0,)


@pytest.mark.parametrize("user", USERS)
def test_copy_to_stdout_through_the_mask(conformance_server: VeilServer, user: str) -> None:
    with psycopg.connect(conformance_server.dsn(user)) as conn, conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, name FROM sales.customers WHERE id <= %s ORDER BY id) TO STDOUT", [3]) as copy:
            copy.set_types(["int8", "text"])
            rows = list(copy.rows())
        with cur.copy("COPY sales.customers (id, name) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(["int8", "text"])
            table = list(copy.rows())
    names = [name for _, name in rows + table]
    assert [r[0] for r in rows] == [1, 2, 3] and len(table) == 100  # masked, not filtered
    if user == MASKED_USER:
        assert set(names) == {MASK}
    else:
        assert rows == [(1, "customer 1"), (2, "customer 2"), (3, "customer 3")]
