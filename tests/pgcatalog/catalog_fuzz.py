"""A seeded generator of catalog SELECTs in the style clients write, restricted to built-in
objects (so a fresh PostgreSQL 15 database and Veil must answer alike), and a structural shrinker.

A :class:`Query` is a source (FROM clause over one family of catalog relations, with the
restriction that keeps it to built-ins Veil serves as PostgreSQL does), projected expressions
(each tagged with the feature it exercises, so a mismatching column names its class), extra
predicates, an optional GROUP BY / DISTINCT ON / ORDER BY / LIMIT and an optional wrapper
(CTE, subquery, UNION ALL). :func:`shrink` drops parts while the mismatch's class persists.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field

#: Built-in functions whose pg_proc rows (every overload) Veil serves as PostgreSQL does.
PROC_NAMES = (
    "abs", "array_agg", "array_in", "array_length", "array_to_string", "avg", "btrim", "concat", "count",
    "current_schemas", "date_trunc", "format", "format_type", "generate_series", "has_table_privilege",
    "int4eq", "int4in", "int4pl", "json_agg", "jsonb_build_object", "lag", "left", "length", "lower", "max",
    "md5", "min", "now", "obj_description", "pg_get_expr", "pg_get_function_arguments", "pg_table_is_visible",
    "position", "quote_ident", "quote_literal", "rank", "regexp_match", "regexp_replace", "replace", "right",
    "round", "row_number", "split_part", "starts_with", "string_agg", "strpos", "substr", "sum", "textcat",
    "textlen", "to_regtype", "translate", "trunc", "unnest", "upper",
)
TYPE_NAMES = (
    "int4", "int8", "text", "varchar", "bpchar", "numeric", "bool", "oid", "regclass", "regtype", "name",
    "timestamptz", "timestamp", "interval", "bit", "varbit", "time", "timetz", "float8", "_int4", "_text",
    "json", "jsonb", "uuid", "bytea", "char", "oidvector", "int2vector", "aclitem", "record", "anyarray",
    "cstring", "void", "trigger", "int4range", "tsvector", "cardinal_number", "sql_identifier",
)
TYPMODS = ("NULL", "-1", "0", "5", "10", "65540", "393222", "1", "6", "7")


@dataclass(frozen=True)
class Col:
    """A projected expression: its SQL, the feature it exercises and its kind (text, oid, ...)."""

    sql: str
    tag: str
    kind: str = "text"


@dataclass(frozen=True)
class Source:
    """A FROM clause kept to built-ins, its unique ordering key and the columns it offers."""

    name: str
    sql: str
    where: str
    key: tuple[str, ...]
    cols: tuple[Col, ...]


@dataclass
class Query:
    source: Source
    cols: list[Col]
    preds: list[str] = field(default_factory=list)
    group: bool = False
    distinct_on: bool = False
    order: bool = False
    limit: str = ""
    wrap: str = ""

    def render(self) -> str:
        cols = self.cols or [Col("1", "one", "int")]
        where = " AND ".join([self.source.where, *self.preds])
        body = ""
        if self.group:
            keys = [c for c in cols if c.kind in ("text", "char", "oid", "int", "bool")][:2] or [cols[0]]
            select = [*(f"{c.sql} AS {_alias(c, i)}" for i, c in enumerate(keys)), "count(*) AS n",
                      f"string_agg(({self.source.key[0]})::text, ',' ORDER BY {self.source.key[0]}) AS agg"]
            body = (f"SELECT {', '.join(select)} FROM {self.source.sql} WHERE {where}"
                    f" GROUP BY {', '.join(c.sql for c in keys)}")
            if self.order:
                body += " ORDER BY " + ", ".join(_ordering(c) for c in keys)
        else:
            distinct = ""
            order = [*(k for k in self.source.key)]
            if self._distinct:
                distinct = f"DISTINCT ON ({_ordering(cols[0])}) "
                order = [_ordering(cols[0]), *order]
            select = ", ".join(f"{c.sql} AS {_alias(c, i)}" for i, c in enumerate(cols))
            body = f"SELECT {distinct}{select} FROM {self.source.sql} WHERE {where}"
            if self.order or distinct or self.limit:
                body += " ORDER BY " + ", ".join(order)
        if self.limit and not self.group:
            body += f" {self.limit}"
        return _wrap(body, self.wrap)

    @property
    def _distinct(self) -> bool:
        return self.distinct_on and bool(self.cols) and self.cols[0].kind in ("text", "char", "oid", "int", "bool")

    @property
    def ordered(self) -> bool:
        """The rows' order is fixed by the statement (a total ORDER BY on the outside)."""
        return (self.order or self._distinct or bool(self.limit)) and not self.group and self.wrap in ("", "cte")


def _alias(col: Col, index: int) -> str:
    return f"c{index}_{col.tag.replace('-', '_')}"


def _ordering(col: Col) -> str:
    return f'{col.sql} COLLATE "C"' if col.kind == "text" else col.sql


def _wrap(body: str, wrap: str) -> str:
    if wrap == "cte":
        return f"WITH q AS ({body}) SELECT * FROM q"
    if wrap == "sub":
        return f"SELECT s.* FROM ({body}) s"
    if wrap == "union":
        return f"{body} UNION ALL {body}"
    if wrap == "exists":
        return f"SELECT EXISTS ({body}) AS e, (SELECT count(*) FROM ({body}) x) AS n"
    return body


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _name_cols(expr: str, tag: str) -> tuple[Col, ...]:
    """String functions clients apply to a name column."""
    return (
        Col(expr, tag), Col(f"{expr}::text", f"{tag}-text"), Col(f"quote_ident({expr})", "quote_ident"),
        Col(f"format('%I.%L', {expr}, {expr})", "format"), Col(f"upper({expr})", "upper"),
        Col(f"regexp_replace({expr}, '_', '-', 'g')", "regexp_replace"),
        Col(f"(regexp_match({expr}, '^([a-z]+)_(.*)$'))[2]", "regexp_match"),
        Col(f"split_part({expr}, '_', 2)", "split_part"), Col(f"left({expr}, 3)", "left"),
        Col(f"right({expr}, 2)", "right"), Col(f"position('_' in {expr})", "position", "int"),
        Col(f"length({expr})", "length", "int"), Col(f"COALESCE(NULLIF({expr}, ''), '-')", "coalesce"),
        Col(f"{expr} || '!'", "concat-op"), Col(f"substr({expr}, 2, 4)", "substr"),
        Col(f"translate({expr}, 'aeiou', 'AEIOU')", "translate"), Col(f"md5({expr})", "md5"),
        Col(f"starts_with({expr}, 'pg')", "starts_with", "bool"), Col(f"{expr} ~ '^pg_'", "regex-op", "bool"),
        Col(f"{expr} LIKE '%\\_%'", "like", "bool"),
    )


def _type_source() -> Source:
    cols = (
        Col("t.oid", "oid", "oid"), Col("t.typname", "typname"), Col("n.nspname", "nspname"),
        Col("t.typtype::text", "char-text", "char"), Col("t.typcategory", "char-col", "char"),
        Col("CASE t.typtype WHEN 'b' THEN 'base' WHEN 'c' THEN 'composite' WHEN 'd' THEN 'domain'"
            " WHEN 'p' THEN 'pseudo' WHEN 'r' THEN 'range' ELSE 'other' END", "case-char"),
        Col("format_type(t.oid, NULL)", "format_type"), Col("format_type(t.oid, t.typtypmod)", "format_type"),
        Col("t.oid::regtype", "regtype", "reg"), Col("t.oid::regtype::text", "regtype-text"),
        Col("to_regtype(t.typname)::oid", "to_regtype", "oid"), Col("t.typinput::text", "regproc-text"),
        Col("t.typoutput", "regproc", "reg"), Col("t.typelem::regtype::text", "regtype-text"),
        Col("t.typarray", "oid", "oid"), Col("t.typlen", "int", "int"), Col("t.typbyval", "bool", "bool"),
        Col("t.typdelim", "char-col", "char"), Col("t.typnotnull", "bool", "bool"),
        Col("t.typbasetype::regtype::text", "regtype-text"), Col("t.typcollation", "oid", "oid"),
        Col("obj_description(t.oid, 'pg_type')", "obj_description"),
        Col("pg_type_is_visible(t.oid)", "visible", "bool"),
        Col("has_type_privilege(t.oid, 'USAGE')", "has_privilege", "bool"),
        Col("(SELECT count(*) FROM pg_cast c WHERE c.castsource = t.oid)", "scalar-sub", "int"),
        Col("EXISTS (SELECT 1 FROM pg_type e WHERE e.typelem = t.oid AND e.typlen = -1)", "exists", "bool"),
        Col("t.typacl", "aclitem", "acl"), Col("t.typdefault", "nullable"),
        *_name_cols("t.typname", "typname"),
    )
    return Source("type", "pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace", "t.oid < 16384",
                  ("t.oid",), cols)


def _type_using_source() -> Source:
    cols = (Col("typname", "typname"), Col("nspname", "nspname"), Col("typnamespace", "oid", "oid"),
            Col("format_type(t.oid, NULL)", "format_type"))
    return Source("type-using", "(SELECT oid AS typnamespace, nspname FROM pg_namespace) n"
                  " JOIN pg_type t USING (typnamespace)", "t.oid < 16384", ("t.oid",), cols)


def _proc_source() -> Source:
    cols = (
        Col("p.oid", "oid", "oid"), Col("p.proname", "proname"), Col("p.prokind", "char-col", "char"),
        Col("p.prokind::text", "char-text", "char"), Col("p.provolatile", "char-col", "char"),
        Col("CASE p.prokind WHEN 'a' THEN 'agg' WHEN 'w' THEN 'window' ELSE 'func' END", "case-char"),
        Col("p.oid::regproc::text", "regproc-text"), Col("p.oid::regprocedure::text", "regprocedure-text"),
        Col("p.oid::regprocedure", "regprocedure", "reg"), Col("p.prorettype::regtype::text", "regtype-text"),
        Col("format_type(p.prorettype, NULL)", "format_type"),
        Col("pg_get_function_arguments(p.oid)", "pg_get_function_arguments"),
        Col("pg_get_function_identity_arguments(p.oid)", "pg_get_function_identity_arguments"),
        Col("pg_get_function_result(p.oid)", "pg_get_function_result"),
        Col("p.proargtypes", "oidvector", "vector"), Col("p.proargtypes::text", "oidvector-text"),
        Col("p.proargtypes[0]", "subscript0", "oid"), Col("array_length(p.proargtypes, 1)", "array_length", "int"),
        Col("array_to_string(p.proargtypes, ',')", "array_to_string"),
        Col("array_to_string(p.proargtypes::regtype[], ', ')", "regtype-array"),
        Col("'23'::oid = ANY (p.proargtypes)", "any", "bool"), Col("p.proargtypes::oid[] @> '{25}'::oid[]", "contains", "bool"),
        Col("(SELECT string_agg(format_type(a, NULL), ', ' ORDER BY o) FROM unnest(p.proargtypes)"
            " WITH ORDINALITY u(a, o))", "unnest"),
        Col("p.proargnames", "text-array", "array"), Col("p.pronargs", "int", "int"),
        Col("p.proretset", "bool", "bool"), Col("p.proisstrict", "bool", "bool"),
        Col("obj_description(p.oid, 'pg_proc')", "obj_description"),
        Col("has_function_privilege(p.oid, 'EXECUTE')", "has_privilege", "bool"),
        Col("pg_function_is_visible(p.oid)", "visible", "bool"), Col("p.prolang::regproc", "oid-as-regproc", "reg"),
        Col("l.lanname", "lanname"), Col("p.proacl", "aclitem", "acl"),
        *_name_cols("p.proname", "proname"),
    )
    return Source("proc", "pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                  " LEFT JOIN pg_language l ON l.oid = p.prolang",
                  f"p.proname IN ({_quoted(PROC_NAMES)})", ("p.oid",), cols)


def _operator_source() -> Source:
    cols = (
        Col("o.oid", "oid", "oid"), Col("o.oprname", "oprname"), Col("o.oprkind::text", "char-text", "char"),
        Col("o.oprcode::text", "regproc-text"), Col("o.oprcode", "regproc", "reg"),
        Col("o.oprcode::regprocedure::text", "regprocedure-text"), Col("o.oprrest::text", "oprrest"),
        Col("o.oprleft::regtype::text", "regtype-text"), Col("format_type(o.oprright, NULL)", "format_type"),
        Col("COALESCE(l.typname, '-')", "coalesce"), Col("o.oid::regoperator::text", "regoperator-text"),
        Col("o.oid::regoper::text", "regoper-text"), Col("o.oprcom::regoperator::text", "regoperator-text"),
        Col("obj_description(o.oid, 'pg_operator')", "obj_description"), Col("o.oprcanhash", "bool", "bool"),
        Col("o.oprresult", "oid", "oid"), *_name_cols("o.oprname", "oprname")[:6],
    )
    return Source("operator", "pg_operator o LEFT JOIN pg_type l ON l.oid = o.oprleft", "o.oid < 16384",
                  ("o.oid",), cols)


def _class_source() -> Source:
    cols = (
        Col("c.oid", "oid", "oid"), Col("c.relname", "relname"), Col("n.nspname", "nspname"),
        Col("c.relkind", "char-col", "char"), Col("c.relkind::text", "char-text", "char"),
        Col("CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' ELSE 'other' END", "case-char"),
        Col("c.oid::regclass", "regclass", "reg"), Col("c.oid::regclass::text", "regclass-text"),
        Col("c.relnatts", "int", "int"), Col("c.relacl", "aclitem", "acl"),
        Col("array_to_string(c.relacl, ',')", "acl-array_to_string"),
        Col("cardinality(c.relacl)", "acl-cardinality", "int"),
        Col("(SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(c.relacl) x)", "acl-unnest"),
        Col("c.relacl[1]::text", "acl-subscript"), Col("c.reltype", "reltype", "oid"),
        Col("c.relisshared", "relisshared", "bool"), Col("c.relhasindex", "relhasindex", "bool"),
        Col("has_table_privilege(c.oid, 'SELECT')", "has_privilege", "bool"),
        Col("has_table_privilege(current_user, c.oid, 'UPDATE')", "has_privilege", "bool"),
        Col("pg_table_is_visible(c.oid)", "visible", "bool"),
        Col("obj_description(c.oid, 'pg_class')", "obj_description"), Col("c.relnamespace::regnamespace::text",
                                                                          "regnamespace-text"),
        Col("(SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0)", "scalar-sub", "int"),
        Col("to_regclass(n.nspname || '.' || c.relname)::oid", "to_regclass", "oid"),
        *_name_cols("c.relname", "relname"),
    )
    return Source("class", "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
                  "c.oid < 16384 AND c.relkind IN ('r', 'v')", ("c.oid",), cols)


def _attribute_source() -> Source:
    cols = (
        Col("c.relname", "relname"), Col("a.attname", "attname"), Col("a.attnum", "int", "int"),
        Col("a.atttypid::regtype::text", "atttypid"), Col("format_type(a.atttypid, a.atttypmod)", "format_type"),
        Col("a.attnotnull", "attnotnull", "bool"), Col("a.attlen", "int", "int"), Col("a.attstorage", "char-col", "char"),
        Col("col_description(a.attrelid, a.attnum)", "col_description"),
        Col("has_column_privilege(c.oid, a.attnum, 'SELECT')", "has_column_privilege", "bool"),
        Col("a.attcollation", "attcollation", "oid"), Col("a.atthasdef", "bool", "bool"), Col("t.typname", "typname"),
        Col("CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END", "case-char", "oid"),
        *_name_cols("a.attname", "attname")[:8],
    )
    return Source("attribute", "pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                  " LEFT JOIN pg_type t ON t.oid = a.atttypid",
                  "c.oid < 16384 AND c.relkind IN ('r', 'v') AND a.attnum > 0", ("c.oid", "a.attnum"), cols)


def _cast_source() -> Source:
    cols = (
        Col("ca.oid", "oid", "oid"), Col("ca.castsource::regtype::text", "regtype-text"),
        Col("ca.casttarget::regtype", "regtype", "reg"), Col("ca.castfunc::regprocedure::text", "regprocedure-text"),
        Col("ca.castcontext::text", "char-text", "char"), Col("ca.castmethod", "char-col", "char"),
        Col("CASE ca.castcontext WHEN 'e' THEN 'explicit' WHEN 'a' THEN 'assignment' ELSE 'implicit' END",
            "case-char"), Col("s.typname", "typname"), Col("format_type(d.oid, NULL)", "format_type"),
        Col("NULLIF(ca.castfunc, 0)", "nullif", "oid"),
    )
    return Source("cast", "pg_cast ca JOIN pg_type s ON s.oid = ca.castsource JOIN pg_type d ON d.oid = ca.casttarget",
                  "ca.oid < 16384", ("ca.oid",), cols)


def _am_source() -> Source:
    cols = (
        Col("am.oid", "oid", "oid"), Col("am.amname", "amname"), Col("am.amtype::text", "char-text", "char"),
        Col("am.amhandler::text", "regproc-text"), Col("am.amhandler", "regproc", "reg"),
        Col("oc.opcname", "opcname"), Col("oc.opcintype::regtype::text", "regtype-text"),
        Col("oc.opcdefault", "bool", "bool"), Col("obj_description(am.oid, 'pg_am')", "obj_description"),
        Col("f.opfname", "opfname"),
    )
    return Source("am", "pg_am am LEFT JOIN pg_opclass oc ON oc.opcmethod = am.oid"
                  " LEFT JOIN pg_opfamily f ON f.oid = oc.opcfamily",
                  "am.oid < 16384", ("am.oid", "oc.oid"), cols)


def _description_source() -> Source:
    cols = (
        Col("d.objoid", "oid", "oid"), Col("d.description", "description"), Col("d.objsubid", "int", "int"),
        Col("d.classoid::regclass::text", "regclass-text"), Col("COALESCE(t.typname, o.oprname, am.amname)", "coalesce"),
        Col("left(d.description, 10)", "left"),
    )
    return Source("description", "pg_description d LEFT JOIN pg_type t ON d.classoid = 'pg_type'::regclass"
                  " AND t.oid = d.objoid LEFT JOIN pg_operator o ON d.classoid = 'pg_operator'::regclass"
                  " AND o.oid = d.objoid LEFT JOIN pg_am am ON d.classoid = 'pg_am'::regclass AND am.oid = d.objoid",
                  "d.objoid < 16384 AND d.classoid IN ('pg_type'::regclass, 'pg_operator'::regclass,"
                  " 'pg_am'::regclass)", ("d.classoid", "d.objoid", "d.objsubid"), cols)


def _infoschema_sources() -> tuple[Source, ...]:
    columns = Source(
        "is-columns", "information_schema.columns ic", "ic.table_schema = 'pg_catalog'",
        ("ic.table_name", "ic.ordinal_position"),
        (Col("ic.table_name", "is-table_name"), Col("ic.column_name", "is-column_name"), Col("ic.ordinal_position", "is-ordinal_position", "int"),
         Col("ic.data_type", "is-data_type"), Col("ic.udt_name", "is-udt_name"), Col("ic.is_nullable", "is-is_nullable"),
         Col("ic.character_maximum_length", "is-character_maximum_length", "int"), Col("ic.column_default", "is-column_default"),
         Col("ic.collation_name", "is-collation_name"), Col("ic.dtd_identifier", "is-dtd_identifier")),
    )
    tables = Source(
        "is-tables", "information_schema.tables it", "it.table_schema IN ('pg_catalog', 'information_schema')",
        ("it.table_schema", "it.table_name"),
        (Col("it.table_name", "is-table_name"), Col("it.table_type", "is-table_type"), Col("it.table_schema", "is-table_schema"),
         Col("it.is_insertable_into", "is-is_insertable_into"), Col("it.table_catalog IS NOT NULL", "is-bool", "bool")),
    )
    routines = Source(
        "is-routines", "information_schema.routines r LEFT JOIN information_schema.parameters pa"
        " ON pa.specific_name = r.specific_name",
        f"r.routine_schema = 'pg_catalog' AND r.routine_name IN ({_quoted(PROC_NAMES[:20])})",
        ("r.specific_name", "pa.ordinal_position"),
        (Col("r.routine_name", "is-routine_name"), Col("r.data_type", "is-data_type"), Col("r.routine_type", "is-routine_type"),
         Col("pa.parameter_name", "is-parameter_name"), Col("pa.data_type", "is-data_type"),
         Col("pa.parameter_mode", "is-parameter_mode"), Col("r.type_udt_name", "is-type_udt_name"), Col("r.is_deterministic", "is-is_deterministic")),
    )
    keys = Source(
        "is-keys", "information_schema.key_column_usage k", "k.table_schema = 'pg_catalog'",
        ("k.constraint_name", "k.ordinal_position"),
        (Col("k.constraint_name", "is-constraint_name"), Col("k.column_name", "is-column_name"), Col("k.ordinal_position", "is-ordinal_position", "int")),
    )
    return columns, tables, routines, keys


SOURCES: tuple[Source, ...] = (
    _type_source(), _type_using_source(), _proc_source(), _operator_source(), _class_source(),
    _attribute_source(), _cast_source(), _am_source(), _description_source(), *_infoschema_sources(),
)

PREDICATES: dict[str, tuple[str, ...]] = {
    "type": ("t.typtype = 'b'", "t.typname LIKE '_int%'", "n.nspname = 'pg_catalog'", "t.typelem <> 0",
             "t.typcategory IN ('N', 'S')", f"t.typname IN ({_quoted(TYPE_NAMES)})", "t.typlen > 0",
             "t.typname ~ '^reg'", "t.oid IN (SELECT castsource FROM pg_cast)", "t.typrelid = 0"),
    "type-using": ("nspname = 'information_schema'", "typname LIKE 'pg_%'"),
    "proc": ("p.prokind = 'f'", "p.pronargs = 1", "p.proretset", "p.proname LIKE '%a%'",
             "p.prorettype = 'text'::regtype", "25 = ANY (p.proargtypes)", "NOT p.proisstrict"),
    "operator": ("o.oprname = '='", "o.oprkind = 'l'", "o.oprleft = 'int4'::regtype", "o.oprname IN ('+', '-', '||')",
                 "o.oprresult = 'bool'::regtype", "o.oprcom <> 0"),
    "class": ("c.relkind = 'v'", "n.nspname = 'information_schema'", "c.relname LIKE 'pg_stat%'",
              "c.relacl IS NOT NULL", "c.relnatts > 10", "c.relname IN ('pg_class', 'pg_type', 'pg_proc', 'columns')"),
    "attribute": ("c.relname IN ('pg_class', 'pg_type', 'pg_proc', 'pg_attribute')", "a.attname LIKE '%name%'",
                  "c.relname = 'columns'", "a.atttypid = 'oid'::regtype", "t.typcategory = 'A'"),
    "cast": ("ca.castcontext = 'i'", "ca.castmethod = 'b'", "s.typname IN ('int4', 'text', 'varchar', 'bool')",
             "ca.castfunc <> 0"),
    "am": ("am.amtype = 'i'", "am.amname IN ('btree', 'hash')", "oc.opcdefault"),
    "description": ("d.description LIKE '%integer%'", "d.classoid = 'pg_am'::regclass", "t.typtype = 'b'"),
    "is-columns": ("ic.table_name IN ('pg_class', 'pg_type', 'pg_am', 'pg_cast')", "ic.data_type = 'ARRAY'",
                   "ic.table_name = 'pg_settings'"),
    "is-tables": ("it.table_type = 'VIEW'", "it.table_name LIKE '%col%'"),
    "is-routines": ("r.routine_name IN ('abs', 'length', 'lower')", "pa.parameter_mode IS NOT NULL"),
    "is-keys": ("k.ordinal_position = 1",),
}

SCALARS: tuple[Col, ...] = (
    Col("current_schemas(true)", "current_schemas", "array"), Col("current_schemas(false)", "current_schemas", "array"),
    Col("pg_my_temp_schema()", "pg_my_temp_schema", "oid"), Col("version() LIKE 'PostgreSQL 15.%'", "version", "bool"),
    Col("'1 2 3'::int2vector", "int2vector", "vector"), Col("('1 2 3'::int2vector)[1]", "int2vector-subscript", "int"),
    Col("'23 25'::oidvector", "oidvector", "vector"), Col("array_length('23 25'::oidvector, 1)", "array_length", "int"),
    Col("'{=r/postgres}'::aclitem[]", "aclitem", "acl"), Col("'pg_class'::regclass::oid", "regclass", "oid"),
    Col("'int4'::regtype", "regtype", "reg"), Col("'abs(integer)'::regprocedure::oid", "regprocedure", "oid"),
    Col("'now'::regproc::oid", "regproc", "oid"), Col("to_regtype('no_such_type')", "to_regtype", "oid"),
    Col("format_type('numeric'::regtype, 393222)", "format_type"), Col("format_type('varchar'::regtype, 14)", "format_type"),
    Col("format_type('bit'::regtype, 3)", "format_type"), Col("format_type('timestamptz'::regtype, 3)", "format_type"),
    Col("format_type(0, NULL)", "format_type"), Col("format_type(99999, NULL)", "format_type"),
    Col("quote_ident('Mixed Case')", "quote_ident"), Col("quote_ident('select')", "quote_ident"),
    Col("pg_get_expr(NULL, 0)", "pg_get_expr"), Col("has_schema_privilege('pg_catalog', 'USAGE')", "has_privilege", "bool"),
    Col("has_database_privilege(current_database(), 'CONNECT')", "has_privilege", "bool"),
    Col("obj_description('pg_catalog'::regnamespace, 'pg_namespace')", "obj_description"),
    Col("'pg_catalog'::regnamespace::oid", "regnamespace", "oid"), Col("array_to_string(ARRAY[1, NULL, 3], ',', '*')",
                                                                       "array_to_string"),
)


def _scalar_query(rng: random.Random) -> str:
    cols = rng.sample(SCALARS, rng.randint(1, 4))
    return "SELECT " + ", ".join(f"{c.sql} AS {_alias(c, i)}" for i, c in enumerate(cols))


RECURSIVE = (
    "WITH RECURSIVE chain(oid, name, depth) AS (SELECT t.oid, t.typname::text, 0 FROM pg_type t"
    " WHERE t.typname = '{name}' UNION ALL SELECT e.oid, e.typname::text, c.depth + 1 FROM chain c"
    " JOIN pg_type e ON e.oid = (SELECT typelem FROM pg_type WHERE oid = c.oid) WHERE c.depth < 5)"
    " SELECT oid, name, depth FROM chain ORDER BY depth",
    "WITH RECURSIVE inh(relid, depth) AS (SELECT c.oid, 0 FROM pg_class c WHERE c.relname = '{rel}'"
    " AND c.relnamespace = 'pg_catalog'::regnamespace UNION ALL SELECT i.inhrelid, inh.depth + 1 FROM inh"
    " JOIN pg_inherits i ON i.inhparent = inh.relid) SELECT relid::regclass::text, depth FROM inh ORDER BY 2, 1",
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {k})"
    " SELECT i, (SELECT p.proargtypes[i] FROM pg_proc p WHERE p.oid = 'concat_ws'::regproc::oid) FROM n ORDER BY i",
)


def _recursive_query(rng: random.Random) -> str:
    template = rng.choice(RECURSIVE)
    return template.format(name=rng.choice(("_int4", "_text", "int2vector", "oidvector", "_aclitem", "int4")),
                           rel=rng.choice(("pg_class", "pg_type", "pg_statistic")), k=rng.randint(0, 3))


def random_query(rng: random.Random) -> Query:
    source = rng.choice(SOURCES)
    cols = rng.sample(source.cols, min(len(source.cols), rng.randint(1, 4)))
    preds = rng.sample(PREDICATES[source.name], rng.randint(0, min(2, len(PREDICATES[source.name]))))
    query = Query(source, cols, preds)
    roll = rng.random()
    query.group = roll < 0.15
    query.distinct_on = 0.15 <= roll < 0.25
    query.order = rng.random() < 0.5
    if rng.random() < 0.25:
        query.limit = rng.choice(("LIMIT 5", "LIMIT 3 OFFSET 2", "LIMIT 1", "OFFSET 10 LIMIT 4"))
    query.wrap = rng.choice(("", "", "", "", "cte", "sub", "union", "exists"))
    return query


def generate(seed: int, count: int) -> list[Query | str]:
    """``count`` statements, the same for the same seed."""
    rng = random.Random(seed)
    out: list[Query | str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.08:
            out.append(_scalar_query(rng))
        elif roll < 0.12:
            out.append(_recursive_query(rng))
        else:
            out.append(random_query(rng))
    return out


def shrink(query: Query, same_class: Callable[[Query], bool]) -> Query:
    """The smallest variant of ``query`` (fewer columns, predicates, clauses) still in the class."""
    changed = True
    while changed:
        changed = False
        for candidate in _smaller(query):
            if same_class(candidate):
                query, changed = candidate, True
                break
    return query


def _smaller(query: Query) -> list[Query]:
    out = []
    if query.wrap:
        out.append(dataclasses.replace(query, wrap=""))
    for flag in ("group", "distinct_on", "order"):
        if getattr(query, flag):
            out.append(dataclasses.replace(query, **{flag: False}))
    if query.limit:
        out.append(dataclasses.replace(query, limit=""))
    for i in range(len(query.cols)):
        if len(query.cols) > 1:
            out.append(dataclasses.replace(query, cols=query.cols[:i] + query.cols[i + 1 :]))
    for i in range(len(query.preds)):
        out.append(dataclasses.replace(query, preds=query.preds[:i] + query.preds[i + 1 :]))
    return out
