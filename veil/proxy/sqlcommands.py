"""SQL commands that act on protocol-level objects: DEALLOCATE, DISCARD ALL and CLOSE.

In PostgreSQL, prepared statements made by a Parse message and those of SQL ``PREPARE`` share
one namespace, and so do protocol portals and SQL cursors. The engine answers these commands
(it has no protocol objects); the proxy, which owns statements and portals, applies their
effect. psqlODBC, for one, Parses ``_PLAN0x...`` and later sends ``DEALLOCATE "_PLAN0x..."``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from veil import errcodes
from veil.api import PreparedStatement
from veil.proxy.portal import Portal

_DEALLOCATE = re.compile(r'^\s*DEALLOCATE\s+(?:PREPARE\s+)?("(?:[^"]|"")+"|[^\s;]+)', re.IGNORECASE)
_CLOSE = re.compile(r'^\s*CLOSE\s+("(?:[^"]|"")+"|[^\s;]+)', re.IGNORECASE)
_VERBS = ("DEALLOCATE", "DISCARD ALL", "CLOSE")


@dataclass(frozen=True)
class ProtocolEffect:
    """What a command does to the connection's statements and portals (``"*"``: all)."""

    statement: str | None = None
    portal: str | None = None


def _identifier(token: str) -> str:
    """PostgreSQL identifier rules: quoted names are exact, others fold to lower case."""
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token.lower()


def protocol_effect(command: str, sql: str) -> ProtocolEffect | None:
    """The effect of the statement whose command tag is ``command``, if it has one."""
    if not command.startswith(_VERBS):
        return None
    if command == "DISCARD ALL":
        return ProtocolEffect(statement="*", portal="*")
    pattern = _DEALLOCATE if command.startswith("DEALLOCATE") else _CLOSE
    match = pattern.match(sql)
    if match is None:
        return None
    token = match.group(1)
    name = "*" if token.upper() == "ALL" else _identifier(token)
    if pattern is _DEALLOCATE:
        return ProtocolEffect(statement=name)
    return ProtocolEffect(portal=name)


def check_effect(
    effect: ProtocolEffect, statements: Collection[str], portals: Collection[str]
) -> None:
    """DEALLOCATE and CLOSE of a name that does not exist fail before running."""
    if effect.statement not in (None, "*") and effect.statement not in statements:
        raise errcodes.InvalidSqlStatementName(f'prepared statement "{effect.statement}" does not exist')
    if effect.portal not in (None, "*") and effect.portal not in portals:
        raise errcodes.InvalidCursorName(f'cursor "{effect.portal}" does not exist')


async def apply_effect(
    effect: ProtocolEffect,
    statements: dict[str, PreparedStatement],
    portals: dict[str, Portal],
    active: Portal | None,
) -> None:
    """Drop the statements and close the portals the command names (never the running one).

    ``DEALLOCATE ALL`` keeps the unnamed statement, as in PostgreSQL.
    """
    if effect.statement == "*":
        for name in [name for name in statements if name]:
            del statements[name]
    elif effect.statement is not None:
        statements.pop(effect.statement, None)
    if effect.portal is not None:
        for name in list(portals) if effect.portal == "*" else [effect.portal]:
            portal = portals.get(name)
            if portal is not None and portal is not active:
                del portals[name]
                await portal.close()
