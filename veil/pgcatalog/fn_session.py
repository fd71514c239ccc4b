"""Session and system information functions: version(), current_user, current_setting()..."""

from __future__ import annotations

import itertools
import re

from sqlglot import exp

from veil import errcodes
from veil.pgcatalog import sqlbuild
from veil.pgcatalog.casts import string_literal
from veil.pgcatalog.functions import REGISTRY, Call

_xids = itertools.count(1000)
add = REGISTRY.add


@add("version", 0, "text")
def _version(call: Call) -> exp.Expr:
    return sqlbuild.string(call.env.ctx.version_string)


@add("current_database", 0, "name")
def _current_database(call: Call) -> exp.Expr:
    return sqlbuild.string(call.env.objects.database)


REGISTRY.add("current_catalog", 0, "name")(_current_database)


@add("current_user", 0, "name")
def _current_user(call: Call) -> exp.Expr:
    return sqlbuild.string(call.env.ctx.user)


for _alias in ("session_user", "user", "current_role", "getpgusername"):
    REGISTRY.add(_alias, 0, "name")(_current_user)


@add("current_schema", 0, "name")
def _current_schema(call: Call) -> exp.Expr:
    schemas = call.env.current_schemas
    return sqlbuild.string(schemas[0]) if schemas else sqlbuild.null("VARCHAR")


@add("current_schemas", 1, "_name", params=("bool",))
def _current_schemas(call: Call) -> exp.Expr:
    implicit = sqlbuild.string_list(call.env.path)
    explicit = sqlbuild.string_list(call.env.current_schemas)
    flag = call.args[0]
    if isinstance(flag, exp.Cast) and isinstance(flag.this, exp.Boolean):
        flag = flag.this
    if isinstance(flag, exp.Boolean):
        return implicit if flag.this else explicit
    return exp.Case(ifs=[exp.If(this=flag, true=implicit)], default=explicit)


@add("current_setting", (1, 2), "text", params=("text", "bool"))
def _current_setting(call: Call) -> exp.Expr:
    name = string_literal(call.args[0])
    missing_ok = len(call.args) > 1 and _is_true(call.args[1])
    if name is not None:
        value = call.env.ctx.setting(name)
        if value is None and name.lower() == "search_path":
            value = ", ".join(call.env.ctx.search_path)
        if value is None and not missing_ok:
            raise errcodes.UndefinedObject(f'unrecognized configuration parameter "{name}"')
        return sqlbuild.string(value) if value is not None else sqlbuild.null("VARCHAR")
    overrides = call.env.settings_overrides()
    overrides.setdefault("search_path", ", ".join(call.env.ctx.search_path))
    mapping = sqlbuild.builtin(
        "map",
        sqlbuild.string_list(overrides.keys()),
        sqlbuild.string_list(overrides.values()),
    )
    flag = call.args[1] if len(call.args) > 1 else sqlbuild.boolean(False)
    return sqlbuild.veil_fn("current_setting", call.args[0], flag, mapping)


def _is_true(node: exp.Expr) -> bool:
    if isinstance(node, exp.Cast):
        node = node.this
    return isinstance(node, exp.Boolean) and bool(node.this)


@add("set_config", 3, "text", params=("text", "text", "bool"))
def _set_config(call: Call) -> exp.Expr:
    return sqlbuild.cast(call.args[1], "VARCHAR")


@add("pg_backend_pid", 0, "int4")
def _backend_pid(call: Call) -> exp.Expr:
    return sqlbuild.typed_literal(call.env.ctx.backend_pid, "INTEGER")


@add("pg_is_in_recovery", 0, "bool")
def _in_recovery(call: Call) -> exp.Expr:
    return sqlbuild.boolean(False)


@add("txid_current", 0, "int8")
def _txid_current(call: Call) -> exp.Expr:
    return sqlbuild.typed_literal(next(_xids), "BIGINT")


REGISTRY.add("pg_current_xact_id", 0, "int8")(_txid_current)
REGISTRY.add("txid_current_if_assigned", 0, "int8")(_txid_current)


def _void(call: Call) -> exp.Expr:
    return sqlbuild.string("")


for _name, _arity in (("pg_advisory_unlock_all", 0), ("pg_advisory_lock", (1, 2)),
                      ("pg_advisory_xact_lock", (1, 2))):
    REGISTRY.add(_name, _arity, "void")(_void)


def _true(call: Call) -> exp.Expr:
    return sqlbuild.boolean(True)


for _name in ("pg_advisory_unlock", "pg_try_advisory_lock", "pg_try_advisory_xact_lock"):
    REGISTRY.add(_name, (1, 2), "bool")(_true)


@add("now", 0, "timestamptz")
def _now(call: Call) -> exp.Expr:
    return exp.CurrentTimestamp()


for _alias in ("transaction_timestamp", "statement_timestamp", "clock_timestamp"):
    REGISTRY.add(_alias, 0, "timestamptz")(_now)


@add("pg_postmaster_start_time", 0, "timestamptz")
def _start_time(call: Call) -> exp.Expr:
    return sqlbuild.cast(sqlbuild.string(call.env.started.isoformat()), "TIMESTAMPTZ")


REGISTRY.add("pg_conf_load_time", 0, "timestamptz")(_start_time)


def _null_inet(call: Call) -> exp.Expr:
    return sqlbuild.null("VARCHAR")


REGISTRY.add("inet_server_addr", 0, "inet")(_null_inet)
REGISTRY.add("inet_client_addr", 0, "inet")(_null_inet)


def _null_port(call: Call) -> exp.Expr:
    return sqlbuild.null("INTEGER")


REGISTRY.add("inet_server_port", 0, "int4")(_null_port)
REGISTRY.add("inet_client_port", 0, "int4")(_null_port)


@add("pg_client_encoding", 0, "name")
def _client_encoding(call: Call) -> exp.Expr:
    return sqlbuild.string("UTF8")


REGISTRY.add("getdatabaseencoding", 0, "name")(_client_encoding)


@add("pg_encoding_to_char", 1, "name", params=("int4",))
def _encoding_to_char(call: Call) -> exp.Expr:
    return sqlbuild.veil_fn("pg_encoding_to_char", *call.args)


@add("pg_char_to_encoding", 1, "int4", params=("name",))
def _char_to_encoding(call: Call) -> exp.Expr:
    return sqlbuild.veil_fn("pg_char_to_encoding", *call.args)


@add("pg_typeof", 1, "regtype", params=("any",))
def _pg_typeof(call: Call) -> exp.Expr:
    arg_type = call.types[0]
    oid = arg_type.oid if arg_type is not None else 25
    if arg_type is not None and arg_type.type.name == "unknown":
        oid = 705
    return sqlbuild.typed_literal(oid, "UINTEGER")


_FORMAT = re.compile(r"%(?:(\d+)\$)?([-]?\d*)([sIL%])")


@add("format", tuple(range(1, 101)), "text", params=("text",))
def _format(call: Call) -> exp.Expr:
    """format(fmt, ...): %s, %I (quote_ident), %L (quote_nullable), %%, and %n$ positions."""
    template = string_literal(call.args[0])
    if template is None:
        raise errcodes.FeatureNotSupported("format() needs a constant format string")
    args = call.args[1:]
    parts: list[exp.Expr] = []
    position, next_arg = 0, 0
    for match in _FORMAT.finditer(template):
        if match.start() > position:
            parts.append(sqlbuild.string(template[position : match.start()]))
        position = match.end()
        explicit, _width, kind = match.groups()
        if kind == "%":
            parts.append(sqlbuild.string("%"))
            continue
        index = int(explicit) - 1 if explicit else next_arg
        next_arg = index + 1
        if index >= len(args):
            raise errcodes.InvalidParameterValue("too few arguments for format()")
        value: exp.Expr = sqlbuild.cast(args[index], "VARCHAR")
        if kind == "I":
            value = sqlbuild.veil_fn("quote_ident", value)
        elif kind == "L":
            value = exp.Coalesce(
                this=sqlbuild.veil_fn("quote_literal", value), expressions=[sqlbuild.string("NULL")]
            )
        parts.append(value)
    if position < len(template):
        parts.append(sqlbuild.string(template[position:]))
    return sqlbuild.builtin("concat", *parts) if parts else sqlbuild.string("")
