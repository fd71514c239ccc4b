"""Catalog functions returning rows (psql's \\des+, \\dP, \\dx+ ...) and the describe helpers
pg_describe_object / oidvectortypes.

The columns a table function returns are declared in :data:`TABLE_FUNCTIONS` (the typer reads
them for ``SELECT * FROM f(...)``). Veil has no partitions, no LISTEN channels and no foreign
servers, so those functions return PostgreSQL's answer for such a catalog: no rows.
"""

from __future__ import annotations

from sqlglot import exp

from veil.pgcatalog import sqlbuild
from veil.pgcatalog.casts import reg_output, string_literal
from veil.pgcatalog.functions import REGISTRY, TABLE_FUNCTIONS, Call

add = REGISTRY.add

TABLE_FUNCTIONS.update({
    "pg_options_to_table": (("option_name", "text"), ("option_value", "text")),
    "pg_partition_tree": (("relid", "regclass"), ("parentrelid", "regclass"), ("isleaf", "bool"),
                          ("level", "int4")),
    "pg_partition_ancestors": (("relid", "regclass"),),
    "pg_listening_channels": (("pg_listening_channels", "text"),),
    "ts_token_type": (("tokid", "int4"), ("alias", "text"), ("description", "text")),
})
_DUCK = {"text": "VARCHAR", "regclass": "UINTEGER", "bool": "BOOLEAN", "int4": "INTEGER"}


def _no_rows(name: str):
    def build(call: Call) -> exp.Expr:
        columns = [sqlbuild.null(_DUCK[kind]).as_(column) for column, kind in TABLE_FUNCTIONS[name]]
        select = exp.select(*columns).where(sqlbuild.boolean(False))
        return select.subquery() if call.in_from else sqlbuild.null(_DUCK[TABLE_FUNCTIONS[name][0][1]])

    return build


add("pg_partition_tree", 1, "record", params=("regclass",), set_returning=True)(
    _no_rows("pg_partition_tree")
)
add("pg_partition_ancestors", 1, "record", params=("regclass",), set_returning=True)(
    _no_rows("pg_partition_ancestors")
)
add("pg_listening_channels", 0, "text", set_returning=True)(_no_rows("pg_listening_channels"))


@add("pg_options_to_table", 1, "record", params=("_text",), set_returning=True)
def _options_to_table(call: Call) -> exp.Expr:
    """``{a=1,b=2}`` → rows (a, 1), (b, 2)."""
    option = exp.column("vl__option", table="vl__options")
    name = sqlbuild.builtin("split_part", option, sqlbuild.string("="), sqlbuild.number(1))
    position = sqlbuild.builtin("strpos", option, sqlbuild.string("="))
    value = exp.Case(
        ifs=[exp.If(this=exp.EQ(this=position, expression=sqlbuild.number(0)),
                    true=sqlbuild.null("VARCHAR"))],
        default=sqlbuild.builtin("substr", option.copy(),
                                 exp.Add(this=position.copy(), expression=sqlbuild.number(1))),
    )
    options = exp.select(exp.Unnest(expressions=[call.args[0]]).as_("vl__option")).subquery("vl__options")
    select = exp.select(name.as_("option_name"), value.as_("option_value")).from_(options)
    return select.subquery() if call.in_from else sqlbuild.null("VARCHAR")


@add("ts_token_type", 1, "record", params=("any",), set_returning=True)
def _ts_token_type(call: Call) -> exp.Expr:
    """The token types of a text search parser, by OID or name (as PostgreSQL lists them)."""
    parser = call.args[0]
    literal = string_literal(parser)
    if (call.types[0] is not None and call.types[0].type.name == "oid") or (
        literal is not None and literal.strip().isdigit()
    ):
        oid: exp.Expr = sqlbuild.cast(parser, "UINTEGER")
    else:
        name = sqlbuild.cast(parser, "VARCHAR")
        oid = exp.select(exp.column("oid", table="vl__p")).from_(
            exp.table_("pg_ts_parser", db="veil_pg_catalog", alias="vl__p")
        ).where(exp.EQ(this=exp.column("prsname", table="vl__p"), expression=name)).subquery()
    columns = [exp.column(f"vl__{c}", table="vl__t").as_(c) for c, _ in TABLE_FUNCTIONS["ts_token_type"]]
    select = exp.select(*columns).from_(
        exp.table_("token_types", db="veil_fn", alias="vl__t")
    ).where(exp.EQ(this=exp.column("vl__parser", table="vl__t"), expression=oid)).order_by(
        exp.column("vl__tokid", table="vl__t")
    )
    return select.subquery() if call.in_from else sqlbuild.null("VARCHAR")


@add("oidvectortypes", 1, "text", params=("oidvector",))
def _oidvectortypes(call: Call) -> exp.Expr:
    """The argument types of a function as one string: ``integer, text``."""
    each = exp.column("vl__type", table="vl__types")
    names = exp.select(
        sqlbuild.builtin("string_agg", sqlbuild.veil_fn("format_type", each, sqlbuild.null("INTEGER"), call.env.path_literal()),
                         sqlbuild.string(", "))
    ).from_(exp.select(exp.Unnest(expressions=[call.args[0]]).as_("vl__type")).subquery("vl__types"))
    return exp.Coalesce(this=names.subquery(), expressions=[sqlbuild.string("")])


_DESCRIBED = {  # pg_describe_object: catalog OID → (word, reg* kind naming the object)
    1259: ("table", "regclass"),
    1255: ("function", "regprocedure"),
    1247: ("type", "regtype"),
    2615: ("schema", "regnamespace"),
    1260: ("role", "regrole"),
}


_LANGUAGE_CLASS = 2612  # pg_language: "language plpgsql"


@add("pg_describe_object", 3, "text", params=("oid", "oid", "int4"))
def _describe_object(call: Call) -> exp.Expr:
    classid, objid, subid = call.args
    branches = [
        exp.If(this=exp.EQ(this=classid.copy(), expression=sqlbuild.typed_literal(oid, "UINTEGER")),
               true=exp.DPipe(this=sqlbuild.string(f"{word} "),
                              expression=reg_output(call.env, kind, objid.copy()), safe=True))
        for oid, (word, kind) in _DESCRIBED.items()
    ]
    language = exp.select(exp.column("lanname", table="vl__l")).from_(
        exp.table_("pg_language", db="veil_pg_catalog", alias="vl__l")
    ).where(exp.EQ(this=exp.column("oid", table="vl__l"), expression=objid.copy()))
    branches.append(exp.If(
        this=exp.EQ(this=classid.copy(), expression=sqlbuild.typed_literal(_LANGUAGE_CLASS, "UINTEGER")),
        true=exp.DPipe(this=sqlbuild.string("language "), expression=language.subquery(), safe=True),
    ))
    known = exp.Case(ifs=branches, default=sqlbuild.null("VARCHAR"))
    attname = exp.select(exp.column("attname", table="vl__a")).from_(
        exp.table_("pg_attribute", db="veil_pg_catalog", alias="vl__a")
    ).where(exp.and_(
        exp.EQ(this=exp.column("attrelid", table="vl__a"), expression=objid.copy()),
        exp.EQ(this=exp.column("attnum", table="vl__a"), expression=subid.copy()),
    ))
    column = exp.DPipe(
        this=exp.DPipe(this=sqlbuild.string("column "), expression=attname.subquery(), safe=True),
        expression=exp.DPipe(this=sqlbuild.string(" of "), expression=known.copy(), safe=True),
        safe=True,
    )
    return exp.Case(
        ifs=[exp.If(this=exp.GT(this=subid, expression=sqlbuild.number(0)), true=column)],
        default=known,
    )
