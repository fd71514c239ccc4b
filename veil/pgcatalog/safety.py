"""What the local engine refuses: anything but a query, and any function outside its list.

Checked twice: on the client's statement (so the error names what the client wrote) and on the
rewritten DuckDB statement just before it runs (defence in depth — only Veil's macros, the
built-ins it emits itself and sqlglot's standard SQL functions may remain). The DuckDB
connection itself runs with external access disabled and its configuration locked.
"""

from __future__ import annotations

from sqlglot import exp

from veil import errcodes
from veil.errors import (
    FeatureNotSupported,
    InsufficientPrivilege,
    ReadOnlyViolation,
)
from veil.pgcatalog.functions import PASSTHROUGH, denied
from veil.pgcatalog.schema import FUNCTION_SCHEMA
from veil.pgcatalog.tochar import EMITTED as TO_CHAR_BUILTINS
from veil.pgcatalog.tochar_numeric import EMITTED as NUMBER_TO_CHAR_BUILTINS
from veil.policy import allowlist

_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
           exp.Copy, exp.Into, exp.LoadData, exp.TruncateTable)
_NOT_QUERIES = (exp.Command, exp.Set, exp.Pragma, exp.Use, exp.Transaction, exp.Commit,
                exp.Rollback, exp.Describe, exp.Show)
_DENIED_CLASSES = (exp.ReadCSV, exp.ReadParquet, exp.NextValueFor, exp.ToFile, exp.Secret)

# Built-ins the rewriter itself emits, besides PASSTHROUGH.
EMITTED_BUILTINS = frozenset(
    {"len", "left", "generate_series", "list_transform", "list_extract", "range", "json_object", "to_json",
     "regexp_matches", "map", "struct_extract", "struct_insert", "error", "list_concat", "list_append",
     "list_prepend", "list_bool_and", "concat", "regexp_full_match", "split_part", "strpos",
     "substr", "string_agg", "veil_numeric_variance", "veil_numeric_div", "round_even", "strlen",
     "array_to_string", "regexp_extract"}
) | TO_CHAR_BUILTINS | NUMBER_TO_CHAR_BUILTINS


def check_statement(statement: exp.Expr) -> None:
    if isinstance(statement, _WRITES):
        raise ReadOnlyViolation(f"cannot execute {statement.key.upper()} in Veil")
    if not isinstance(statement, exp.Query | exp.Values):
        raise FeatureNotSupported(f"statement {statement.key.upper()} is not supported here")
    for node in statement.walk():
        if isinstance(node, _WRITES):
            raise ReadOnlyViolation(f"cannot execute {node.key.upper()} in Veil")
        if isinstance(node, _NOT_QUERIES):
            raise FeatureNotSupported(f"{node.key.upper()} is not supported inside a query")
        if isinstance(node, _DENIED_CLASSES):
            raise InsufficientPrivilege(f"permission denied for function {node.sql_name().lower()}")
        if isinstance(node, exp.Placeholder):
            raise errcodes.SyntaxError("syntax error: use $1, $2, ... for parameters")
        if isinstance(node, exp.Anonymous) and denied(node.name):
            raise InsufficientPrivilege(f"permission denied for function {node.name.lower()}")


def check_output(statement: exp.Expr) -> None:
    """The compiled DuckDB statement may call only what Veil put there, and only functions
    DuckDB's reviewed allow-list allows (besides Veil's own macros)."""
    allowlist.check_functions(statement, "duckdb", frozenset({FUNCTION_SCHEMA}))
    for node in statement.walk():
        if isinstance(node, (*_DENIED_CLASSES, *_WRITES, *_NOT_QUERIES)):
            raise InsufficientPrivilege(f"permission denied for {node.key}")
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            parent = node.parent
            qualified = (
                isinstance(parent, exp.Dot)
                and parent.expression is node
                and isinstance(parent.this, exp.Identifier)
                and parent.this.name == FUNCTION_SCHEMA
            )
            if not qualified and name not in EMITTED_BUILTINS and name not in PASSTHROUGH:
                raise InsufficientPrivilege(f"permission denied for function {name}")
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            schema = node.db
            if schema and not schema.startswith("veil_"):
                raise InsufficientPrivilege(f"permission denied for relation {node.sql()}")
