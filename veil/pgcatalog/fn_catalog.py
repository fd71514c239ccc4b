"""Catalog information functions: format_type, pg_get_*, *_description, has_*_privilege, ..."""

from __future__ import annotations

import re

from sqlglot import exp

from veil import errcodes
from veil.pgcatalog import sqlbuild
from veil.pgcatalog.casts import is_string, reg_input, string_literal
from veil.pgcatalog.functions import REGISTRY, Call
from veil.pgcatalog.privileges import NOT_LISTED, UNREADABLE
from veil.pgcatalog.schema import RELATIONS
from veil.pgtypes import ColumnType

add = REGISTRY.add


def _macro(name: str, *, with_path: bool = False):
    def build(call: Call) -> exp.Expr:
        args = list(call.args)
        if with_path:
            args.append(call.env.path_literal())
        return sqlbuild.veil_fn(name, *args)

    return build


def _null_text(call: Call) -> exp.Expr:
    return sqlbuild.null("VARCHAR")


def _zero_bigint(call: Call) -> exp.Expr:
    return sqlbuild.typed_literal(0, "BIGINT")


add("pg_get_userbyid", 1, "name", params=("oid",))(_macro("pg_get_userbyid"))
add("format_type", 2, "text", params=("oid", "int4"))(_macro("format_type", with_path=True))
add("pg_table_is_visible", 1, "bool", params=("oid",))(
    _macro("pg_table_is_visible", with_path=True)
)
add("pg_type_is_visible", 1, "bool", params=("oid",))(_macro("pg_type_is_visible", with_path=True))
add("col_description", 2, "text", params=("oid", "int4"))(_macro("col_description"))
add("pg_relation_is_publishable", 1, "bool", params=("regclass",))(
    _macro("pg_relation_is_publishable")
)
add("quote_ident", 1, "text", params=("text",))(_macro("quote_ident"))
add("quote_literal", 1, "text", params=("any",))(_macro("quote_literal"))
add("parse_ident", (1, 2), "_text", params=("text", "bool"))(
    lambda call: sqlbuild.veil_fn("parse_ident", call.args[0])
)
add("pg_size_pretty", 1, "text", params=("int8",))(_macro("pg_size_pretty"))


@add("quote_nullable", 1, "text", params=("any",))
def _quote_nullable(call: Call) -> exp.Expr:
    return exp.Coalesce(
        this=sqlbuild.veil_fn("quote_literal", call.args[0]),
        expressions=[sqlbuild.string("NULL")],
    )


def _visible(call: Call) -> exp.Expr:
    return exp.Not(this=exp.Is(this=call.args[0], expression=exp.Null()))


for _kind in ("function", "collation", "opclass", "operator", "conversion", "opfamily",
              "statistics_obj", "ts_config", "ts_dict", "ts_parser", "ts_template"):
    add(f"pg_{_kind}_is_visible", 1, "bool", params=("oid",))(_visible)


@add("pg_get_expr", (2, 3), "text", params=("pg_node_tree", "oid", "bool"))
def _pg_get_expr(call: Call) -> exp.Expr:
    return sqlbuild.cast(call.args[0], "VARCHAR")


for _name, _arities, _params in (
    ("pg_get_viewdef", (1, 2), ("any", "bool")),
    ("pg_get_triggerdef", (1, 2), ("oid", "bool")),
    ("pg_get_ruledef", (1, 2), ("oid", "bool")),
    ("pg_get_partkeydef", 1, ("oid",)),
    ("pg_get_statisticsobjdef", 1, ("oid",)),
    ("pg_get_statisticsobjdef_columns", 1, ("oid",)),
    ("pg_get_serial_sequence", 2, ("text", "text")),
    ("pg_get_partition_constraintdef", 1, ("oid",)),
):
    add(_name, _arities, "text", params=_params)(_null_text)


@add("pg_get_constraintdef", (1, 2), "text", params=("oid", "bool"))
def _pg_get_constraintdef(call: Call) -> exp.Expr:
    """The definition; with ``pretty`` true, the pretty one where it differs (a CHECK)."""
    plain = sqlbuild.veil_fn("object_def", call.args[0], sqlbuild.number(0), call.env.path_literal())
    if len(call.args) < 2:
        return plain
    pretty = sqlbuild.veil_fn("object_def", call.args[0].copy(), sqlbuild.number(-1), call.env.path_literal())
    return exp.Case(
        ifs=[exp.If(this=call.args[1], true=exp.Coalesce(this=pretty, expressions=[plain.copy()]))],
        default=plain,
    )


@add("pg_get_indexdef", (1, 3), "text", params=("oid", "int4", "bool"))
def _pg_get_indexdef(call: Call) -> exp.Expr:
    """The whole definition (no column number, or 0), else the indexed column's name."""
    column = call.args[1] if len(call.args) > 1 else sqlbuild.number(0)
    return sqlbuild.veil_fn("object_def", call.args[0], column, call.env.path_literal())


# Texts PostgreSQL itself printed for the functions in pg_proc (see data/_generate.py); NULL
# for an OID that is not a function, as in PostgreSQL.
for _name in ("pg_get_function_arguments", "pg_get_function_identity_arguments",
              "pg_get_function_result", "pg_get_functiondef", "pg_get_function_sqlbody"):
    add(_name, 1, "text", params=("oid",))(_macro(_name))

# No temporary schemas and no indexes: PostgreSQL's answers for an OID that is neither.
add("pg_is_other_temp_schema", 1, "bool", params=("oid",))(
    lambda call: sqlbuild.typed_literal(False, "BOOLEAN")
)
add("pg_my_temp_schema", 0, "oid")(lambda call: sqlbuild.typed_literal(0, "UINTEGER"))
add("pg_index_column_has_property", 3, "bool", params=("regclass", "int4", "text"))(
    lambda call: sqlbuild.null("BOOLEAN")
)
add("pg_index_has_property", 2, "bool", params=("regclass", "text"))(
    lambda call: sqlbuild.null("BOOLEAN")
)
add("pg_indexam_has_property", 2, "bool", params=("oid", "text"))(_macro("pg_indexam_has_property"))


@add("pg_tablespace_location", 1, "text", params=("oid",))
def _tablespace_location(call: Call) -> exp.Expr:
    return sqlbuild.string("")


for _name in ("pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size"):
    add(_name, (1, 2), "int8", params=("regclass", "text"))(_zero_bigint)
for _name in ("pg_database_size", "pg_tablespace_size"):
    add(_name, 1, "int8", params=("any",))(_zero_bigint)
for _name in ("pg_stat_get_numscans", "pg_stat_get_tuples_returned", "pg_stat_get_tuples_fetched",
              "pg_stat_get_live_tuples", "pg_stat_get_dead_tuples", "pg_stat_get_blocks_fetched",
              "pg_stat_get_blocks_hit", "pg_stat_get_tuples_inserted",
              "pg_stat_get_tuples_updated", "pg_stat_get_tuples_deleted"):
    add(_name, 1, "int8", params=("oid",))(_zero_bigint)


@add("obj_description", (1, 2), "text", params=("oid", "name"))
def _obj_description(call: Call) -> exp.Expr:
    catalog: exp.Expr = sqlbuild.null("UINTEGER")
    if len(call.args) == 2:
        catalog = _catalog_oid(call, call.args[1])
    return sqlbuild.veil_fn("obj_description", call.args[0], catalog)


# pg_shdescription is empty: no database, role or tablespace comments in Veil.
add("shobj_description", 2, "text", params=("oid", "name"))(_null_text)


def _catalog_oid(call: Call, name: exp.Expr) -> exp.Expr:
    literal = string_literal(name)
    if literal is not None:
        relation = RELATIONS.get(("pg_catalog", literal))
        return sqlbuild.typed_literal(relation.oid if relation else 0, "UINTEGER")
    return reg_input(call.env, "regclass", name, strict=False)


def _to_reg(kind: str):
    def build(call: Call) -> exp.Expr:
        return reg_input(call.env, kind, call.args[0], strict=False)

    return build


for _kind in ("regtype", "regclass", "regproc", "regprocedure", "regnamespace", "regrole"):
    add(f"to_{_kind}", 1, _kind, params=("text",))(_to_reg(_kind))

# --- privileges --------------------------------------------------------------------------------

# What a Veil user holds on what it can see: it can read, never write.
_HELD = re.compile(r"\b(SELECT|USAGE|CONNECT|EXECUTE|MEMBER|REFERENCES)\b")
# Per privilege function: the built-in relations it answers false for whatever the privilege.
_DENIED_RELATIONS = {"table": UNREADABLE, "column": NOT_LISTED, "any_column": NOT_LISTED}

_OBJECT_KINDS = {
    "table": "regclass",
    "column": "regclass",
    "any_column": "regclass",
    "sequence": "regclass",
    "schema": "regnamespace",
    "function": "regproc",
    "type": "regtype",
    "role": "regrole",
}


def _privilege(kind: str, object_args: int):
    def build(call: Call) -> exp.Expr:
        args = call.args[len(call.args) - object_args - 1 :]
        obj, privilege = args[0], args[-1]
        obj = _object(call, kind, obj, call.types[len(call.args) - object_args - 1])
        literal = string_literal(privilege)
        if literal is not None:
            held: exp.Expr = sqlbuild.boolean(bool(_HELD.search(literal.upper())))
        else:
            pattern = sqlbuild.string(r"\b(SELECT|USAGE|CONNECT|EXECUTE|MEMBER|REFERENCES)\b")
            held = sqlbuild.builtin("regexp_matches", exp.Upper(this=privilege), pattern)
        ifs = [exp.If(this=exp.Is(this=obj, expression=exp.Null()), true=exp.Null())]
        denied = _DENIED_RELATIONS.get(kind)
        if denied:
            # A built-in relation whose ACL grants PUBLIC no read (pg_authid, pg_statistic...).
            oids = [sqlbuild.typed_literal(oid, "UINTEGER") for oid in sorted(denied)]
            ifs.append(exp.If(this=exp.In(this=obj.copy(), expressions=oids), true=sqlbuild.boolean(False)))
        return exp.Case(ifs=ifs, default=held)

    return build


def _object(call: Call, kind: str, obj: exp.Expr, obj_type: ColumnType | None) -> exp.Expr:
    if kind == "database":
        literal = string_literal(obj)
        if literal is not None and literal != call.env.objects.database:
            raise errcodes.InvalidCatalogName(f'database "{literal}" does not exist')
        return obj
    if is_string(obj_type) and kind in _OBJECT_KINDS:
        return reg_input(call.env, _OBJECT_KINDS[kind], obj, strict=True)
    return obj


for _kind, _extra in (("table", 0), ("schema", 0), ("database", 0), ("sequence", 0),
                      ("function", 0), ("type", 0), ("language", 0), ("tablespace", 0),
                      ("foreign_data_wrapper", 0), ("server", 0), ("any_column", 0),
                      ("column", 1)):
    _arity = 2 + _extra
    add(f"has_{_kind}_privilege", (_arity, _arity + 1), "bool", params=("any",) * (_arity + 1))(
        _privilege(_kind, 1 + _extra)
    )
add("pg_has_role", (2, 3), "bool", params=("any", "any", "text"))(_privilege("role", 1))
