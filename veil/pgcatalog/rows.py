"""The rows of the emulated ``pg_catalog`` relations, built from one user's catalog snapshot.

Static facts (pg_type of the core types, pg_proc, pg_am, ...) come from PostgreSQL 15 itself
(:mod:`.data`); user-dependent rows (schemas, tables, columns, row types, comments, roles) are
derived here, with the keys a source declares (:mod:`.keys`). Relations not filled in are
empty: a query-backed table has no triggers, policies or inheritance.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from veil.catalog.model import Column, stable_oid
from veil.pgcatalog.data import static_rows
from veil.pgcatalog.data.procs import PG_PROC
from veil.pgcatalog.data.settings import PG_SETTINGS
from veil.pgcatalog.keys import KeyRows
from veil.pgcatalog.objects import (
    BOOTSTRAP_ROLE,
    BOOTSTRAP_ROLE_OID,
    ENUM_IO,
    OWNER_ROLE,
    OWNER_ROLE_OID,
    CatalogObjects,
    Relation,
    composite_relid,
)
from veil.pgcatalog.schema import RELATIONS, CatalogRelation
from veil.pgtypes import BY_NAME, BY_OID, PgType

Row = dict[str, object]

PG_CLASS_OID = RELATIONS[("pg_catalog", "pg_class")].oid
DEFAULT_COLLATION = 100
C_COLLATION = 950
_SYSTEM_COLUMNS = (
    ("tableoid", "oid", -6),
    ("cmax", "cid", -5),
    ("xmax", "xid", -4),
    ("cmin", "cid", -3),
    ("xmin", "xid", -2),
    ("ctid", "tid", -1),
)
_COLLATABLE = {"text", "varchar", "bpchar"}
_TYPSTORAGE_INDEX = [c.name for c in RELATIONS[("pg_catalog", "pg_type")].columns].index("typstorage")
_TYPSTORAGE = {row[0]: row[_TYPSTORAGE_INDEX] for row in static_rows.PG_TYPE}
_BUILTIN_NAMESPACES = {str(row[1]): row for row in static_rows.PG_NAMESPACE}
_RELACL = {int(str(oid)): acl for oid, acl in static_rows.RELACL}  # catalog relations' privileges
# PostgreSQL 15's shared catalogs (BKI_SHARED_RELATION): one per cluster, in pg_global (1664).
_SHARED_CATALOGS = frozenset(
    "pg_auth_members pg_authid pg_database pg_db_role_setting pg_parameter_acl pg_replication_origin"
    " pg_shdepend pg_shdescription pg_shseclabel pg_subscription pg_tablespace".split()
)
_GLOBAL_TABLESPACE = 1664
_TYPRELID_INDEX = [c.name for c in RELATIONS[("pg_catalog", "pg_type")].columns].index("typrelid")
# A catalog relation's row type (pg_class.reltype): the built-in pg_type row whose typrelid it is.
_ROW_TYPES = {
    int(str(row[_TYPRELID_INDEX])): int(str(row[0])) for row in static_rows.PG_TYPE if int(str(row[_TYPRELID_INDEX]))
}


def _builtin_descriptions() -> list[Row]:
    """PostgreSQL 15's pg_description rows of the built-in objects Veil shows (functions,
    operators, types, access methods, schemas...), from ``data/descriptions.csv``."""
    path = Path(__file__).parent / "data" / "descriptions.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [
            {"objoid": int(oid), "classoid": int(classoid), "objsubid": int(subid), "description": text}
            for oid, classoid, subid, text in reader
        ]


BUILTIN_DESCRIPTIONS = _builtin_descriptions()


@dataclass
class RowSet:
    """Rows for one relation, as column-name → value dicts (absent columns are NULL)."""

    relation: CatalogRelation
    rows: list[Row] = field(default_factory=list)

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=self.relation.arrow_schema())


def _static(relation: str, rows: tuple[tuple[object, ...], ...]) -> RowSet:
    rel = RELATIONS[("pg_catalog", relation)]
    names = [c.name for c in rel.columns]
    return RowSet(rel, [dict(zip(names, row, strict=True)) for row in rows])


def _proc_oid(name: str) -> int:
    return next(int(str(row[0])) for row in PG_PROC if row[1] == name)


class CatalogRows:
    """Builds every non-empty relation's rows for a :class:`CatalogObjects`."""

    def __init__(self, objects: CatalogObjects) -> None:
        self.objects = objects
        self.keys = KeyRows(objects)

    def all(self) -> Iterator[RowSet]:
        yield _static("pg_proc", PG_PROC)
        yield _static("pg_am", static_rows.PG_AM)
        yield _static("pg_collation", static_rows.PG_COLLATION)
        yield _static("pg_tablespace", static_rows.PG_TABLESPACE)
        yield _static("pg_opclass", static_rows.PG_OPCLASS)
        yield _static("pg_language", static_rows.PG_LANGUAGE)
        yield _static("pg_extension", static_rows.PG_EXTENSION)
        yield _static("pg_operator", static_rows.PG_OPERATOR)
        yield _static("pg_opfamily", static_rows.PG_OPFAMILY)
        yield _static("pg_range", static_rows.PG_RANGE)
        yield _static("pg_cast", static_rows.PG_CAST)
        yield _static("pg_ts_config", static_rows.PG_TS_CONFIG)
        yield _static("pg_ts_dict", static_rows.PG_TS_DICT)
        yield _static("pg_ts_config_map", static_rows.PG_TS_CONFIG_MAP)
        yield _static("pg_ts_parser", static_rows.PG_TS_PARSER)
        yield _static("pg_ts_template", static_rows.PG_TS_TEMPLATE)
        yield _static("pg_settings", PG_SETTINGS)
        yield _static("pg_depend", static_rows.PG_DEPEND)
        yield _static("pg_conversion", static_rows.PG_CONVERSION)
        yield self.pg_type()
        yield self.pg_enum()
        yield self.pg_namespace()
        yield self.pg_class()
        yield self.pg_attribute()
        yield self.pg_attrdef()
        yield self.pg_database()
        yield self.pg_description()
        builtin_constraints = _static("pg_constraint", static_rows.PG_CONSTRAINT).rows
        yield self._rowset("pg_constraint", self.keys.pg_constraint() + builtin_constraints)
        yield self._rowset("pg_index", self.keys.pg_index())
        yield from self.roles()
        yield from self.table_views()
        yield from self.statistics()

    def _rowset(self, name: str, rows: list[Row]) -> RowSet:
        return RowSet(RELATIONS[("pg_catalog", name)], rows)

    def pg_type(self) -> RowSet:
        rowset = _static("pg_type", static_rows.PG_TYPE)
        record = {f: _proc_oid(f"record_{f}") for f in ("in", "out", "recv", "send")}
        for table in self.objects.tables:
            rowset.rows.append(
                {
                    "oid": table.row_type_oid,
                    "typname": table.name,
                    "typnamespace": self.objects.namespaces[table.schema],
                    "typowner": OWNER_ROLE_OID,
                    "typlen": -1,
                    "typbyval": False,
                    "typtype": "c",
                    "typcategory": "C",
                    "typispreferred": False,
                    "typisdefined": True,
                    "typdelim": ",",
                    "typrelid": table.oid,
                    "typsubscript": 0,
                    "typelem": 0,
                    "typarray": 0,
                    "typinput": record["in"],
                    "typoutput": record["out"],
                    "typreceive": record["recv"],
                    "typsend": record["send"],
                    "typmodin": 0,
                    "typmodout": 0,
                    "typanalyze": 0,
                    "typalign": "d",
                    "typstorage": "x",
                    "typnotnull": False,
                    "typbasetype": 0,
                    "typtypmod": -1,
                    "typndims": 0,
                    "typcollation": 0,
                }
            )
        for defined in self.objects.user_types.values():
            rowset.rows.extend(self._user_types(defined))
        return rowset

    def _user_types(self, defined: PgType) -> list[Row]:
        """The pg_type rows of a source's enum or composite type and of its array type, as
        PostgreSQL has them."""
        namespace = self.objects.namespaces[defined.schema]
        common = {"typnamespace": namespace, "typowner": OWNER_ROLE_OID, "typispreferred": False,
                  "typisdefined": True, "typdelim": ",", "typmodin": 0, "typmodout": 0, "typalign": defined.align,
                  "typnotnull": False, "typbasetype": 0, "typtypmod": -1, "typndims": 0, "typcollation": 0}
        if defined.is_enum:
            io = [ENUM_IO[f"enum_{f}"] for f in ("in", "out", "recv", "send")]
        else:
            io = [_proc_oid(f"record_{f}") for f in ("in", "out", "recv", "send")]
        rows: list[Row] = [{
            **common, "oid": defined.oid, "typname": defined.name, "typlen": defined.length,
            "typbyval": defined.by_value, "typtype": defined.kind, "typcategory": defined.category,
            "typrelid": composite_relid(defined) if defined.kind == "c" else 0, "typsubscript": 0, "typelem": 0,
            "typarray": defined.array_oid, "typinput": io[0], "typoutput": io[1], "typreceive": io[2],
            "typsend": io[3], "typanalyze": 0, "typstorage": "p" if defined.is_enum else "x",
        }]
        if defined.array_oid:
            rows.append({
                **common, "oid": defined.array_oid, "typname": "_" + defined.name, "typlen": -1, "typbyval": False,
                "typtype": "b", "typcategory": "A", "typrelid": 0, "typsubscript": _proc_oid("array_subscript_handler"),
                "typelem": defined.oid, "typarray": 0, "typinput": _proc_oid("array_in"),
                "typoutput": _proc_oid("array_out"), "typreceive": _proc_oid("array_recv"),
                "typsend": _proc_oid("array_send"), "typanalyze": _proc_oid("array_typanalyze"), "typstorage": "x",
            })
        return rows

    def pg_enum(self) -> RowSet:
        """The labels of the enums this user's columns have, in the source's order."""
        rows: list[Row] = [
            {"oid": stable_oid("enum", str(enum.oid), label), "enumtypid": enum.oid,
             "enumsortorder": float(order), "enumlabel": label}
            for enum in self.objects.user_types.values()
            for order, label in enumerate(enum.labels, start=1)
        ]
        return self._rowset("pg_enum", rows)

    def pg_namespace(self) -> RowSet:
        """The built-in schemas as PostgreSQL has them (owner and ACL), the sources' owned by Veil."""
        names = [c.name for c in RELATIONS[("pg_catalog", "pg_namespace")].columns]
        rows: list[Row] = [
            dict(zip(names, _BUILTIN_NAMESPACES[name], strict=True)) if name in _BUILTIN_NAMESPACES
            else {"oid": oid, "nspname": name, "nspowner": self.objects.namespace_owner(name)}
            for name, oid in self.objects.namespaces.items()
        ]
        return self._rowset("pg_namespace", rows)

    def pg_class(self) -> RowSet:
        rows = [self._class_row(r) for r in self.objects.relations.values()]
        for relation, defined in self.objects.composite_classes.items():
            row = self._class_row(relation)
            rows.append({**row, "reltype": defined.oid, "relnatts": len(defined.fields), "relreplident": "n"})
        return self._rowset("pg_class", rows + self.keys.index_classes())

    def _class_row(self, relation: Relation) -> Row:
        user = relation.table is not None
        shared = not user and relation.kind == "r" and relation.schema == "pg_catalog" and relation.name in _SHARED_CATALOGS
        return {
            "oid": relation.oid,
            "relname": relation.name,
            "relnamespace": self.objects.namespaces[relation.schema],
            "reltype": relation.table.row_type_oid if relation.table else _ROW_TYPES.get(relation.oid, 0),
            "reloftype": 0,
            "relowner": OWNER_ROLE_OID if user or relation.kind == "c" else BOOTSTRAP_ROLE_OID,
            "relam": 2 if relation.kind == "r" else 0,
            "relfilenode": relation.oid if relation.kind == "r" else 0,
            "reltablespace": _GLOBAL_TABLESPACE if shared else 0,
            "relpages": 0,
            "reltuples": -1.0,
            "relallvisible": 0,
            "reltoastrelid": 0,
            "relhasindex": relation.oid in self.keys.indexed,
            "relisshared": shared,
            "relpersistence": "p",
            "relkind": relation.kind,
            "relnatts": relation.column_count,
            "relchecks": 0,
            "relhasrules": relation.kind == "v",
            "relhastriggers": relation.oid in self.keys.triggered,
            "relhassubclass": False,
            "relrowsecurity": False,
            "relforcerowsecurity": False,
            "relispopulated": True,
            "relreplident": "d" if user or relation.kind == "r" else "n",
            "relispartition": False,
            "relrewrite": 0,
            "relfrozenxid": 716 if relation.kind == "r" else 0,
            "relminmxid": 1 if relation.kind == "r" else 0,
            "relacl": None if user else _RELACL.get(relation.oid),
        }

    def pg_attribute(self) -> RowSet:
        rows: list[Row] = []
        for relation in self.objects.relations.values():
            if relation.table is not None:
                for num, column in enumerate(relation.table.columns, start=1):
                    rows.append(_user_attribute(relation.oid, num, column))
                for name, type_name, num in _SYSTEM_COLUMNS:
                    rows.append(_attribute(relation.oid, num, name, BY_NAME[type_name], -1, True))
            elif relation.catalog is not None:
                for num, col in enumerate(relation.catalog.columns, start=1):
                    rows.append(_attribute(relation.oid, num, col.name, col.pg_type, -1, False))
        for defined in self.objects.user_types.values():
            for num, (name, type_oid, typmod) in enumerate(defined.fields, start=1):
                rows.append(_attribute(composite_relid(defined), num, name, BY_OID[type_oid], typmod, False))
        return self._rowset("pg_attribute", rows)

    def pg_attrdef(self) -> RowSet:
        """Column defaults as the source declares them (``adbin`` holds the expression's text,
        which is what the emulated ``pg_get_expr`` returns)."""
        rows: list[Row] = []
        for relation in self.objects.relations.values():
            if relation.table is None:
                continue
            for num, column in enumerate(relation.table.columns, start=1):
                if column.default is not None:
                    oid = stable_oid("attrdef", relation.schema, relation.name, column.name)
                    rows.append({"oid": oid, "adrelid": relation.oid, "adnum": num, "adbin": column.default})
        return self._rowset("pg_attrdef", rows)

    def pg_database(self) -> RowSet:
        row = {
            "oid": self.objects.database_oid,
            "datname": self.objects.database,
            "datdba": OWNER_ROLE_OID,
            "encoding": 6,
            "datlocprovider": "c",
            "datistemplate": False,
            "datallowconn": True,
            "datconnlimit": -1,
            "datfrozenxid": 716,
            "datminmxid": 1,
            "dattablespace": 1663,
            "datcollate": "C.UTF-8",
            "datctype": "C.UTF-8",
        }
        return self._rowset("pg_database", [row])

    def pg_description(self) -> RowSet:
        rows: list[Row] = list(BUILTIN_DESCRIPTIONS)
        for table in self.objects.tables:
            if table.description:
                rows.append(_description(table.oid, 0, table.description))
            for num, column in enumerate(table.columns, start=1):
                if column.description:
                    rows.append(_description(table.oid, num, column.description))
        return self._rowset("pg_description", rows)

    def roles(self) -> Iterator[RowSet]:
        authid, roles, users = [], [], []
        predefined = set(static_rows.PREDEFINED_ROLES.values())
        for name, oid in self.objects.roles.items():
            # The bootstrap superuser has PostgreSQL's attributes; only Veil's users log in.
            superuser = oid == BOOTSTRAP_ROLE_OID
            flags = {
                "rolsuper": superuser,
                "rolinherit": True,
                "rolcreaterole": superuser,
                "rolcreatedb": superuser,
                "rolcanlogin": name in self.objects.users and oid not in predefined,
                "rolreplication": superuser,
                "rolbypassrls": superuser,
                "rolconnlimit": -1,
            }
            authid.append({"oid": oid, "rolname": name, **flags})
            roles.append({"oid": oid, "rolname": name, "rolpassword": "********", **flags})
            if flags["rolcanlogin"]:
                users.append(
                    {
                        "usename": name,
                        "usesysid": oid,
                        "usecreatedb": False,
                        "usesuper": False,
                        "userepl": False,
                        "usebypassrls": False,
                        "passwd": "********",
                    }
                )
        yield self._rowset("pg_authid", authid)
        yield _static("pg_auth_members", static_rows.PG_AUTH_MEMBERS)
        yield self._rowset("pg_roles", roles)
        yield self._rowset("pg_user", users)
        yield self._rowset("pg_shadow", [{**u, "passwd": None} for u in users])

    def table_views(self) -> Iterator[RowSet]:
        tables: list[Row] = []
        views: list[Row] = []
        for relation in self.objects.relations.values():
            if relation.kind == "r":
                tables.append(
                    {
                        "schemaname": relation.schema,
                        "tablename": relation.name,
                        "tableowner": OWNER_ROLE if relation.table is not None else BOOTSTRAP_ROLE,
                        "hasindexes": relation.oid in self.keys.indexed,
                        "hasrules": False,
                        "hastriggers": relation.oid in self.keys.triggered,
                        "rowsecurity": False,
                    }
                )
            else:
                views.append(
                    {
                        "schemaname": relation.schema,
                        "viewname": relation.name,
                        "viewowner": BOOTSTRAP_ROLE,
                    }
                )
        yield self._rowset("pg_tables", tables)
        yield self._rowset("pg_indexes", self.keys.pg_indexes())
        yield self._rowset("pg_views", views)

    def statistics(self) -> Iterator[RowSet]:
        zero_stats = {
            name: 0
            for name in (
                "seq_scan seq_tup_read n_tup_ins n_tup_upd n_tup_del n_tup_hot_upd n_live_tup "
                "n_dead_tup n_mod_since_analyze n_ins_since_vacuum vacuum_count autovacuum_count "
                "analyze_count autoanalyze_count"
            ).split()
        }
        rows = [
            {"relid": t.oid, "schemaname": t.schema, "relname": t.name, **zero_stats}
            for t in self.objects.tables
        ]
        for name in ("pg_stat_user_tables", "pg_stat_all_tables", "pg_stat_xact_user_tables"):
            relation = RELATIONS[("pg_catalog", name)]
            wanted = {c.name for c in relation.columns}
            yield RowSet(relation, [{k: v for k, v in r.items() if k in wanted} for r in rows])
        io_rows = [{"relid": t.oid, "schemaname": t.schema, "relname": t.name} for t in self.objects.tables]
        yield self._rowset("pg_statio_user_tables", io_rows)
        yield self._rowset("pg_statio_all_tables", list(io_rows))


def _description(oid: int, subid: int, text: str) -> Row:
    return {"objoid": oid, "classoid": PG_CLASS_OID, "objsubid": subid, "description": text}


def _user_attribute(relid: int, num: int, column: Column) -> Row:
    column_type = column.pg_type
    row = _attribute(relid, num, column.name, column_type.type, column_type.typmod, False)
    row["attnotnull"] = not column.nullable
    row["atthasdef"] = column.default is not None
    return row


def _attribute(
    relid: int, num: int, name: str, pg_type: PgType, typmod: int, system: bool
) -> Row:
    element = BY_OID[pg_type.element_oid] if pg_type.is_array else pg_type
    collation = 0
    if element.name in _COLLATABLE:
        collation = DEFAULT_COLLATION
    elif element.name == "name":
        collation = C_COLLATION
    return {
        "attrelid": relid,
        "attname": name,
        "atttypid": pg_type.oid,
        "attstattarget": 0 if system else -1,
        "attlen": pg_type.length,
        "attnum": num,
        "attndims": 1 if pg_type.is_array else 0,
        "attcacheoff": -1,
        "atttypmod": typmod,
        "attbyval": pg_type.by_value,
        "attalign": pg_type.align,
        "attstorage": "p" if pg_type.is_enum else _TYPSTORAGE.get(pg_type.oid, "x"),
        "attcompression": "",
        "attnotnull": system,
        "atthasdef": False,
        "atthasmissing": False,
        "attidentity": "",
        "attgenerated": "",
        "attisdropped": False,
        "attislocal": True,
        "attinhcount": 0,
        "attcollation": collation,
    }
