"""Parsers for the client captures in tests/clients/logs/: PostgreSQL statement logs and `psql -E` output.

A log (``log_statement=all``, ``log_line_prefix='app=%a '``) looks like::

    app=NAME LOG:  execute <unnamed>: SELECT ... $1
    <TAB>continuation line
    app=NAME DETAIL:  parameters: $1 = 'x', $2 = NULL
    app=NAME LOG:  statement: BEGIN

``execute fetch from P: SQL`` lines are further Execute messages on an open portal, not new
statements, so they are not replayed. ``psql -E`` captures are either ``=== psql \\cmd`` headers with
``----``-separated queries, or ``/******** QUERY *********/ ... /************************/`` blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Protocol = Literal["simple", "extended"]

_PREFIX = re.compile(r"^(?:app=(?P<app>\S*) )?(?P<level>[A-Z]+):  (?P<message>.*)$")
_EXECUTE = re.compile(r"^execute (?P<fetch>fetch from )?(?P<name>[^:]*): ?(?P<sql>.*)$", re.DOTALL)
_STATEMENT = re.compile(r"^statement: ?(?P<sql>.*)$", re.DOTALL)
_PARAMETER = re.compile(r"\$(?P<n>\d+) = (?:(?P<null>NULL)|'(?P<value>(?:[^']|'')*)')")
_PSQL_BLOCK = re.compile(r"/\*{8} QUERY \*{9}/\n(?P<sql>.*?)\n/\*{24}/", re.DOTALL)


@dataclass
class Statement:
    """One statement a client sent, as it was sent."""

    source: str  # "file:line"
    app: str
    sql: str
    protocol: Protocol
    params: list[str | None] = field(default_factory=list)
    name: str = ""  # prepared statement name; "" for the unnamed statement and simple queries

    def placeholders(self) -> int:
        numbers = [int(n) for n in re.findall(r"\$(\d+)", strip_literals(self.sql))]
        return max(numbers, default=0)


@dataclass
class _Entry:
    line: int
    app: str
    level: str
    text: str


def _entries(text: str) -> list[_Entry]:
    entries: list[_Entry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("\t") and entries:
            entries[-1].text += "\n" + line[1:]
            continue
        match = _PREFIX.match(line)
        if match:
            entries.append(_Entry(number, match["app"] or "", match["level"], match["message"]))
        elif line.strip():
            raise ValueError(f"line {number}: unrecognised log line {line!r}")
    return entries


def parse_parameters(detail: str) -> list[str | None]:
    """``parameters: $1 = 'a''b', $2 = NULL`` -> ["a'b", None], in $n order."""
    found = {int(m["n"]): None if m["null"] else m["value"].replace("''", "'") for m in _PARAMETER.finditer(detail)}
    return [found[n] for n in range(1, max(found, default=0) + 1)]


def parse_log(path: Path) -> list[Statement]:
    statements: list[Statement] = []
    for entry in _entries(path.read_text(encoding="utf-8")):
        where = f"{path.name}:{entry.line}"
        if entry.level == "DETAIL" and entry.text.startswith("parameters:"):
            if not statements or statements[-1].protocol != "extended":
                raise ValueError(f"{where}: parameters without a preceding execute")
            statements[-1].params = parse_parameters(entry.text)
            continue
        if entry.level != "LOG":
            continue
        if match := _EXECUTE.match(entry.text):
            if not match["fetch"]:
                name = match["name"].split("/")[0]  # "<unnamed>/C_2": statement / portal
                name = "" if name == "<unnamed>" else name
                statements.append(Statement(where, entry.app, match["sql"], "extended", name=name))
        elif match := _STATEMENT.match(entry.text):
            statements.append(Statement(where, entry.app, match["sql"], "simple"))
    return statements


def parse_psql_echo(path: Path) -> list[Statement]:
    """Queries psql printed with -E; psql sends each one as a simple Query."""
    text = path.read_text(encoding="utf-8")
    blocks = [m["sql"] for m in _PSQL_BLOCK.finditer(text)]
    if not blocks:
        current: list[str] = []
        for line in [*text.splitlines(), "----"]:
            if line.startswith("=== ") or line.strip() == "----":
                blocks.append("\n".join(current))
                current = []
            else:
                current.append(line)
    return [
        Statement(f"{path.name}#{index}", "psql", sql.strip(), "simple")
        for index, sql in enumerate(block for block in blocks if block.strip())
    ]


def strip_literals(sql: str) -> str:
    """The SQL with string literals, quoted identifiers, dollar quotes and comments blanked out."""
    return re.sub(
        r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$|--[^\n]*|/\*.*?\*/",
        " ",
        sql,
        flags=re.DOTALL,
    )


def statement_count(sql: str) -> int:
    """How many statements a query string holds (semicolons outside literals and comments)."""
    return sum(1 for part in strip_literals(sql).split(";") if part.strip())
