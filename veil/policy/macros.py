"""Row-filter macros (``@username``, ``@attributeValuesContains('country', country)``...).

Macros are expanded into SQL before the condition is parsed. Every user-supplied value becomes
a properly quoted SQL literal built by sqlglot, so an attribute value can never inject SQL; a
user without the attribute gets an always-false predicate (sees no rows), never an error.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from veil import errcodes
from veil.policy.principals import User

_MACRO = re.compile(r"@([A-Za-z_]+)")


def _literal(value: str) -> str:
    return exp.Literal.string(value).sql("postgres")


def _in_list(column_sql: str, values: tuple[str, ...] | list[str]) -> str:
    if not values:
        return "FALSE"
    return f"({column_sql}) IN ({', '.join(_literal(v) for v in values)})"


def _split_arguments(text: str) -> list[str]:
    """Split macro arguments on top-level commas (quotes and parentheses respected)."""
    arguments: list[str] = []
    depth = 0
    current = ""
    quote: str | None = None
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = None
            continue
        if char in ("'", '"'):
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            arguments.append(current.strip())
            current = ""
            continue
        current += char
    if current.strip():
        arguments.append(current.strip())
    return arguments


def _string_argument(text: str, macro: str) -> str:
    try:
        node = sqlglot.parse_one(text, read="postgres")
    except sqlglot.errors.ParseError:
        node = None
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise errcodes.InvalidParameterValue(f"@{macro}: expected a quoted string argument, got {text}")
    return node.this


def _closing_paren(sql: str, start: int) -> int:
    depth = 0
    quote: str | None = None
    for index in range(start, len(sql)):
        char = sql[index]
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise errcodes.SyntaxError(f"unbalanced parentheses in policy condition: {sql}")


def expand_macros(sql: str, user: User) -> str:
    """Replace every ``@macro`` in a policy condition with SQL for this user."""
    result = ""
    position = 0
    while True:
        match = _MACRO.search(sql, position)
        if match is None:
            return result + sql[position:]
        result += sql[position : match.start()]
        name = match.group(1)
        arguments: list[str] = []
        end = match.end()
        if end < len(sql) and sql[end] == "(":
            close = _closing_paren(sql, end)
            arguments = _split_arguments(sql[end + 1 : close])
            end = close + 1
        result += _render(name, arguments, user)
        position = end


def _render(name: str, arguments: list[str], user: User) -> str:
    if name == "username":
        return _literal(user.name)
    if name == "groups":
        return "ARRAY[" + ", ".join(_literal(g) for g in sorted(user.groups)) + "]::TEXT[]"
    if name == "groupsContains" and len(arguments) == 1:
        return _in_list(arguments[0], sorted(user.groups))
    if name == "isInGroups" and arguments:
        wanted = {_string_argument(a, name) for a in arguments}
        return "TRUE" if wanted & user.groups else "FALSE"
    if name == "attribute" and len(arguments) == 1:
        values = user.attributes.get(_string_argument(arguments[0], name), ())
        return _literal(values[0]) if values else "CAST(NULL AS TEXT)"
    if name == "attributeValuesContains" and len(arguments) == 2:
        key = _string_argument(arguments[0], name)
        return _in_list(arguments[1], list(user.attributes.get(key, ())))
    if name == "hasAttribute" and len(arguments) == 2:
        key, value = (_string_argument(a, name) for a in arguments)
        return "TRUE" if value in user.attributes.get(key, ()) else "FALSE"
    raise errcodes.UndefinedFunction(f"unknown policy macro @{name} with {len(arguments)} argument(s)")
