"""Columns a PostgreSQL source sends as its text form (:mod:`veil.catalog.sources.postgres.shape`),
served with their own type OID: text and binary cells equal PostgreSQL's, byte for byte, and a
type whose binary form Veil cannot build is refused with 0A000 rather than sent wrong."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.proxy.codec.conftest import Check
from tests.proxy.codec.oracle import PgOracle, encode_cells
from veil.errors import FeatureNotSupported
from veil.pgfields import column_type_for_field, composite_type, enum_type, pinned_field, register_user_type
from veil.pgtypes import BY_NAME, BY_OID, ColumnType, PgType, format_type

CASES: list[tuple[str, str, list[str | None]]] = [
    ("numeric", "numeric", ["0", "'-0.000'", "1e-30", "12345678901234567890.123456789", "'NaN'", "'Infinity'", "'-Infinity'", None]),
    ("money", "money", ["'0'", "'-1234567.89'", "'92233720368547758.07'", None]),
    ('"char"', "char", ["'a'", "''", "'\\001'", None]),
    ("oid", "oid", ["0", "4294967295", None]),
    ("inet", "inet", ["'10.1.2.3'", "'10.1.2.3/8'", "'::1'", "'2001:db8::1/64'", None]),
    ("cidr", "cidr", ["'10.0.0.0/8'", "'2001:db8::/32'", None]),
    ("macaddr", "macaddr", ["'08:00:2b:01:02:03'", None]),
    ("macaddr8", "macaddr8", ["'08:00:2b:01:02:03:04:05'", None]),
    ("bit(3)", "bit", ["B'101'", None]),
    ("varbit", "varbit", ["B''", "B'1'", "B'101010101'", None]),
    ("timetz", "timetz", ["'00:00:00+00'", "'23:59:59.999999-14'", "'12:30:15.5+05:30'", None]),
    ("int[]", "_int4", ["'{}'", "'{{1,2},{3,NULL}}'", "'[0:1]={5,6}'", None]),
    ("text[]", "_text", ["'{\"\",\"a,b\",\"q\\\"u\",NULL,\"NULL\",\"é\"}'", None]),
    ("numeric[]", "_numeric", ["'{1.5,NaN,-0.001}'", None]),
    ("date[]", "_date", ["'{2000-01-01,\"0001-01-01 BC\",infinity}'", None]),
    ("timestamptz[]", "_timestamptz", ["'{\"2024-06-30 12:00:00.25+02\",-infinity}'", None]),
    ("bool[]", "_bool", ["'{t,f,NULL}'", None]),
    ("uuid[]", "_uuid", ["'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", None]),
    ("bytea[]", "_bytea", ["'{\"\\\\x00ff\",\"\\\\x\"}'", None]),
    ("float8[]", "_float8", ["'{1.5,-Infinity,NaN,1e-300}'", None]),
    ("inet[]", "_inet", ["'{10.0.0.1,::1/64}'", None]),
    ("point", "point", ["'(1.5,-2)'", "'(1e300,-1e-300)'", "point('NaN'::float8, '-Infinity'::float8)", None]),
    ("lseg", "lseg", ["'[(0,0),(1.25,-7)]'", None]),
    ("box", "box", ["'((2,2),(0,0))'", "'(-1.5,3),(4,-0.1)'", None]),
    ("path", "path", ["'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'", None]),
    ("polygon", "polygon", ["'((0,0),(1,1),(1,0))'", "'((0,0))'", None]),
    ("line", "line", ["'{1,-1,0}'", "'{0,1,-2.5}'", None]),
    ("circle", "circle", ["'<(1,1),2.5>'", "'<(0,0),0>'", None]),
    ("point[]", "_point", ["'{\"(1,2)\",NULL}'", None]),
]


def _texts(pg: PgOracle, type_sql: str, literals: list[str | None]) -> pa.Array:
    """PostgreSQL's output form of each literal: what the source sends for a column read as text
    (``format('%s', ...)`` is the type's output function, as for inet)."""
    values = []
    for literal in literals:
        if literal is None:
            values.append(None)
        else:
            row = pg.conn.execute(f"SELECT pg_catalog.format('%s', ({literal})::{type_sql})").fetchone()
            values.append(None if row is None else row[0])
    return pa.array(values, pa.string())


@pytest.mark.parametrize(("type_sql", "name", "literals"), CASES, ids=[c[0] for c in CASES])
def test_text_and_binary_from_the_source_text(
    pg: PgOracle, check: Check, type_sql: str, name: str, literals: list[str | None]
) -> None:
    pg.conn.execute("SET lc_monetary = 'C'")
    texts = _texts(pg, type_sql, literals)
    field = pinned_field("v", pa.string(), BY_NAME[name])
    check(type_sql, literals, texts, field=field)


def test_a_type_without_a_binary_form_is_refused(pg: PgOracle) -> None:
    texts = _texts(pg, "tsvector", ["'a fat:1 cat'"])
    field = pinned_field("v", pa.string(), BY_NAME["tsvector"])
    assert encode_cells(texts, 0, field, "UTC") is not None  # text format serves it
    with pytest.raises(FeatureNotSupported):
        encode_cells(texts, 1, field, "UTC")


@pytest.mark.parametrize(("type_sql", "name"), [("tsvector", "tsvector"), ("aclitem[]", "_aclitem")])
def test_nulls_of_a_type_without_a_binary_form_are_sent(check: Check, type_sql: str, name: str) -> None:
    """PostgreSQL calls no send function for a NULL (nor array_send's element one for a NULL
    array): NULL-only columns are sent in binary as NULLs, as pg_type.typacl of built-ins is."""
    field = pinned_field("v", pa.string(), BY_NAME[name])
    check(type_sql, [None, None], pa.array([None, None], pa.string()), field=field)
    if BY_NAME[name].is_array:
        lists = pinned_field("v", pa.list_(pa.string()), BY_NAME[name])
        check(type_sql, [None, None], pa.array([None, None], pa.list_(pa.string())), field=lists)


def _user_types(pg: PgOracle) -> tuple[PgType, PgType]:
    """A session-local enum and composite type of the oracle PostgreSQL, as sync reads them."""
    pg.conn.execute("CREATE TYPE pg_temp.feeling AS ENUM ('sad', 'très ☃', 'a \"q\" b')")
    pg.conn.execute("CREATE TYPE pg_temp.item AS (n numeric, t text, b bool, ts timestamptz, ip inet, f float8)")
    rows = pg.conn.execute(
        "SELECT t.oid::int, t.typarray::int, n.nspname, t.typname FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typname IN ('feeling', 'item') "
        "AND n.oid = pg_my_temp_schema() ORDER BY t.typname"
    ).fetchall()
    (enum_oid, enum_array, schema, _), (item_oid, item_array, _, _) = rows
    fields = pg.conn.execute(
        "SELECT attname, atttypid::int, atttypmod FROM pg_attribute WHERE attrelid = 'pg_temp.item'::regclass "
        "AND attnum > 0 ORDER BY attnum"
    ).fetchall()
    enum = enum_type(enum_oid, enum_array, schema, "feeling", ("sad", "très ☃", 'a "q" b'))
    composite = composite_type(item_oid, item_array, schema, "item", tuple(fields))
    assert register_user_type(enum) and register_user_type(composite)
    return enum, composite


ENUM_LITERALS = ["'sad'", "'très ☃'", "'a \"q\" b'", None]
COMPOSITE_LITERALS = [
    "ROW(1.50, 'x', true, '2024-06-30 12:00:00.25+02', '10.0.0.1/8', 'NaN')",
    "ROW(NULL, '', NULL, NULL, NULL, NULL)",
    "ROW(-0.001, 'a,b \"q\" \\ (z) ü', false, 'infinity', '::1', '-Infinity')",
    None,
]


def test_enums_and_composites_of_the_source_in_text_and_binary(pg: PgOracle, check: Check) -> None:
    enum, composite = _user_types(pg)
    cases = [
        ("pg_temp.feeling", ENUM_LITERALS, enum),
        ("pg_temp.item", COMPOSITE_LITERALS, composite),
        ("pg_temp.feeling[]", ["ARRAY['sad', NULL]::pg_temp.feeling[]", "'{{sad},{\"très ☃\"}}'", None],
         BY_OID[enum.array_oid]),
        ("pg_temp.item[]", [f"ARRAY[{COMPOSITE_LITERALS[0]}, NULL, {COMPOSITE_LITERALS[2]}]::pg_temp.item[]", None],
         BY_OID[composite.array_oid]),
    ]
    for type_sql, literals, pg_type in cases:
        texts = _texts(pg, type_sql, literals)
        check(type_sql, literals, texts, field=pinned_field("v", pa.string(), pg_type))


def test_a_composite_with_a_field_without_a_binary_form_is_refused(pg: PgOracle) -> None:
    pg.conn.execute("CREATE TYPE pg_temp.spanned AS (d interval)")
    oid, array_oid = pg.conn.execute("SELECT 'pg_temp.spanned'::regtype::oid::int, typarray::int FROM pg_type "
                                     "WHERE oid = 'pg_temp.spanned'::regtype").fetchone() or (0, 0)
    spanned = composite_type(oid, array_oid, "pg_temp", "spanned", (("d", 1186, -1),))
    assert register_user_type(spanned)
    field = pinned_field("v", pa.string(), spanned)
    texts = _texts(pg, "pg_temp.spanned", ["ROW('1 day')"])
    assert encode_cells(texts, 0, field, "UTC") is not None
    with pytest.raises(FeatureNotSupported):
        encode_cells(texts, 1, field, "UTC")


def test_a_composite_of_a_domain_or_user_type_stays_text() -> None:
    nested = composite_type(900_001, 900_002, "public", "nested", (("x", 900_003, -1),))
    assert not register_user_type(nested)
    assert 900_001 not in BY_OID


def test_the_type_definition_travels_in_the_field_metadata() -> None:
    enum = enum_type(900_010, 900_011, "shop", "mood", ("sad", "happy"))
    composite = composite_type(900_020, 900_021, "public", "pair", (("a", 23, -1), ("b", 1043, 44)))
    for pg_type in (enum, composite):
        assert register_user_type(pg_type)
        for pinned in (pg_type, BY_OID[pg_type.array_oid]):
            field = pinned_field("v", pa.string(), pinned)
            assert column_type_for_field(field) == ColumnType(pinned)
    assert ColumnType(enum).format() == "shop.mood" and ColumnType(composite).format() == "pair"
    assert format_type(900_011) == "shop.mood[]"
