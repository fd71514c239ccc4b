"""What a cursor, COPY or PREPARE/EXECUTE statement asks for, read from PostgreSQL's parse tree.

Pure functions from pglast nodes to small frozen dataclasses; the session acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pglast import ast

from veil import errcodes, pgtypes
from veil.errors import FeatureNotSupported, SqlSyntaxError
from veil.sql import pgsql

# parsenodes.h: DeclareCursorStmt.options bits
_CURSOR_BINARY = 0x0001
_CURSOR_SCROLL = 0x0002
_CURSOR_NO_SCROLL = 0x0004
_CURSOR_HOLD = 0x0020
FETCH_ALL = 9223372036854775807  # LONG_MAX: FETCH ALL / FORWARD ALL / BACKWARD ALL


@dataclass(frozen=True, slots=True)
class CursorSpec:
    """``DECLARE name [BINARY] [[NO] SCROLL] CURSOR [WITH HOLD] FOR query``."""

    name: str
    scroll: bool
    hold: bool
    binary: bool


@dataclass(frozen=True, slots=True)
class FetchSpec:
    """``FETCH``/``MOVE``: ``direction`` is forward, backward, absolute or relative; ``count``
    is :data:`FETCH_ALL` for ALL. ``name`` None means ``CLOSE ALL`` (for CLOSE only)."""

    name: str | None
    direction: str
    count: int
    move: bool


@dataclass(frozen=True, slots=True)
class CopySpec:
    """``COPY (query) TO STDOUT`` / ``COPY table [(cols)] TO STDOUT`` and its options."""

    format: str = "text"
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'
    force_quote: tuple[str, ...] | None = None  # FORCE_QUOTE's columns; None: none, ("*",): all


@dataclass(frozen=True, slots=True)
class PrepareSpec:
    """``PREPARE name [(types)] AS query``: ``arg_oids`` are the declared types (0 = infer)."""

    name: str
    arg_oids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExecuteSpec:
    """``EXECUTE name [(args)]``: each argument as written (an expression's SQL text)."""

    name: str
    args: tuple[str, ...]


_T = TypeVar("_T")


def _given(value: _T | None, what: str) -> _T:
    """A part the grammar requires (pglast types every node field as optional)."""
    if value is None:
        raise SqlSyntaxError(f"syntax error: {what} missing")
    return value


def cursor_spec(node: ast.DeclareCursorStmt) -> CursorSpec:
    options = node.options or 0
    return CursorSpec(
        name=_given(node.portalname, "cursor name"),
        scroll=bool(options & _CURSOR_SCROLL) and not options & _CURSOR_NO_SCROLL,
        hold=bool(options & _CURSOR_HOLD),
        binary=bool(options & _CURSOR_BINARY),
    )


_DIRECTIONS = {0: "forward", 1: "backward", 2: "absolute", 3: "relative"}


def fetch_spec(node: ast.FetchStmt) -> FetchSpec:
    direction = _DIRECTIONS[int(_given(node.direction, "FETCH direction"))]
    count = int(_given(node.howMany, "FETCH count"))
    return FetchSpec(name=_given(node.portalname, "cursor name"), direction=direction, count=count, move=bool(node.ismove))


def type_oid(type_name: ast.TypeName) -> int:
    """The OID of a type as written in SQL (``int``, ``varchar(3)``, ``text[]``)."""
    names = [n.sval for n in type_name.names or ()]
    name = names[-1] if names else ""
    found = pgtypes.BY_NAME.get(_ALIASES.get(name, name))
    if found is None:
        raise errcodes.UndefinedObject(f'type "{".".join(names)}" does not exist')
    if type_name.arrayBounds:
        array = pgtypes.BY_OID.get(found.array_oid)
        if array is None:
            raise FeatureNotSupported(f"arrays of {name} are not supported")
        return array.oid
    return found.oid


_ALIASES = {"int": "int4", "integer": "int4", "smallint": "int2", "bigint": "int8", "real": "float4",
            "float": "float8", "double precision": "float8", "decimal": "numeric", "boolean": "bool",
            "character varying": "varchar", "character": "bpchar", "timestamp with time zone": "timestamptz"}


def prepare_spec(node: ast.PrepareStmt) -> PrepareSpec:
    return PrepareSpec(name=_given(node.name, "statement name"), arg_oids=tuple(type_oid(t) for t in node.argtypes or ()))


def execute_spec(sql: str, node: ast.ExecuteStmt) -> ExecuteSpec:
    """Arguments are cut from the text at the top-level commas inside ``EXECUTE name (...)``."""
    name = _given(node.name, "statement name")
    if not node.params:
        return ExecuteSpec(name, ())
    inner = pgsql.parenthesized(sql)
    if inner is None:
        raise SqlSyntaxError("syntax error in EXECUTE arguments")
    args: list[str] = []
    depth = 0
    start = 0
    for token in pgsql.scan(inner):
        if token.name in ("ASCII_40", "ASCII_91"):
            depth += 1
        elif token.name in ("ASCII_41", "ASCII_93"):
            depth -= 1
        elif token.name == "ASCII_44" and depth == 0:
            args.append(inner[start : token.start].strip())
            start = token.end
    args.append(inner[start:].strip())
    return ExecuteSpec(name, tuple(args))


def _copy_options(node: ast.CopyStmt) -> dict[str, str | bool | tuple[str, ...]]:
    options: dict[str, str | bool | tuple[str, ...]] = {}
    for option in node.options or ():
        arg = option.arg
        value: str | bool | tuple[str, ...] = True
        if isinstance(arg, ast.String) and arg.sval is not None:
            value = arg.sval
        elif isinstance(arg, ast.Integer):
            value = str(arg.ival)
        elif isinstance(arg, ast.Boolean):
            value = bool(arg.boolval)
        elif isinstance(arg, ast.A_Star):
            value = ("*",)
        elif isinstance(arg, tuple | list):
            value = tuple(str(getattr(item, "sval", item)) for item in arg)
        if option.defname in options:
            raise errcodes.SyntaxError("conflicting or redundant options")
        options[str(option.defname)] = value
    return options


def _one_byte(value: str, what: str) -> str:
    if len(value.encode()) != 1:
        raise errcodes.FeatureNotSupported(f"COPY {what} must be a single one-byte character")
    return value


def copy_spec(node: ast.CopyStmt) -> CopySpec:
    """The options of a COPY TO, checked as PostgreSQL's ProcessCopyOptions checks them."""
    options = _copy_options(node)
    fmt = str(options.get("format", "text")).lower()
    if fmt not in ("text", "csv", "binary"):
        raise errcodes.InvalidParameterValue(f'COPY format "{fmt}" not recognized')
    csv, binary = fmt == "csv", fmt == "binary"
    for name, what in (("delimiter", "DELIMITER"), ("null", "NULL")):
        if binary and name in options:
            raise errcodes.SyntaxError(f"cannot specify {what} in BINARY mode")
    for name, what in (("quote", "quote"), ("escape", "escape"), ("force_quote", "force quote")):
        if name in options and not csv:
            raise errcodes.FeatureNotSupported(f"COPY {what} available only in CSV mode")
    for name in ("force_not_null", "force_null"):
        if name in options:
            raise errcodes.FeatureNotSupported(f"COPY {name.replace('_', ' ')} only available using COPY FROM")
    header = options.get("header", False)
    header_on = header is True or str(header).lower() in ("true", "on", "1")
    if binary and header_on:
        raise errcodes.FeatureNotSupported("cannot specify HEADER in BINARY mode")
    delimiter = _one_byte(str(options.get("delimiter", "," if csv else "\t")), "delimiter")
    null = str(options.get("null", "" if csv else "\\N"))
    quote = _one_byte(str(options.get("quote", '"')), "quote")
    escape = _one_byte(str(options.get("escape", quote)), "escape")
    if csv and delimiter == quote:
        raise errcodes.InvalidParameterValue("COPY delimiter and quote must be different")
    if delimiter in null and not binary:
        raise errcodes.FeatureNotSupported("COPY delimiter must not appear in the NULL specification")
    forced = options.get("force_quote")
    force_quote = forced if isinstance(forced, tuple) else None
    return CopySpec(format=fmt, delimiter=delimiter, null=null, header=header_on, quote=quote, escape=escape,
                    force_quote=force_quote)
