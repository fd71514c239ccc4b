"""The emulated catalog relations: their PostgreSQL 15 column lists and how DuckDB stores them.

Every ``pg_catalog`` and ``information_schema`` relation of PostgreSQL 15 exists, with its full
column list (clients run ``SELECT c.*``), in a DuckDB schema of its own: DuckDB has a built-in
``pg_catalog`` that cannot be replaced, so ours are ``veil_pg_catalog`` and
``veil_information_schema`` and the rewriter maps every reference onto them.

Each column keeps its PostgreSQL type (what RowDescription reports) and a DuckDB storage type:
``oid`` and the ``reg*`` types are ``UINTEGER`` (PostgreSQL OIDs are unsigned 32-bit), ``name``
and ``"char"`` are ``VARCHAR``, ``int2vector``/``oidvector`` are lists (whose subscripts the
rewriter shifts, since those two PostgreSQL types are indexed from 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa

from veil.pgcatalog.data.relations import RELATIONS as _RELATION_SPECS
from veil.pgtypes import BY_NAME, BY_OID, PgType

DUCK_SCHEMAS = {"pg_catalog": "veil_pg_catalog", "information_schema": "veil_information_schema"}
FUNCTION_SCHEMA = "veil_fn"

# Catalog types Veil's type registry lacks are reported as the closest core type.
_SUBSTITUTES = {
    "xid8": "int8",
    "pg_ndistinct": "text",
    "pg_dependencies": "text",
    "pg_mcv_list": "text",
    "_pg_statistic": "text",
    "pg_snapshot": "text",
}

_STORAGE = {
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "int8": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "numeric": "DECIMAL(38,6)",
    "oid": "UINTEGER",
    "xid": "UINTEGER",
    "cid": "UINTEGER",
    "regproc": "UINTEGER",
    "regprocedure": "UINTEGER",
    "regclass": "UINTEGER",
    "regtype": "UINTEGER",
    "regnamespace": "UINTEGER",
    "regrole": "UINTEGER",
    "regoper": "UINTEGER",
    "regoperator": "UINTEGER",
    "regcollation": "UINTEGER",
    "regconfig": "UINTEGER",
    "regdictionary": "UINTEGER",
    "int2vector": "SMALLINT[]",
    "oidvector": "UINTEGER[]",
    "timestamptz": "TIMESTAMPTZ",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "time": "TIME",
    "interval": "INTERVAL",
    "bytea": "BLOB",
    "json": "JSON",
    "jsonb": "JSON",
    "uuid": "UUID",
}

_ARROW = {
    "BOOLEAN": pa.bool_(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "DECIMAL(38,6)": pa.decimal128(38, 6),
    "UINTEGER": pa.uint32(),
    "VARCHAR": pa.string(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "INTERVAL": pa.month_day_nano_interval(),
    "BLOB": pa.binary(),
    "JSON": pa.string(),
    "UUID": pa.string(),
}

REG_TYPES = frozenset(
    {"regproc", "regprocedure", "regclass", "regtype", "regnamespace", "regrole", "regoper",
     "regoperator", "regcollation", "regconfig", "regdictionary"}
)
# reg* types whose objects are static PostgreSQL rows (looked up in ``veil_fn.reg_names``), with
# the error PostgreSQL raises for a name it does not know.
NAMED_REG_TYPES: dict[str, tuple[str, str]] = {
    "regoper": ("42883", "operator does not exist: {}"),
    "regoperator": ("42883", "operator does not exist: {}"),
    "regcollation": ("42704", 'collation "{}" for encoding "UTF8" does not exist'),
    "regconfig": ("42704", 'text search configuration "{}" does not exist'),
    "regdictionary": ("42704", 'text search dictionary "{}" does not exist'),
}
ZERO_BASED_ARRAYS = frozenset({"int2vector", "oidvector"})

# PostgreSQL's system columns, selectable on every catalog table but never part of ``*``, and
# the constant each holds here (the emulated catalog is one frozen snapshot: one page, one
# transaction).
SYSTEM_COLUMNS: dict[str, str] = {
    "tableoid": "oid",
    "ctid": "tid",
    "xmin": "xid",
    "cmin": "cid",
    "xmax": "xid",
    "cmax": "cid",
}


def reported_type(pg_name: str) -> PgType:
    """The core PostgreSQL type Veil reports for a catalog type name (``_text``, ``name``...)."""
    name = _SUBSTITUTES.get(pg_name, pg_name)
    return BY_NAME.get(name) or BY_NAME["text"]


def storage_type(pg_type: PgType) -> str:
    """The DuckDB type holding values of ``pg_type``."""
    if pg_type.is_array:
        return storage_type(BY_OID[pg_type.element_oid]) + "[]"
    return _STORAGE.get(pg_type.name, "VARCHAR")


def arrow_type(storage: str) -> pa.DataType:
    """The Arrow type DuckDB produces for a storage type."""
    if storage.endswith("[]"):
        return pa.list_(arrow_type(storage[:-2]))
    return _ARROW[storage]


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    pg_type: PgType

    @property
    def storage(self) -> str:
        return storage_type(self.pg_type)


@dataclass(frozen=True)
class CatalogRelation:
    """One emulated ``pg_catalog``/``information_schema`` table or view."""

    schema: str
    name: str
    oid: int
    kind: str  # relkind: 'r' table, 'v' view
    columns: tuple[CatalogColumn, ...]

    @cached_property
    def _by_name(self) -> dict[str, CatalogColumn]:
        return {c.name: c for c in self.columns}

    def column(self, name: str) -> CatalogColumn | None:
        return self._by_name.get(name)

    def system_column(self, name: str) -> CatalogColumn | None:
        """``tableoid``, ``ctid``, ``xmin``... of a table (views have none)."""
        if self.kind != "r" or name not in SYSTEM_COLUMNS or name in self._by_name:
            return None
        return CatalogColumn(name, BY_NAME[SYSTEM_COLUMNS[name]])

    @property
    def duck_name(self) -> str:
        return f"{DUCK_SCHEMAS[self.schema]}.{self.name}"

    def ddl(self) -> str:
        cols = ", ".join(f'"{c.name}" {c.storage}' for c in self.columns)
        return f"CREATE TABLE {self.duck_name} ({cols})"

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, arrow_type(c.storage)) for c in self.columns])


def _load() -> dict[tuple[str, str], CatalogRelation]:
    relations = {}
    for schema, name, oid, kind, spec in _RELATION_SPECS:
        columns = []
        for item in spec.split():
            col, _, typ = item.rpartition(":")
            columns.append(CatalogColumn(col, reported_type(typ)))
        relations[(schema, name)] = CatalogRelation(schema, name, oid, kind, tuple(columns))
    return relations


RELATIONS: dict[tuple[str, str], CatalogRelation] = _load()


def find_relation(schema: str | None, name: str) -> CatalogRelation | None:
    """Resolve a relation name; unqualified names find ``pg_catalog`` only (it is always first
    on PostgreSQL's search path, and user tables never reach the local engine)."""
    if schema is None:
        return RELATIONS.get(("pg_catalog", name))
    return RELATIONS.get((schema, name))


def all_relations() -> Iterator[CatalogRelation]:
    return iter(RELATIONS.values())
