"""The in-memory DuckDB database holding one catalog snapshot's emulated catalog.

Built once per (catalog version, user visibility), then locked: external access is disabled
and the configuration frozen before any client SQL runs, so no statement can read files, URLs
or the environment, load extensions, or loosen those settings.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from veil.engine.pgcatalog.context import SETTING_DEFAULTS
from veil.engine.pgcatalog.data.keywords import KEYWORDS
from veil.engine.pgcatalog.identifiers import quote_ident
from veil.engine.pgcatalog.infoschema import InformationSchemaRows
from veil.engine.pgcatalog.macros import MACROS
from veil.engine.pgcatalog.objects import CatalogObjects
from veil.engine.pgcatalog.rows import CatalogRows, RowSet
from veil.engine.pgcatalog.schema import DUCK_SCHEMAS, FUNCTION_SCHEMA, all_relations
from veil.engine.pgcatalog.typemap import TYPE_SPELLINGS
from veil.pgtypes import BY_OID, format_type

_CONFIG = {
    "threads": 2,
    "memory_limit": "512MB",
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
    "default_null_order": "nulls_last_on_asc_first_on_desc",
}
_CATEGORY = {"U": "unreserved", "C": "unreserved (cannot be function or type name)",
             "T": "reserved (can be function or type name)", "R": "reserved"}


def build_database(objects: CatalogObjects) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config=_CONFIG)
    con.execute("SET TimeZone = 'UTC'")
    schemas = [*DUCK_SCHEMAS.values(), FUNCTION_SCHEMA]
    con.execute("; ".join(f"CREATE SCHEMA {s}" for s in schemas))
    con.execute("; ".join(r.ddl() for r in all_relations()))
    for rowset in [*CatalogRows(objects).all(), *InformationSchemaRows(objects).all()]:
        _insert(con, rowset)
    _helper_tables(con, objects)
    for macro in MACROS:
        con.execute(macro)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _insert(con: duckdb.DuckDBPyConnection, rowset: RowSet) -> None:
    if not rowset.rows:
        return
    table = pa.table(rowset.columns(), schema=rowset.relation.arrow_schema())
    _load(con, rowset.relation.duck_name, table)


def _load(con: duckdb.DuckDBPyConnection, target: str, table: pa.Table) -> None:
    con.register("veil_rows", table)
    try:
        con.execute(f"INSERT INTO {target} SELECT * FROM veil_rows")
    finally:
        con.unregister("veil_rows")


def _helper_tables(con: duckdb.DuckDBPyConnection, objects: CatalogObjects) -> None:
    words = [k.split(":") for k in KEYWORDS]
    keywords = pa.table(
        {
            "word": [w for w, _, _ in words],
            "catcode": [c for _, c, _ in words],
            "barelabel": [b == "t" for _, _, b in words],
            "catdesc": [_CATEGORY[c] for _, c, _ in words],
            "baredesc": ["can be bare label" if b == "t" else "requires AS" for _, _, b in words],
        }
    )
    con.execute(
        f"CREATE TABLE {FUNCTION_SCHEMA}.keywords (word VARCHAR, catcode VARCHAR, "
        "barelabel BOOLEAN, catdesc VARCHAR, baredesc VARCHAR)"
    )
    _load(con, f"{FUNCTION_SCHEMA}.keywords", keywords)
    spellings = pa.table(
        {
            "spelling": list(TYPE_SPELLINGS),
            "oid": pa.array(list(TYPE_SPELLINGS.values()), pa.uint32()),
        }
    )
    con.execute(f"CREATE TABLE {FUNCTION_SCHEMA}.type_spellings (spelling VARCHAR, oid UINTEGER)")
    _load(con, f"{FUNCTION_SCHEMA}.type_spellings", spellings)
    con.execute(
        f"CREATE TABLE {FUNCTION_SCHEMA}.type_format "
        "(oid UINTEGER, name VARCHAR, base VARCHAR, suffix VARCHAR)"
    )
    _load(con, f"{FUNCTION_SCHEMA}.type_format", _type_format(objects))
    defaults = pa.table(
        {"setting": list(SETTING_DEFAULTS), "value": list(SETTING_DEFAULTS.values())}
    )
    con.execute(f"CREATE TABLE {FUNCTION_SCHEMA}.setting_defaults (setting VARCHAR, value VARCHAR)")
    _load(con, f"{FUNCTION_SCHEMA}.setting_defaults", defaults)


def _type_format(objects: CatalogObjects) -> pa.Table:
    """format_type() pieces per type: element name, element spelling, ``[]`` suffix."""
    oids, names, bases, suffixes = [], [], [], []
    for oid, type_name in objects.types.items():
        pg_type = BY_OID.get(oid)
        if pg_type is not None:
            element = BY_OID[pg_type.element_oid] if pg_type.is_array else pg_type
            base, suffix = format_type(element.oid), "[]" if pg_type.is_array else ""
            name = element.name
        else:
            base, suffix, name = quote_ident(type_name.name), "", type_name.name
        oids.append(oid)
        names.append(name)
        bases.append(base)
        suffixes.append(suffix)
    return pa.table(
        {"oid": pa.array(oids, pa.uint32()), "name": names, "base": bases, "suffix": suffixes}
    )
