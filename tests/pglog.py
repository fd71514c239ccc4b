"""PostgreSQL's own record of the statements it ran, for tests that must prove what reached it.

``log_statement = 'all'`` is switched on for one database (``ALTER DATABASE``, superuser only) and
the server log is read back through ``pg_read_file``: the file ``pg_current_logfile()`` names when
the logging collector runs, else the server's standard error (``/proc/self/fd/2`` of a backend,
which is where ``pg_ctl -l`` and Debian's cluster wrapper send the log). No extension, no restart.
"""

from __future__ import annotations

import os
import re

import psycopg
import pytest

_ENTRY = re.compile(r"^\S+ \S+ \S+ .*?\b(LOG|DETAIL|ERROR|STATEMENT|HINT):  (.*)$")
_STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.DOTALL)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL statement log is required in CI: {reason}")
    pytest.skip(f"cannot read PostgreSQL's statement log: {reason}")


class StatementLog:
    """Statements logged for one database since a mark."""

    def __init__(self, admin_dsn: str, database: str) -> None:
        self.admin_dsn = admin_dsn
        try:
            with psycopg.connect(admin_dsn, autocommit=True) as connection:
                connection.execute(f"ALTER DATABASE \"{database}\" SET log_statement = 'all'")
                path = connection.execute("SELECT pg_current_logfile()").fetchone()[0]
                self.path = path or "/proc/self/fd/2"
                connection.execute("SELECT pg_read_file(%s, 0, 1)", (self.path,))
        except psycopg.Error as error:
            _unavailable(str(error).strip())

    def _size(self, connection: psycopg.Connection) -> int:
        return int(connection.execute("SELECT (pg_stat_file(%s)).size", (self.path,)).fetchone()[0])

    def mark(self) -> int:
        with psycopg.connect(self.admin_dsn, autocommit=True) as connection:
            return self._size(connection)

    def statements_since(self, offset: int) -> list[str]:
        """Every statement text logged after ``offset`` (multi-line statements joined)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as connection:
            size = self._size(connection)
            text = connection.execute("SELECT pg_read_file(%s, %s, %s)", (self.path, offset, max(size - offset, 0))).fetchone()[0]
        statements: list[str] = []
        current: list[str] | None = None
        for line in text.splitlines():
            entry = _ENTRY.match(line)
            if entry is None:
                if line.startswith("\t") and current is not None:
                    current.append(line[1:])
                continue
            if current is not None:
                statements.append("\n".join(current))
                current = None
            kind, rest = entry.groups()
            statement = _STATEMENT.match(rest) if kind == "LOG" else None
            if statement:
                current = [statement.group(1)]
        if current is not None:
            statements.append("\n".join(current))
        return statements

    def reading(self, offset: int, *markers: str) -> list[str]:
        """The statements since ``offset`` that mention every marker."""
        return [s for s in self.statements_since(offset) if all(m in s for m in markers)]
