"""Primary keys, unique constraints and foreign keys of the served tables, as the emulated
``pg_constraint``, ``pg_index``, index rows of ``pg_class`` and the ``information_schema``
constraint views show them.

Only keys among the tables one user may see are served: a foreign key whose referenced table the
user cannot see is left out entirely, so neither the table's name nor its existence leaks. A key
on a column the snapshot does not serve is left out too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from veil.catalog.model import Table, TableKey, stable_oid
from veil.pgcatalog.data import static_rows
from veil.pgcatalog.identifiers import quote_ident
from veil.pgcatalog.objects import OWNER_ROLE_OID, CatalogObjects

BTREE = 403
_ACTIONS = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_RULES = {"a": "NO ACTION", **_ACTIONS}
_TYPES = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY"}
_DEFAULT_OPCLASS = {
    int(str(row[6])): int(str(row[0])) for row in static_rows.PG_OPCLASS if row[1] == BTREE and row[7]
}

Row = dict[str, object]


@dataclass(frozen=True)
class ServedKey:
    """One key as one user sees it: attribute numbers in the served tables."""

    table: Table
    key: TableKey
    attnums: tuple[int, ...]
    ref: Table | None = None
    ref_attnums: tuple[int, ...] = ()
    ref_key: TableKey | None = None  # the referenced table's primary key or unique constraint

    @property
    def oid(self) -> int:
        return stable_oid("constraint", self.table.schema, self.table.name, self.key.name)

    @property
    def index_oid(self) -> int:
        """The index behind a primary key or unique constraint (0 for a foreign key)."""
        if self.key.kind == "f":
            return 0
        return stable_oid("index", self.table.schema, self.table.name, self.key.name)

    @property
    def ref_index_oid(self) -> int:
        if self.ref is None or self.ref_key is None:
            return 0
        return stable_oid("index", self.ref.schema, self.ref.name, self.ref_key.name)

    def column_names(self) -> list[str]:
        return [self.table.columns[n - 1].name for n in self.attnums]

    def ref_column_names(self) -> list[str]:
        assert self.ref is not None
        return [self.ref.columns[n - 1].name for n in self.ref_attnums]


def _attnums(table: Table, names: tuple[str, ...]) -> tuple[int, ...] | None:
    raw = {c.raw_name: num for num, c in enumerate(table.columns, start=1)}
    found = tuple(raw.get(name, 0) for name in names)
    return None if not found or 0 in found else found


def served_keys(objects: CatalogObjects) -> list[ServedKey]:
    """The keys of the user's tables whose columns (and referenced table) the user can see."""
    by_source = {(t.connection, t.source_schema, t.source_name): t for t in objects.tables}
    served: list[ServedKey] = []
    for table in objects.tables:
        for key in table.keys:
            attnums = _attnums(table, key.columns)
            if attnums is None:
                continue
            if key.kind != "f":
                served.append(ServedKey(table, key, attnums))
                continue
            ref = by_source.get((table.connection, key.ref_schema or "", key.ref_table or ""))
            ref_attnums = None if ref is None else _attnums(ref, key.ref_columns)
            if ref is None or ref_attnums is None:
                continue
            ref_key = next(
                (k for k in ref.keys if k.kind in "pu" and set(k.columns) == set(key.ref_columns)), None
            )
            served.append(ServedKey(table, key, attnums, ref, ref_attnums, ref_key))
    return served


def _columns(names: list[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def _qualified(table: Table) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


def constraint_definition(key: ServedKey) -> tuple[str, int, str]:
    """pg_get_constraintdef's text as (before the referenced table, its OID, after it): the
    table's name is printed at run time, qualified only when off the search path."""
    spec = key.key
    if spec.kind != "f":
        return f"{_TYPES[spec.kind]} ({_columns(key.column_names())})", 0, ""
    after = f"({_columns(key.ref_column_names())})"
    if spec.on_update in _ACTIONS:
        after += f" ON UPDATE {_ACTIONS[spec.on_update]}"
    if spec.on_delete in _ACTIONS:
        after += f" ON DELETE {_ACTIONS[spec.on_delete]}"
    if spec.deferrable:
        after += " DEFERRABLE"
    if spec.deferred:
        after += " INITIALLY DEFERRED"
    assert key.ref is not None
    return f"FOREIGN KEY ({_columns(key.column_names())}) REFERENCES ", key.ref.oid, after


def index_definition(key: ServedKey) -> str:
    """pg_get_indexdef's text (the table always schema-qualified, as PostgreSQL prints it)."""
    return (
        f"CREATE UNIQUE INDEX {quote_ident(key.key.name)} ON {_qualified(key.table)} "
        f"USING btree ({_columns(key.column_names())})"
    )


class KeyRows:
    """The rows of the catalog relations that describe keys."""

    def __init__(self, objects: CatalogObjects) -> None:
        self.objects = objects
        self.keys = served_keys(objects)
        self.indexed = {k.table.oid for k in self.keys if k.key.kind != "f"}
        # PostgreSQL enforces a foreign key with triggers on both tables (psql lists foreign keys
        # and "Referenced by" only for a table that has triggers).
        self.triggered = {t.oid for k in self.keys if k.ref is not None for t in (k.table, k.ref)}

    def pg_constraint(self) -> list[Row]:
        rows: list[Row] = []
        for key in self.keys:
            spec = key.key
            foreign = spec.kind == "f"
            rows.append({
                "oid": key.oid, "conname": spec.name, "connamespace": self.objects.namespaces[key.table.schema],
                "contype": spec.kind, "condeferrable": spec.deferrable, "condeferred": spec.deferred,
                "convalidated": True, "conrelid": key.table.oid, "contypid": 0,
                "conindid": key.ref_index_oid if foreign else key.index_oid, "conparentid": 0,
                "confrelid": key.ref.oid if key.ref is not None else 0,
                "confupdtype": spec.on_update if foreign else " ", "confdeltype": spec.on_delete if foreign else " ",
                "confmatchtype": "s" if foreign else " ", "conislocal": True, "coninhcount": 0,
                "connoinherit": True, "conkey": list(key.attnums),
                "confkey": list(key.ref_attnums) if foreign else None,
            })
        return rows

    def index_classes(self) -> list[Row]:
        """pg_class rows of the indexes behind primary keys and unique constraints."""
        return [
            {
                "oid": key.index_oid, "relname": key.key.name,
                "relnamespace": self.objects.namespaces[key.table.schema], "reltype": 0, "reloftype": 0,
                "relowner": OWNER_ROLE_OID, "relam": BTREE, "relfilenode": key.index_oid, "reltablespace": 0,
                "relpages": 1, "reltuples": 0.0, "relallvisible": 0, "reltoastrelid": 0, "relhasindex": False,
                "relisshared": False, "relpersistence": "p", "relkind": "i", "relnatts": len(key.attnums),
                "relchecks": 0, "relhasrules": False, "relhastriggers": False, "relhassubclass": False,
                "relrowsecurity": False, "relforcerowsecurity": False, "relispopulated": True,
                "relreplident": "n", "relispartition": False, "relrewrite": 0, "relfrozenxid": 0, "relminmxid": 0,
            }
            for key in self.keys if key.key.kind != "f"
        ]

    def pg_index(self) -> list[Row]:
        rows: list[Row] = []
        for key in self.keys:
            if key.key.kind == "f":
                continue
            types = [key.table.columns[n - 1].pg_type.type.oid for n in key.attnums]
            rows.append({
                "indexrelid": key.index_oid, "indrelid": key.table.oid, "indnatts": len(key.attnums),
                "indnkeyatts": len(key.attnums), "indisunique": True, "indnullsnotdistinct": False,
                "indisprimary": key.key.kind == "p", "indisexclusion": False, "indimmediate": not key.key.deferrable,
                "indisclustered": False, "indisvalid": True, "indcheckxmin": False, "indisready": True,
                "indislive": True, "indisreplident": False, "indkey": list(key.attnums),
                "indcollation": [100 if t in (25, 1042, 1043) else 0 for t in types],
                "indclass": [_DEFAULT_OPCLASS.get(t, 0) for t in types], "indoption": [0] * len(types),
            })
        return rows

    def pg_indexes(self) -> list[Row]:
        return [
            {"schemaname": k.table.schema, "tablename": k.table.name, "indexname": k.key.name,
             "tablespace": None, "indexdef": index_definition(k)}
            for k in self.keys if k.key.kind != "f"
        ]

    def definitions(self) -> Iterator[tuple[int, int, str, int, str]]:
        """(OID, column number, text before the referenced table, its OID, text after) for
        pg_get_constraintdef (constraint OIDs) and pg_get_indexdef (index OIDs: column 0 is the
        whole definition, column n the n-th indexed column's name)."""
        for key in self.keys:
            yield (key.oid, 0, *constraint_definition(key))
            if key.key.kind != "f":
                yield key.index_oid, 0, index_definition(key), 0, ""
                for number, name in enumerate(key.column_names(), start=1):
                    yield key.index_oid, number, quote_ident(name), 0, ""

    # -- information_schema -------------------------------------------------------------------
    def _named(self, key: ServedKey) -> Row:
        catalog = self.objects.database
        return {"constraint_catalog": catalog, "constraint_schema": key.table.schema,
                "constraint_name": key.key.name}

    def table_constraints(self) -> list[Row]:
        return [
            {**self._named(k), "table_catalog": self.objects.database, "table_schema": k.table.schema,
             "table_name": k.table.name, "constraint_type": _TYPES[k.key.kind],
             "is_deferrable": "YES" if k.key.deferrable else "NO",
             "initially_deferred": "YES" if k.key.deferred else "NO", "enforced": "YES",
             "nulls_distinct": None if k.key.kind == "f" else "YES"}
            for k in self.keys
        ]

    def key_column_usage(self) -> list[Row]:
        rows: list[Row] = []
        for k in self.keys:
            positions: list[int | None] = [None] * len(k.attnums)
            if k.ref_key is not None:
                order = list(k.ref_key.columns)
                positions = [order.index(c) + 1 if c in order else None for c in k.key.ref_columns]
            for i, (name, position) in enumerate(zip(k.column_names(), positions, strict=True), start=1):
                rows.append({**self._named(k), "table_catalog": self.objects.database,
                             "table_schema": k.table.schema, "table_name": k.table.name, "column_name": name,
                             "ordinal_position": i, "position_in_unique_constraint": position})
        return rows

    def referential_constraints(self) -> list[Row]:
        return [
            {**self._named(k), "unique_constraint_catalog": self.objects.database,
             "unique_constraint_schema": k.ref.schema if k.ref_key is not None and k.ref is not None else None,
             "unique_constraint_name": k.ref_key.name if k.ref_key is not None else None,
             "match_option": "NONE", "update_rule": _RULES.get(k.key.on_update, "NO ACTION"),
             "delete_rule": _RULES.get(k.key.on_delete, "NO ACTION")}
            for k in self.keys if k.key.kind == "f"
        ]

    def constraint_column_usage(self) -> list[Row]:
        rows: list[Row] = []
        for k in self.keys:
            table, names = (k.ref, k.ref_column_names()) if k.ref is not None else (k.table, k.column_names())
            for name in names:
                rows.append({"table_catalog": self.objects.database, "table_schema": table.schema,
                             "table_name": table.name, "column_name": name, **self._named(k)})
        return rows

    def constraint_table_usage(self) -> list[Row]:
        return [
            {"table_catalog": self.objects.database,
             "table_schema": (k.ref or k.table).schema, "table_name": (k.ref or k.table).name, **self._named(k)}
            for k in self.keys
        ]
