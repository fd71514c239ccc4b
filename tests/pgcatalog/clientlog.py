"""Statements captured from real clients (``tests/clients/logs``): server logs with
``log_statement=all`` (``execute NAME: SQL`` / ``statement: SQL``, tab-indented continuation
lines, ``DETAIL:  parameters: $1 = '...'``) and psql's ``-E`` echo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[1] / "clients" / "logs"
_ENTRY = re.compile(r"^app=\S* (LOG|DETAIL):  (.*)$")
_STATEMENT = re.compile(r"(?:execute (?:fetch from )?[^:]*|statement): (.*)$")
_PARAM = re.compile(r"\$(\d+) = '((?:[^']|'')*)'")


@dataclass
class Captured:
    source: str
    sql: str
    params: list[str]

    @property
    def label(self) -> str:
        return f"{self.source}: {' '.join(self.sql.split())[:70]}"


def server_log(path: Path) -> list[Captured]:
    entries: list[Captured] = []
    for line in path.read_text().splitlines():
        match = _ENTRY.match(line)
        if match:
            kind, rest = match.groups()
            if kind == "LOG":
                statement = _STATEMENT.match(rest)
                if statement:
                    entries.append(Captured(path.name, statement.group(1), []))
            elif entries:
                values = {int(n): v.replace("''", "'") for n, v in _PARAM.findall(rest)}
                entries[-1].params = [values[n] for n in sorted(values)]
        elif line.startswith("\t") and entries:
            entries[-1].sql += "\n" + line[1:]
    return entries


def psql_echo(path: Path) -> list[Captured]:
    entries: list[Captured] = []
    current: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("==="):
            continue
        if line.strip() == "----":
            entries.append(Captured(path.name, "\n".join(current), []))
            current = []
        else:
            current.append(line)
    return entries


def all_captured() -> list[Captured]:
    entries: list[Captured] = []
    for path in sorted(CAPTURES.glob("*.log")):
        entries.extend(server_log(path))
    entries.extend(psql_echo(CAPTURES / "psql_E.txt"))
    return entries
