"""The named objects of the emulated catalog (namespaces, relations, types, functions, roles) and
the ``reg*`` conversions between their OIDs and names.

These Python lookups resolve literals at compile time (``'pg_class'::regclass`` becomes an OID
constant, and an unknown name fails with PostgreSQL's error); the same rules run inside DuckDB as
macros (see :mod:`.macros`) for non-constant values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from veil import errcodes
from veil.catalog.model import CatalogSnapshot, Table, stable_oid
from veil.errors import VeilError
from veil.pgcatalog.data import static_rows
from veil.pgcatalog.data.procs import PG_PROC, REGPROC_TEXT
from veil.pgcatalog.data.static_rows import NAMESPACE_OIDS, PG_TYPE, PREDEFINED_ROLES, REGTYPE_TEXT
from veil.pgcatalog.identifiers import parse_ident, quote_ident
from veil.pgcatalog.schema import (
    NAMED_REG_TYPES,
    RELATIONS,
    CatalogRelation,
    all_relations,
)
from veil.pgcatalog.typemap import type_by_spelling
from veil.pgfields import user_type
from veil.pgtypes import BY_OID, PgType, format_type

#: PostgreSQL's bootstrap superuser (the initdb user, OID 10, ``postgres`` by convention): the
#: owner of every built-in object, as in PostgreSQL.
BOOTSTRAP_ROLE = "postgres"
BOOTSTRAP_ROLE_OID = 10
#: The role owning what Veil serves: its database and the sources' schemas, tables and types.
OWNER_ROLE = "veil"
OWNER_ROLE_OID = stable_oid("role", OWNER_ROLE)
CATALOG_SCHEMAS = ("pg_catalog", "information_schema")
PG_CATALOG_OID = NAMESPACE_OIDS["pg_catalog"]
_OPRLEFT = [c.name for c in RELATIONS[("pg_catalog", "pg_operator")].columns].index("oprleft")
#: PostgreSQL 15's enum I/O functions (the static pg_proc leaves them out), for the enums' pg_type rows.
ENUM_IO = {"enum_in": 3506, "enum_out": 3507, "enum_recv": 3532, "enum_send": 3533}
_ENUM_IO_ARGS = {3506: (2275, 26), 3507: (3500,), 3532: (2281, 26), 3533: (3500,)}
_PROARGTYPES = [c.name for c in RELATIONS[("pg_catalog", "pg_proc")].columns].index("proargtypes")
_TYPELEM = [c.name for c in RELATIONS[("pg_catalog", "pg_type")].columns].index("typelem")


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []


@dataclass(frozen=True)
class Relation:
    """A row of pg_class: a user table or an emulated catalog relation."""

    oid: int
    schema: str
    name: str
    kind: str
    table: Table | None = None
    catalog: CatalogRelation | None = None

    @property
    def column_count(self) -> int:
        if self.table is not None:
            return len(self.table.columns)
        return len(self.catalog.columns) if self.catalog is not None else 0


def composite_relid(composite: PgType) -> int:
    """The OID of a source's composite type's pg_class row (its ``typrelid``)."""
    return stable_oid("typrelid", str(composite.oid))


@dataclass(frozen=True)
class TypeName:
    oid: int
    name: str
    schema: str
    text: str  # regtype output when visible (format_type spelling)




def _builtin_types() -> dict[int, TypeName]:
    """Every type of PostgreSQL 15's own catalog (base, pseudo, array, range, multirange and
    information_schema's domains), spelled as ``regtype`` prints it."""
    schemas = {oid: name for name, oid in NAMESPACE_OIDS.items()}
    rows = {int(str(row[0])): row for row in PG_TYPE}
    spelled = {int(str(oid)): str(text) for oid, text in REGTYPE_TEXT}  # pg_catalog's, from PostgreSQL
    types: dict[int, TypeName] = {}
    for oid, row in rows.items():
        name, element = str(row[1]), int(str(row[_TYPELEM]))
        if oid in spelled:
            text = spelled[oid]
        elif oid in BY_OID:
            text = format_type(oid)
        elif element and name.startswith("_") and element in rows:
            text = f"{rows[element][1]}[]"
        else:
            text = name
        types[oid] = TypeName(oid, name, schemas.get(int(str(row[2])), "pg_catalog"), text)
    return types


def _named_objects() -> dict[str, dict[str, int]]:
    """Name → OID of the static objects behind regoper (the first of an overloaded name),
    regoperator (``+(integer,integer)``), regcollation, regconfig and regdictionary."""
    sources = {
        "regoper": static_rows.PG_OPERATOR,
        "regcollation": static_rows.PG_COLLATION,
        "regconfig": static_rows.PG_TS_CONFIG,
        "regdictionary": static_rows.PG_TS_DICT,
    }
    named: dict[str, dict[str, int]] = {}
    for kind, rows in sources.items():
        names: dict[str, int] = {}
        for row in rows:
            names.setdefault(str(row[1]), int(str(row[0])))
        named[kind] = names
    types = _BUILTIN_TYPES
    named["regoperator"] = {
        _operator_signature(str(row[1]), int(str(row[_OPRLEFT])), int(str(row[_OPRLEFT + 1])), types):
        int(str(row[0]))
        for row in static_rows.PG_OPERATOR
    }
    return named


def _operator_signature(name: str, left: int, right: int, types: dict[int, TypeName]) -> str:
    """``regoperator`` output: ``+(integer,integer)``, ``-(NONE,integer)``."""
    spelled = [types[t].text if t in types else str(t) if t else "NONE" for t in (left, right)]
    return f"{name}({','.join(spelled)})"


@dataclass(frozen=True)
class _Procs:
    """The pg_proc rows' names, overloads and ``regprocedure`` spellings (static: built once)."""

    names: dict[int, str]
    regproc: dict[int, str]  # regproc output: an overloaded name is schema-qualified
    oids: dict[str, int]  # regproc input: the first overload of a name
    signatures: dict[tuple[str, tuple[int, ...]], int]  # regprocedure input ``abs(integer)``
    regprocedure: dict[int, str]  # regprocedure output


def _procs(types: dict[int, TypeName]) -> _Procs:
    """``regprocedure`` prints ``abs(integer)`` as ``format_procedure`` does: argument types
    comma-separated, the name unqualified (every function shown lives in ``pg_catalog``)."""
    names = {int(str(row[0])): str(row[1]) for row in PG_PROC}
    names.update({oid: name for name, oid in ENUM_IO.items()})
    oids: dict[str, int] = {}
    for oid, name in sorted(names.items()):
        oids.setdefault(name, oid)
    args = {int(str(row[0])): tuple(int(str(t)) for t in _listed(row[_PROARGTYPES])) for row in PG_PROC}
    args.update(_ENUM_IO_ARGS)
    spelled = {
        oid: f"{quote_ident(names[oid])}({','.join(types[t].text if t in types else str(t) for t in arg_types)})"
        for oid, arg_types in args.items()
    }
    # The name quoted as PostgreSQL's quote_identifier does (``"varchar"(name)``, ``"char"``).
    regproc = {**{oid: quote_ident(name) for oid, name in names.items()},
               **{int(str(oid)): str(text) for oid, text in REGPROC_TEXT}}
    return _Procs(names, regproc, oids, {(names[oid], a): oid for oid, a in args.items()}, spelled)


_BUILTIN_TYPES = _builtin_types()
_PROCS = _procs(_BUILTIN_TYPES)
NAMED_OBJECTS = _named_objects()
_BUILTIN_NAMESPACE_OWNERS = {str(row[1]): int(str(row[2])) for row in static_rows.PG_NAMESPACE}
OPERATOR_COUNTS = Counter(str(row[1]) for row in static_rows.PG_OPERATOR)


def _named_output() -> dict[str, dict[int, str]]:
    """OID → the text regoperout, regoperatorout, regcollationout, regconfigout and
    regdictionaryout print, for every static object (not only the first of a name): an
    overloaded operator name is qualified (``pg_catalog.+``), as PostgreSQL does when the bare
    name would not identify the operator."""
    output: dict[str, dict[int, str]] = {
        "regoper": {
            int(str(row[0])): name if OPERATOR_COUNTS[name] == 1 else f"pg_catalog.{name}"
            for row in static_rows.PG_OPERATOR
            for name in (str(row[1]),)
        },
        "regoperator": {oid: signature for signature, oid in NAMED_OBJECTS["regoperator"].items()},
    }
    for kind, rows in (("regcollation", static_rows.PG_COLLATION), ("regconfig", static_rows.PG_TS_CONFIG),
                       ("regdictionary", static_rows.PG_TS_DICT)):
        output[kind] = {int(str(row[0])): quote_ident(str(row[1])) for row in rows}
    return output


NAMED_OUTPUT = _named_output()


class CatalogObjects:
    """Everything one user may see, indexed by name and by OID."""

    def __init__(self, snapshot: CatalogSnapshot, database: str, users: Sequence[str]) -> None:
        self.database = database
        self.database_oid = stable_oid("database", database)
        self.tables = tuple(t for t in snapshot if t.schema not in CATALOG_SCHEMAS)
        self.namespaces: dict[str, int] = {
            "pg_catalog": PG_CATALOG_OID,
            "public": NAMESPACE_OIDS["public"],
            "information_schema": NAMESPACE_OIDS["information_schema"],
        }
        for table in self.tables:
            self.namespaces.setdefault(table.schema, stable_oid("schema", table.schema))
        # The enums and composite types of the columns this user sees (a source's other types
        # stay unseen).
        self.user_types: dict[int, PgType] = {}
        for table in self.tables:
            for column in table.columns:
                defined = user_type(column.pg_type.type)
                if defined is not None:
                    self.user_types.setdefault(defined.oid, defined)
                    self.namespaces.setdefault(defined.schema, stable_oid("schema", defined.schema))
        self.namespace_names = {oid: name for name, oid in self.namespaces.items()}
        self.users = frozenset(users)
        self.roles: dict[str, int] = {
            BOOTSTRAP_ROLE: BOOTSTRAP_ROLE_OID, OWNER_ROLE: OWNER_ROLE_OID, **PREDEFINED_ROLES
        }
        for user in users:
            self.roles.setdefault(user, stable_oid("role", user))
        self.role_names = {oid: name for name, oid in self.roles.items()}
        self.relations: dict[tuple[str, str], Relation] = {}
        for rel in all_relations():
            self._add(Relation(rel.oid, rel.schema, rel.name, rel.kind, catalog=rel))
        for table in self.tables:
            self._add(Relation(table.oid, table.schema, table.name, "r", table=table))
        self.relations_by_oid = {r.oid: r for r in self.relations.values()}
        self.types: dict[int, TypeName] = dict(_BUILTIN_TYPES)
        for table in self.tables:
            self.types[table.row_type_oid] = TypeName(
                table.row_type_oid, table.name, table.schema, quote_ident(table.name)
            )
        # A composite type's own pg_class row (relkind 'c'): visible to \\d and regclass, never a
        # relation a statement can read.
        self.composite_classes: dict[Relation, PgType] = {
            Relation(composite_relid(t), t.schema, t.name, "c"): t for t in self.user_types.values() if t.kind == "c"
        }
        for defined in self.user_types.values():
            spelled = quote_ident(defined.name)  # format_type's spelling: quoted where needed
            self.types[defined.oid] = TypeName(defined.oid, defined.name, defined.schema, spelled)
            if defined.array_oid:
                self.types[defined.array_oid] = TypeName(
                    defined.array_oid, "_" + defined.name, defined.schema, spelled + "[]"
                )
        self.procs = _PROCS.names
        self.proc_oids = _PROCS.oids
        self.proc_signatures = _PROCS.signatures

    def namespace_owner(self, name: str) -> int:
        """A schema's owner: PostgreSQL's for the built-in ones (``public`` is
        ``pg_database_owner``'s), Veil's for the sources'."""
        return _BUILTIN_NAMESPACE_OWNERS.get(name, OWNER_ROLE_OID)

    def _add(self, relation: Relation) -> None:
        self.relations[(relation.schema, relation.name)] = relation

    def search_path(self, search_path: Iterable[str], user: str) -> list[str]:
        """The schemas really searched: existing ones, ``$user`` expanded, and ``pg_catalog``
        first unless the path names it explicitly."""
        path: list[str] = []
        for schema in search_path:
            name = user if schema == "$user" else schema
            if name in self.namespaces and name not in path:
                path.append(name)
        if "pg_catalog" not in path:
            path.insert(0, "pg_catalog")
        return path

    def lookup_relation(self, parts: list[str], path: Sequence[str]) -> Relation | None:
        if len(parts) == 1:
            for schema in path:
                relation = self.relations.get((schema, parts[0]))
                if relation is not None:
                    return relation
            return None
        if len(parts) == 3 and parts[0] != self.database:
            return None
        return self.relations.get((parts[-2], parts[-1]))

    def relation_visible(self, relation: Relation, path: Sequence[str]) -> bool:
        return self.lookup_relation([relation.name], path) is relation

    def regclass_in(self, text: str, path: Sequence[str], *, strict: bool = True) -> int | None:
        if text.strip().isdigit():
            return int(text)
        parts = parse_ident(text)
        relation = self.lookup_relation(parts, path) if parts else None
        if relation is None and parts:  # a composite type's class: ``'pair'::regclass``
            schemas = path if len(parts) == 1 else parts[-2:-1]
            relation = next((c for schema in schemas for c in self.composite_classes
                             if (c.schema, c.name) == (schema, parts[-1])), None)
        if relation is None and strict:
            raise errcodes.UndefinedTable(f'relation "{text}" does not exist')
        return relation.oid if relation else None

    def regclass_out(self, oid: int, path: Sequence[str]) -> str:
        relation = self.relations_by_oid.get(oid)
        if relation is None:
            found = next((c for c in self.composite_classes if c.oid == oid), None)
            if found is None:
                return str(oid)
            return quote_ident(found.name) if found.schema in path else f"{quote_ident(found.schema)}.{quote_ident(found.name)}"
        if self.relation_visible(relation, path):
            return quote_ident(relation.name)
        return f"{quote_ident(relation.schema)}.{quote_ident(relation.name)}"

    def regtype_in(self, text: str, *, strict: bool = True, path: Sequence[str] | None = None) -> int | None:
        """``'name'::regtype``; with ``path``, an unqualified name is looked up in pg_catalog and the
        search path only (``to_regtype('cardinal_number')`` is NULL, as in PostgreSQL)."""
        if text.strip().isdigit():
            return int(text)
        pg_type = type_by_spelling(text)
        if pg_type is not None:
            return pg_type.oid
        if text.strip().endswith("[]"):  # an array of a source's enum or composite: ``mood[]``
            element = self.regtype_in(text.strip()[:-2], strict=False)
            defined = self.user_types.get(element) if element is not None else None
            if defined is not None and defined.array_oid:
                return defined.array_oid
        parts = parse_ident(text) or []
        if len(parts) == 1 and path is not None:
            schemas = ("pg_catalog", *path)
            found = [t for t in self.types.values() if t.name == parts[0] and t.schema in schemas]
            if found:
                return min(found, key=lambda t: schemas.index(t.schema)).oid
        else:
            for type_name in self.types.values():
                if parts and [type_name.schema, type_name.name][-len(parts) :] == parts:
                    return type_name.oid
        if strict:
            raise errcodes.UndefinedObject(f'type "{text}" does not exist')
        return None

    def regtype_out(self, oid: int, path: Sequence[str]) -> str:
        type_name = self.types.get(oid)
        if type_name is None:
            return str(oid)
        if type_name.schema == "pg_catalog" or type_name.schema in path:
            return type_name.text
        # format_type's spelling, qualified (an array's is its element's name and ``[]``).
        return f"{quote_ident(type_name.schema)}.{type_name.text}"

    def regproc_in(self, text: str, *, strict: bool = True) -> int | None:
        if text.strip().isdigit():
            return int(text)
        parts = parse_ident(text) or []
        oid = self.proc_oids.get(parts[-1]) if parts else None
        if oid is None and strict:
            raise errcodes.UndefinedFunction(f'function "{text}" does not exist')
        return oid

    def regprocedure_in(self, text: str, *, strict: bool = True) -> int | None:
        """``'abs(integer)'::regprocedure``: the overload whose argument types are those named."""
        name, paren, rest = text.partition("(")
        if not paren or text.strip().isdigit():
            return self.regproc_in(name, strict=strict)
        args = [a.strip() for a in rest.strip().removesuffix(")").split(",") if a.strip()]
        types = tuple(self.regtype_in(a, strict=strict) or 0 for a in args)
        parts = parse_ident(name) or []
        oid = self.proc_signatures.get((parts[-1], types)) if parts else None
        if oid is None and strict:
            raise errcodes.UndefinedFunction(f"function {text} does not exist")
        return oid

    def regproc_out(self, oid: int) -> str:
        return _PROCS.regproc.get(oid, "-" if oid == 0 else str(oid))

    def regprocedure_out(self, oid: int) -> str:
        return _PROCS.regprocedure.get(oid, "-" if oid == 0 else str(oid))

    def regnamespace_in(self, text: str, *, strict: bool = True) -> int | None:
        if text.strip().isdigit():
            return int(text)
        parts = parse_ident(text) or []
        oid = self.namespaces.get(parts[0]) if len(parts) == 1 else None
        if oid is None and strict:
            raise errcodes.InvalidSchemaName(f'schema "{text}" does not exist')
        return oid

    def regnamespace_out(self, oid: int) -> str:
        name = self.namespace_names.get(oid)
        return quote_ident(name) if name else str(oid)

    def regrole_in(self, text: str, *, strict: bool = True) -> int | None:
        if text.strip().isdigit():
            return int(text)
        parts = parse_ident(text) or []
        oid = self.roles.get(parts[0]) if len(parts) == 1 else None
        if oid is None and strict:
            raise errcodes.UndefinedObject(f'role "{text}" does not exist')
        return oid

    def regrole_out(self, oid: int) -> str:
        name = self.role_names.get(oid)
        return quote_ident(name) if name else str(oid)

    def reg_in(self, kind: str, text: str, path: Sequence[str], *, strict: bool) -> int | None:
        """``'text'::<kind>`` for a ``reg*`` kind (``regclass``, ``regtype``...)."""
        if kind == "regclass":
            return self.regclass_in(text, path, strict=strict)
        if kind == "regtype":
            return self.regtype_in(text, strict=strict, path=path)
        if kind == "regprocedure":
            return self.regprocedure_in(text, strict=strict)
        if kind == "regproc":
            return self.regproc_in(text.split("(")[0], strict=strict)
        if kind == "regnamespace":
            return self.regnamespace_in(text, strict=strict)
        if kind == "regrole":
            return self.regrole_in(text, strict=strict)
        if kind in NAMED_REG_TYPES:
            return self.named_in(kind, text, strict=strict)
        raise errcodes.FeatureNotSupported(f"type {kind} is not supported")

    def named_in(self, kind: str, text: str, *, strict: bool = True) -> int | None:
        """regoper, regoperator (``+(integer,integer)``), regcollation, regconfig,
        regdictionary: a schema-qualified or bare name, or an OID."""
        if text.strip().isdigit():
            return int(text)
        if kind == "regoperator":
            oid = NAMED_OBJECTS[kind].get(self._operator_key(text))
        elif kind == "regoper":
            name = text.strip().rsplit(".", 1)[-1]
            if OPERATOR_COUNTS[name] > 1:
                raise errcodes.AmbiguousFunction(f"more than one operator named {name}")
            oid = NAMED_OBJECTS[kind].get(name)
        else:
            parts = parse_ident(text)
            oid = NAMED_OBJECTS[kind].get(parts[-1]) if parts else None
        if oid is None and strict:
            state, message = NAMED_REG_TYPES[kind]
            raise VeilError(state, message.format(text))
        return oid

    def _operator_key(self, text: str) -> str:
        """``pg_catalog.+ ( int4, int4 )`` → ``+(integer,integer)``."""
        name, _, rest = text.partition("(")
        args = [a.strip() for a in rest.rstrip().removesuffix(")").split(",")] if rest else []
        oids = [0 if a.upper() == "NONE" else self.regtype_in(a, strict=False) or -1 for a in args]
        if len(oids) != 2:
            return text
        return _operator_signature(name.strip().rsplit(".", 1)[-1], oids[0], oids[1], self.types)

    def reg_out(self, kind: str, oid: int, path: Sequence[str]) -> str:
        """``<kind>::text``: the object's name as PostgreSQL prints it (``-`` for OID 0)."""
        if oid == 0:
            return "0" if kind.startswith("regoper") else "-"
        if kind == "regclass":
            return self.regclass_out(oid, path)
        if kind == "regtype":
            return self.regtype_out(oid, path)
        if kind == "regproc":
            return self.regproc_out(oid)
        if kind == "regprocedure":
            return self.regprocedure_out(oid)
        if kind == "regnamespace":
            return self.regnamespace_out(oid)
        if kind == "regrole":
            return self.regrole_out(oid)
        return NAMED_OUTPUT.get(kind, {}).get(oid, str(oid))
