"""Rows of the ``information_schema`` views Veil fills in (schemata, tables, columns, views).

Values follow PostgreSQL 15 (``data_type`` spellings, precision columns, ``ARRAY`` with the
element's ``udt_name``), except that every updatable/insertable flag is ``NO``: Veil is
read-only.
"""

from __future__ import annotations

from collections.abc import Iterator

from veil.pgcatalog.keys import KeyRows
from veil.pgcatalog.objects import CatalogObjects, Relation
from veil.pgcatalog.privileges import COLUMN_GRANTS, NOT_LISTED
from veil.pgcatalog.rows import Row, RowSet
from veil.pgcatalog.schema import RELATIONS, ZERO_BASED_ARRAYS
from veil.pgtypes import BY_OID, ColumnType, PgType, format_type

_INT_PRECISION = {"int2": 16, "int4": 32, "int8": 64, "float4": 24, "float8": 53}
_DATETIME = {"date", "timestamp", "timestamptz", "time", "timetz", "interval"}
_CHARACTER = {"text", "varchar", "bpchar"}


def _rowset(name: str, rows: list[Row]) -> RowSet:
    return RowSet(RELATIONS[("information_schema", name)], rows)


class InformationSchemaRows:
    def __init__(self, objects: CatalogObjects) -> None:
        self.objects = objects
        self.catalog = objects.database

    def all(self) -> Iterator[RowSet]:
        yield _rowset("information_schema_catalog_name", [{"catalog_name": self.catalog}])
        yield self.schemata()
        yield self.tables()
        yield self.views()
        yield self.columns()
        keys = KeyRows(self.objects)
        yield _rowset("table_constraints", keys.table_constraints())
        yield _rowset("key_column_usage", keys.key_column_usage())
        yield _rowset("referential_constraints", keys.referential_constraints())
        yield _rowset("constraint_column_usage", keys.constraint_column_usage())
        yield _rowset("constraint_table_usage", keys.constraint_table_usage())

    def schemata(self) -> RowSet:
        rows: list[Row] = [
            {"catalog_name": self.catalog, "schema_name": name,
             "schema_owner": self.objects.role_names[self.objects.namespace_owner(name)]}
            for name in self.objects.namespaces
        ]
        return _rowset("schemata", rows)

    def _listed(self) -> list[Relation]:
        """The relations a user holds some privilege on (information_schema lists no other)."""
        return [r for r in self.objects.relations.values() if r.table is not None or r.oid not in NOT_LISTED]

    def tables(self) -> RowSet:
        rows: list[Row] = []
        for relation in self._listed():
            rows.append(
                {
                    "table_catalog": self.catalog,
                    "table_schema": relation.schema,
                    "table_name": relation.name,
                    "table_type": "BASE TABLE" if relation.kind == "r" else "VIEW",
                    "is_insertable_into": _insertable(relation),
                    "is_typed": "NO",
                }
            )
        return _rowset("tables", rows)

    def views(self) -> RowSet:
        rows: list[Row] = []
        for relation in self._listed():
            if relation.kind != "v":
                continue
            rows.append(
                {
                    "table_catalog": self.catalog,
                    "table_schema": relation.schema,
                    "table_name": relation.name,
                    "check_option": "NONE",
                    "is_updatable": _insertable(relation),
                    "is_insertable_into": _insertable(relation),
                    "is_trigger_updatable": "NO",
                    "is_trigger_deletable": "NO",
                    "is_trigger_insertable_into": "NO",
                }
            )
        return _rowset("views", rows)

    def columns(self) -> RowSet:
        rows: list[Row] = []
        for relation in self._listed():
            defaults = {c.name: c.default for c in relation.table.columns} if relation.table is not None else {}
            hidden = COLUMN_GRANTS.get(relation.name, frozenset()) if relation.table is None else frozenset()
            for position, (name, column_type, nullable) in enumerate(_columns(relation), 1):
                if name in hidden:
                    continue
                row = self._column(relation, position, name, column_type, nullable)
                row["column_default"] = defaults.get(name)
                rows.append(row)
        return _rowset("columns", rows)

    def _column(
        self, relation: Relation, position: int, name: str, column_type: ColumnType, nullable: bool
    ) -> Row:
        pg_type, typmod = column_type.type, column_type.typmod
        row: Row = {
            "table_catalog": self.catalog,
            "table_schema": relation.schema,
            "table_name": relation.name,
            "column_name": name,
            "ordinal_position": position,
            "is_nullable": "YES" if nullable else "NO",
            "data_type": _data_type(pg_type),
            "udt_catalog": self.catalog,
            "udt_schema": pg_type.schema,
            "udt_name": pg_type.name,
            "dtd_identifier": str(position),
            "is_self_referencing": "NO",
            "is_identity": "NO",
            "identity_cycle": "NO",
            "is_generated": "NEVER",
            "is_updatable": "NO",
        }
        row.update(_precision(pg_type, typmod))
        element = BY_OID.get(pg_type.element_oid, pg_type) if pg_type.is_array else pg_type
        # name columns are "C"; so is every string column of PostgreSQL's own catalog tables.
        builtin_table = relation.table is None and relation.kind == "r"
        if element.name == "name" or (builtin_table and element.category == "S"):
            row.update(collation_catalog=self.catalog, collation_schema="pg_catalog")
            row["collation_name"] = "C"
        return row


# PostgreSQL 15's automatically updatable catalog views (pg_relation_is_updatable).
_UPDATABLE_VIEWS = frozenset({"pg_group", "pg_stat_database_conflicts"})


def _insertable(relation: Relation) -> str:
    """PostgreSQL's answer for its own catalog relations (its base tables and its simple views
    are insertable, whatever the user's privileges); a served table or view is read-only."""
    builtin = relation.table is None and relation.catalog is not None
    return "YES" if builtin and (relation.kind == "r" or relation.name in _UPDATABLE_VIEWS) else "NO"


def _columns(relation: Relation) -> Iterator[tuple[str, ColumnType, bool]]:
    if relation.table is not None:
        for column in relation.table.columns:
            yield column.name, column.pg_type, column.nullable
    elif relation.catalog is not None:
        for col in relation.catalog.columns:
            yield col.name, ColumnType(col.pg_type), True


def _data_type(pg_type: PgType) -> str:
    # PostgreSQL's rule (typelem <> 0 AND typlen = -1): int2vector and oidvector are ARRAYs too.
    if pg_type.is_array or pg_type.name in ZERO_BASED_ARRAYS:
        return "ARRAY"
    if pg_type.kind in ("c", "e"):
        return "USER-DEFINED"
    return format_type(pg_type.oid)


def _precision(pg_type: PgType, typmod: int) -> Row:
    name = pg_type.name
    if pg_type.is_array:
        return {}
    if name in _INT_PRECISION:
        exact = name.startswith("int")
        return {
            "numeric_precision": _INT_PRECISION[name],
            "numeric_precision_radix": 2,
            "numeric_scale": 0 if exact else None,
        }
    if name == "numeric":
        if typmod < 4:
            return {"numeric_precision_radix": 10}
        packed = typmod - 4
        return {
            "numeric_precision": packed >> 16,
            "numeric_precision_radix": 10,
            "numeric_scale": packed & 0xFFFF,
        }
    if name in _CHARACTER:
        length = typmod - 4 if typmod >= 4 else None
        return {
            "character_maximum_length": length,
            "character_octet_length": length * 4 if length else 1073741824,
        }
    if name in ("bit", "varbit"):
        return {"character_maximum_length": typmod if typmod >= 0 else None}
    if name in _DATETIME:
        precision = typmod if typmod >= 0 and name != "date" else (0 if name == "date" else 6)
        return {"datetime_precision": precision}
    return {}
