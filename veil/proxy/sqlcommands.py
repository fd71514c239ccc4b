"""SQL commands that act on protocol-level objects: DEALLOCATE, DISCARD ALL and CLOSE.

In PostgreSQL, prepared statements made by a Parse message and those of SQL ``PREPARE`` share
one namespace, and so do protocol portals and SQL cursors. The engine answers these commands
(it has no protocol objects); the proxy, which owns statements and portals, applies their
effect. psqlODBC, for one, Parses ``_PLAN0x...`` and later sends ``DEALLOCATE "_PLAN0x..."``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
