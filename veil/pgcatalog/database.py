"""The in-memory DuckDB database holding one catalog snapshot's emulated catalog.

Built once per (catalog version, user visibility), then locked: external access is disabled
and the configuration frozen before any client SQL runs, so no statement can read files, URLs
or the environment, load extensions, or loosen those settings.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from veil.catalog.sources.sandbox import sandboxed_duckdb
from veil.pgcatalog.context import SETTING_DEFAULTS
from veil.pgcatalog.data.keywords import KEYWORDS
from veil.pgcatalog.data.procs import FUNCTION_TEXT, PG_PROC
from veil.pgcatalog.data.static_rows import CONSTRAINT_DEFS, TS_TOKEN_TYPES
from veil.pgcatalog.infoschema import InformationSchemaRows
from veil.pgcatalog.keys import KeyRows
from veil.pgcatalog.macros import MACROS
from veil.pgcatalog.objects import ENUM_IO, NAMED_OBJECTS, REGOPER_TEXT, CatalogObjects
from veil.pgcatalog.rows import CatalogRows, RowSet
from veil.pgcatalog.schema import (
    DUCK_SCHEMAS,
    FUNCTION_SCHEMA,
    RELATIONS,
    all_relations,
)
from veil.pgcatalog.typemap import TYPE_SPELLINGS
from veil.pgtypes import BY_OID, format_type

_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "threads": 2,
    "memory_limit": "512MB",
    "default_null_order": "nulls_last_on_asc_first_on_desc",
    "ieee_floating_point_ops": False,  # division by zero raises (22012) as in PostgreSQL
}
_PRORETTYPE = [c.name for c in RELATIONS[("pg_catalog", "pg_proc")].columns].index("prorettype")
_CATEGORY = {"U": "unreserved", "C": "unreserved (cannot be function or type name)",
             "T": "reserved (can be function or type name)", "R": "reserved"}


def build_database(objects: CatalogObjects) -> duckdb.DuckDBPyConnection:
    return sandboxed_duckdb(config=_CONFIG, prepare=lambda con: _fill(con, objects), macros=True)


def _fill(con: duckdb.DuckDBPyConnection, objects: CatalogObjects) -> None:
    con.execute("SET TimeZone = 'UTC'")
    schemas = [*DUCK_SCHEMAS.values(), FUNCTION_SCHEMA]
    con.execute("; ".join(f"CREATE SCHEMA {s}" for s in schemas))
    con.execute("; ".join(r.ddl() for r in all_relations()))
    for rowset in [*CatalogRows(objects).all(), *InformationSchemaRows(objects).all()]:
        _insert(con, rowset)
    _helper_tables(con, objects)
    for macro in MACROS:
        con.execute(macro)


def _insert(con: duckdb.DuckDBPyConnection, rowset: RowSet) -> None:
    if not rowset.rows:
        return
    _load(con, rowset.relation.duck_name, rowset.to_arrow())


def _load(con: duckdb.DuckDBPyConnection, target: str, table: pa.Table) -> None:
    con.register("veil_rows", table)
    try:
        con.execute(f"INSERT INTO {target} SELECT * FROM veil_rows")
    finally:
        con.unregister("veil_rows")


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, tuple[str, list]]) -> None:
    """Create and fill a ``veil_fn`` lookup table; columns map name → (DuckDB type, values)."""
    ddl = ", ".join(f"{column} {duck}" for column, (duck, _) in columns.items())
    con.execute(f"CREATE TABLE {FUNCTION_SCHEMA}.{name} ({ddl})")
    arrow = {
        column: pa.array(values, pa.uint32() if duck == "UINTEGER" else None)
        for column, (duck, values) in columns.items()
    }
    if next(iter(arrow.values()), pa.array([])).__len__():
        _load(con, f"{FUNCTION_SCHEMA}.{name}", pa.table(arrow))


def _helper_tables(con: duckdb.DuckDBPyConnection, objects: CatalogObjects) -> None:
    """Lookup tables for the macros; every column is ``vl__``-prefixed (see :mod:`.macros`)."""
    words = [k.split(":") for k in KEYWORDS]
    _table(con, "keywords", {
        "vl__word": ("VARCHAR", [w for w, _, _ in words]),
        "vl__catcode": ("VARCHAR", [c for _, c, _ in words]),
        "vl__barelabel": ("BOOLEAN", [b == "t" for _, _, b in words]),
        "vl__catdesc": ("VARCHAR", [_CATEGORY[c] for _, c, _ in words]),
        "vl__baredesc": ("VARCHAR", ["can be bare label" if b == "t" else "requires AS"
                                     for _, _, b in words]),
    })
    _table(con, "type_spellings", {
        "vl__spelling": ("VARCHAR", list(TYPE_SPELLINGS)),
        "vl__oid": ("UINTEGER", list(TYPE_SPELLINGS.values())),
    })
    _table(con, "setting_defaults", {
        "vl__setting": ("VARCHAR", list(SETTING_DEFAULTS)),
        "vl__value": ("VARCHAR", list(SETTING_DEFAULTS.values())),
    })
    relations = list(objects.relations.values()) + list(objects.composite_classes)
    _table(con, "rel_info", {
        "vl__oid": ("UINTEGER", [r.oid for r in relations]),
        "vl__relname": ("VARCHAR", [r.name for r in relations]),
        "vl__nspname": ("VARCHAR", [r.schema for r in relations]),
        "vl__relkind": ("VARCHAR", [r.kind for r in relations]),
    })
    _table(con, "nsp_info", {
        "vl__oid": ("UINTEGER", list(objects.namespaces.values())),
        "vl__nspname": ("VARCHAR", list(objects.namespaces)),
    })
    _table(con, "role_info", {
        "vl__oid": ("UINTEGER", list(objects.roles.values())),
        "vl__rolname": ("VARCHAR", list(objects.roles)),
    })
    # The enum I/O functions a source's enum names in pg_type (anyenum, cstring, anyenum, bytea).
    enum_io = list(zip(ENUM_IO.values(), ENUM_IO, (3500, 2275, 3500, 17), strict=True))
    _table(con, "proc_info", {
        "vl__oid": ("UINTEGER", [row[0] for row in PG_PROC] + [row[0] for row in enum_io]),
        "vl__proname": ("VARCHAR", [row[1] for row in PG_PROC] + [row[1] for row in enum_io]),
        "vl__rettype": ("UINTEGER", [row[_PRORETTYPE] for row in PG_PROC] + [row[2] for row in enum_io]),
        "vl__regproc": ("VARCHAR", [objects.regproc_out(int(str(row[0]))) for row in [*PG_PROC, *enum_io]]),
        "vl__signature": ("VARCHAR", [objects.regprocedure_out(int(str(row[0]))) for row in [*PG_PROC, *enum_io]]),
    })
    _table(con, "function_text", {
        column: (duck, [row[index] for row in FUNCTION_TEXT])
        for index, (column, duck) in enumerate((
            ("vl__oid", "UINTEGER"), ("vl__arguments", "VARCHAR"), ("vl__identity", "VARCHAR"),
            ("vl__result", "VARCHAR"), ("vl__definition", "VARCHAR"), ("vl__sqlbody", "VARCHAR")))
    })
    _table(con, "type_info", _type_info(objects))
    _table(con, "token_types", {
        column: (duck, [row[index] for row in TS_TOKEN_TYPES])
        for index, (column, duck) in enumerate((
            ("vl__parser", "UINTEGER"), ("vl__tokid", "INTEGER"), ("vl__alias", "VARCHAR"),
            ("vl__description", "VARCHAR")))
    })
    named = [(kind, oid, name) for kind, names in NAMED_OBJECTS.items() for name, oid in names.items()]
    named += [("regoper_out", oid, text) for oid, text in REGOPER_TEXT.items()]
    _table(con, "reg_names", {
        "vl__kind": ("VARCHAR", [kind for kind, _, _ in named]),
        "vl__oid": ("UINTEGER", [oid for _, oid, _ in named]),
        "vl__name": ("VARCHAR", [name for _, _, name in named]),
    })
    # Built-in constraints (information_schema's domains): column 0 is pg_get_constraintdef's
    # text, -1 its pretty one.
    definitions: list[tuple[object, ...]] = list(KeyRows(objects).definitions())
    for oid, plain, pretty in CONSTRAINT_DEFS:
        definitions += [(oid, 0, plain, 0, ""), (oid, -1, pretty, 0, "")]
    _table(con, "object_defs", {
        column: (duck, [row[index] for row in definitions])
        for index, (column, duck) in enumerate((
            ("vl__oid", "UINTEGER"), ("vl__col", "INTEGER"), ("vl__before", "VARCHAR"), ("vl__ref", "UINTEGER"),
            ("vl__after", "VARCHAR")))
    })
    pg_description = RELATIONS[("pg_catalog", "pg_description")].duck_name
    con.execute(
        f"CREATE TABLE {FUNCTION_SCHEMA}.descriptions AS SELECT objoid AS vl__objoid, classoid AS vl__classoid,"
        f" objsubid AS vl__objsubid, description AS vl__description FROM {pg_description}"
    )


def _type_info(objects: CatalogObjects) -> dict[str, tuple[str, list]]:
    """Per type: name, schema, and format_type() pieces (element name, spelling, ``[]``)."""
    info: dict[str, tuple[str, list]] = {
        column: (duck, []) for column, duck in (
            ("vl__oid", "UINTEGER"), ("vl__typname", "VARCHAR"), ("vl__nspname", "VARCHAR"),
            ("vl__name", "VARCHAR"), ("vl__base", "VARCHAR"), ("vl__suffix", "VARCHAR"))
    }
    for oid, type_name in objects.types.items():
        pg_type = BY_OID.get(oid)
        if pg_type is not None:
            element = BY_OID[pg_type.element_oid] if pg_type.is_array else pg_type
            spelled = objects.types[element.oid].text if element.oid in objects.types else format_type(element.oid)
            values = (element.name, spelled, "[]" if pg_type.is_array else "")
        else:
            values = (type_name.name, type_name.text, "")
        row = (oid, type_name.name, type_name.schema, *values)
        for (_, (_, column)), value in zip(info.items(), row, strict=True):
            column.append(value)
    return info
