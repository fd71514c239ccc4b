"""A session's SQL-level objects: cursors (DECLARE) and prepared statements (PREPARE).

Cursors live until CLOSE or the end of their transaction; WITH HOLD ones survive COMMIT (not the
ROLLBACK of the transaction that declared them), as in PostgreSQL. ``EXECUTE name(args)`` runs the
prepared query with each ``$n`` replaced by its argument cast to the parameter's type, so the
argument is read exactly as PostgreSQL reads a constant of that type.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from veil import errcodes, pgtypes
from veil.api import ResultStream
from veil.errors import VeilError
from veil.executor.cursors import Cursor
from veil.executor.results import RowsStream
from veil.sql import pgsql
from veil.sql.utility_specs import CursorSpec, ExecuteSpec, FetchSpec


@dataclass(frozen=True)
class SqlPrepared:
    """``PREPARE name AS query``: the query text and one OID per ``$n``."""

    sql: str
    param_oids: tuple[int, ...]
    #: The TimeZone its timestamptz literals were read in at PREPARE (a local statement's; None:
    #: the session's at EXECUTE), and the search_path then: PostgreSQL reads them again only
    #: when it analyses the statement anew, which a new search_path makes it do.
    literal_zone: str | None = None
    search_path: tuple[str, ...] = ()


def _type_name(oid: int) -> str:
    found = pgtypes.BY_OID.get(oid, pgtypes.TEXT)
    if found.element_oid:
        return pgtypes.BY_OID[found.element_oid].name + "[]"
    return found.name


def _missing_cursor(name: str) -> VeilError:
    return errcodes.InvalidCursorName(f'cursor "{name}" does not exist')


@dataclass
class SqlObjects:
    cursors: dict[str, Cursor] = field(default_factory=dict)
    prepared: dict[str, SqlPrepared] = field(default_factory=dict)
    spill_directory: Path | None = None  # where SCROLL cursors spill rows beyond work_mem

    # -- cursors ---------------------------------------------------------------------------
    def check_declare(self, spec: CursorSpec, in_transaction: bool) -> None:
        if not in_transaction and not spec.hold:
            raise errcodes.NoActiveSqlTransaction("DECLARE CURSOR can only be used in transaction blocks")
        if spec.name in self.cursors:
            raise errcodes.DuplicateCursor(f'cursor "{spec.name}" already exists')

    def declare(self, spec: CursorSpec, stream: ResultStream, schema: pa.Schema, in_transaction: bool) -> None:
        self.cursors[spec.name] = Cursor(spec, stream, schema, in_transaction, spill_directory=self.spill_directory)

    def cursor_schema(self, name: str) -> pa.Schema:
        cursor = self.cursors.get(name)
        if cursor is None:
            raise _missing_cursor(name)
        return cursor.schema

    async def fetch(self, spec: FetchSpec) -> ResultStream:
        assert spec.name is not None
        cursor = self.cursors.get(spec.name)
        if cursor is None:
            raise _missing_cursor(spec.name)
        batches, count = await cursor.run(spec)
        verb = "MOVE" if spec.move else "FETCH"
        stream = RowsStream(None if spec.move else cursor.schema, batches, f"{verb} {count}")
        stream.binary = cursor.spec.binary
        return stream

    async def close_cursor(self, name: str | None) -> None:
        """``CLOSE name`` (``None``: ``CLOSE ALL``)."""
        if name is None:
            names = list(self.cursors)
        elif name in self.cursors:
            names = [name]
        else:
            raise _missing_cursor(name)
        for each in names:
            await self.cursors.pop(each).close()

    async def end_transaction(self, committed: bool) -> None:
        """Without HOLD a cursor ends with its transaction; WITH HOLD survives COMMIT."""
        for name, cursor in list(self.cursors.items()):
            if cursor.spec.hold and (committed or not cursor.in_transaction):
                cursor.in_transaction = False
                continue
            await self.cursors.pop(name).close()

    async def close(self) -> None:
        await self.close_cursor(None)

    # -- prepared statements ----------------------------------------------------------------
    def check_prepare(self, name: str) -> None:
        if name in self.prepared:
            raise errcodes.DuplicatePreparedStatement(f'prepared statement "{name}" already exists')

    def execute_sql(self, spec: ExecuteSpec) -> str:
        """The prepared query with its arguments in place of ``$n``."""
        prepared = self.prepared.get(spec.name)
        if prepared is None:
            raise errcodes.InvalidSqlStatementName(f'prepared statement "{spec.name}" does not exist')
        if len(spec.args) != len(prepared.param_oids):
            raise errcodes.SyntaxError(
                f"wrong number of parameters for prepared statement \"{spec.name}\"",
                detail=f"Expected {len(prepared.param_oids)} parameters but got {len(spec.args)}.",
            )
        sql = prepared.sql
        parts: list[str] = []
        previous = 0
        for token in pgsql.scan(sql):
            if token.name != "PARAM":
                continue
            index = int(token.text[1:]) - 1
            parts.append(sql[previous : token.start])
            parts.append(f"CAST(({spec.args[index]}) AS {_type_name(prepared.param_oids[index])})")
            previous = token.end
        parts.append(sql[previous:])
        return "".join(parts)

    def literal_zone(self, spec: ExecuteSpec, search_path: tuple[str, ...], timezone: str) -> str | None:
        """The zone EXECUTE reads the prepared statement's literals in (None: the session's,
        ``timezone``). Under a new search_path it is analysed anew, as PostgreSQL does: its
        literals are read now, and kept in this zone afterwards."""
        prepared = self.prepared.get(spec.name)
        if prepared is None:
            return None
        if prepared.search_path != search_path:
            self.prepared[spec.name] = replace(prepared, literal_zone=timezone, search_path=search_path)
            return None
        return prepared.literal_zone

    def deallocate(self, name: str | None) -> bool:
        """Drop one (``None``: all); False if there is no such SQL-prepared statement."""
        if name is None:
            self.prepared.clear()
            return True
        return self.prepared.pop(name, None) is not None
