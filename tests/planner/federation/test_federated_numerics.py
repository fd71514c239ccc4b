"""A join across two sources runs on the local DuckDB: its arithmetic and aggregates must give
PostgreSQL's result types and values there too (integer division, numeric quotients and avg),
as on a single DuckDB source (veil.pgcatalog.pgnumeric). nums.t lives in DuckDB, public.t in
PostgreSQL; PostgreSQL itself answers the same join of t with itself."""

from __future__ import annotations

import pytest

from tests.conftest import VeilServer
from tests.pgcatalog.test_pgnumeric import _run, servers

__all__ = ["servers"]

JOINS = [
    "select a.i4 / b.i2, a.i8 / 2, a.n / 3, a.n / b.i4 from {a} a join {b} b on a.i2 = b.i2",
    "select avg(a.n), avg(b.i4), sum(a.i4), sum(b.n) from {a} a join {b} b on a.i2 = b.i2",
    "select a.i2, avg(b.n) as m from {a} a join {b} b on a.i2 = b.i2 group by a.i2 order by m",
    # partial aggregates pushed to the sources, combined locally (veil.planner.federation.preaggregate)
    "select count(*) / 2, sum(a.i4) / count(*) from {a} a join {b} b on a.i2 = b.i2",
    "select sum(a.i4), sum(a.n) / 3, max(b.n) / 2, count(b.i2) / 3 from {a} a join {b} b on a.i2 = b.i2",
    "select b.i2, sum(a.i4) / 2, count(*) / 2 from {a} a join {b} b on a.i2 = b.i2 group by b.i2",
]


@pytest.mark.parametrize("sql", JOINS)
def test_federated_local_join_types_and_values_are_postgres(servers: tuple[str, VeilServer], sql: str) -> None:
    dsn, server = servers
    assert _run(server.dsn(), sql.format(a="nums.t", b="public.t")) == _run(dsn, sql.format(a="t", b="t"))
