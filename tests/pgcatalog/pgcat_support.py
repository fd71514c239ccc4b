"""Helpers shared by the local engine tests."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from veil.catalog.model import Column, Table
from veil.pgcatalog import LocalContext, LocalEngine, parse_postgres

ORDERS = Table(
    connection="warehouse",
    schema="sales",
    name="orders",
    source_schema="sales",
    source_name="orders",
    columns=(
        Column("id", pa.int64(), nullable=False),
        Column("customer", pa.string()),
        Column("amount", pa.decimal128(12, 2)),
        Column("created", pa.timestamp("us")),
        Column("tags", pa.list_(pa.string())),
    ),
    description="All orders",
)
CUSTOMERS = Table(
    connection="warehouse",
    schema="sales",
    name="customers",
    source_schema="sales",
    source_name="customers",
    columns=(Column("id", pa.int64()), Column("name", pa.string(), description="Full name")),
)
HIDDEN = (
    Table("warehouse", "sales", "secrets", "sales", "secrets", (Column("card", pa.string()),)),
    Table("warehouse", "hr", "salaries", "hr", "salaries", (Column("salary", pa.float64()),)),
)
VISIBLE = (ORDERS, CUSTOMERS)
USERS = ("alice", "bob")


class Runner:
    """compile → describe → execute, returning (schema, rows as tuples)."""

    def __init__(self, engine: LocalEngine, ctx: LocalContext) -> None:
        self.engine = engine
        self.ctx = ctx

    def __call__(
        self, sql: str, params: Sequence[object] = (), ctx: LocalContext | None = None
    ) -> tuple[pa.Schema, list[tuple[object, ...]]]:
        statement = parse_postgres(sql)[0]
        query = self.engine.compile(statement, ctx or self.ctx)
        described = self.engine.describe(query, query.param_count)
        table = self.engine.execute(query, list(params)).read_all()
        assert table.schema == described, "Describe and Execute must agree"
        rows = list(zip(*(_printed(column.to_pylist()) for column in table.columns), strict=True))
        return table.schema, rows

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        return self(sql, params)[1]

    def value(self, sql: str, params: Sequence[object] = ()) -> object:
        rows = self.rows(sql, params)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]


def _printed(values: list[object]) -> list[object]:
    """A reg* value (an OID and the name it prints as, veil.pgtypes.REG_VALUE) as its name, as
    a client reading text format sees it."""
    return [
        value["name"] if isinstance(value, dict) and set(value) == {"oid", "name"}
        else _printed(value) if isinstance(value, list) else value
        for value in values
    ]


def pg_types(schema: pa.Schema) -> list[tuple[str, int]]:
    """(name, PostgreSQL type OID) per column, as RowDescription will report them."""
    return [(f.name, int(f.metadata[b"veil.pg_type_oid"])) for f in schema]
