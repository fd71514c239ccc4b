"""PostgreSQL as the oracle for the codec: its exact text and binary bytes for SQL values.

``PgOracle.cells(sql, binary)`` runs a query with psycopg and returns the raw bytes libpq
received for every cell (no client-side decoding), plus the column descriptions, so encoder
output can be compared byte for byte.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import psycopg
import pyarrow as pa

from veil.proxy.codec import datarow, encode_data_rows
from veil.proxy.codec.plan import plan_for

SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, MDY'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)


@dataclass(frozen=True)
class Column:
    name: str
    oid: int
    typmod: int
    size: int


@dataclass(frozen=True)
class Result:
    columns: list[Column]
    rows: list[list[bytes | None]]

    def column(self, index: int = 0) -> list[bytes | None]:
        return [row[index] for row in self.rows]


def connect() -> psycopg.Connection:
    """Connect to the oracle server (``VEIL_TEST_POSTGRES`` or the local trust setup)."""
    dsns = (
        [os.environ["VEIL_TEST_POSTGRES"]]
        if os.environ.get("VEIL_TEST_POSTGRES")
        else [
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            "host=127.0.0.1 port=5432 user=root dbname=postgres",
        ]
    )
    error: Exception | None = None
    for dsn in dsns:
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            error = exc
            continue
        for statement in SESSION_SETTINGS:
            conn.execute(statement)
        return conn
    raise RuntimeError(f"no PostgreSQL oracle reachable: {error}")


class PgOracle:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def set_timezone(self, zone: str) -> None:
        self.conn.execute(f"SET TimeZone = '{zone}'")

    def cells(self, sql: str, binary: bool) -> Result:
        cursor = self.conn.cursor(binary=binary)
        cursor.execute(sql)
        result = cursor.pgresult
        assert result is not None
        columns = [
            Column(result.fname(c).decode(), result.ftype(c), result.fmod(c), result.fsize(c))
            for c in range(result.nfields)
        ]
        rows = [
            [_cell(result.get_value(r, c)) for c in range(result.nfields)]
            for r in range(result.ntuples)
        ]
        cursor.close()
        return Result(columns, rows)

    def values(self, type_sql: str, literals: list[str | None]) -> str:
        """SQL selecting ``literals`` (already SQL literals, None for NULL) in order."""
        rows = ", ".join(
            f"({i}, {'NULL' if lit is None else lit}::{type_sql})" for i, lit in enumerate(literals)
        )
        return f"SELECT v FROM (VALUES {rows}) AS t(i, v) ORDER BY i"


def _cell(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


def split_data_rows(data: bytes) -> list[list[bytes | None]]:
    """Parse concatenated DataRow messages back into cells (checking every length field)."""
    rows = []
    pos = 0
    while pos < len(data):
        assert data[pos : pos + 1] == b"D", f"not a DataRow at {pos}"
        (length,) = struct.unpack("!i", data[pos + 1 : pos + 5])
        end = pos + 1 + length
        (count,) = struct.unpack("!h", data[pos + 5 : pos + 7])
        cursor = pos + 7
        cells: list[bytes | None] = []
        for _ in range(count):
            (size,) = struct.unpack("!i", data[cursor : cursor + 4])
            cursor += 4
            if size < 0:
                cells.append(None)
            else:
                cells.append(data[cursor : cursor + size])
                cursor += size
        assert cursor == end, "DataRow length field does not match its contents"
        rows.append(cells)
        pos = end
    return rows


def data_rows(rows: list[list[bytes | None]]) -> bytes:
    """Reference DataRow messages built with struct, one row at a time."""
    out = bytearray()
    for row in rows:
        body = struct.pack("!h", len(row))
        for cell in row:
            body += struct.pack("!i", -1) if cell is None else struct.pack("!i", len(cell)) + cell
        out += b"D" + struct.pack("!i", len(body) + 4) + body
    return bytes(out)


def encode_cells(
    column: pa.Array | pa.ChunkedArray,
    fmt: int,
    field: pa.Field | None = None,
    timezone: str = "UTC",
) -> list[bytes | None]:
    """Encode one column with the codec and return its cells (message framing checked)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    schema = pa.schema([field if field is not None else pa.field("v", column.type)])
    batch = pa.RecordBatch.from_arrays([column], schema=schema)
    encoded = bytes(encode_data_rows(batch, [fmt], timezone))
    assert encoded == both_paths(batch, [fmt], timezone)
    rows = split_data_rows(encoded)
    assert encoded == data_rows(rows)
    return [row[0] for row in rows]


def both_paths(batch: pa.RecordBatch, formats: list[int], timezone: str = "UTC") -> bytes:
    """The batch through the vectorised encoders and, in slices, through the row path; both
    must give the same bytes (returned)."""
    plan = plan_for(batch.schema, formats, timezone)
    vectorised = bytes(datarow.encode_vectorised(batch, plan))
    step = datarow.SMALL_BATCH_ROWS
    small = b"".join(
        datarow.encode_small(batch.slice(start, step), plan)
        for start in range(0, batch.num_rows, step)
    )
    assert small == vectorised, "row path and vectorised path differ"
    return vectorised


def assert_same(ours: list[bytes | None], theirs: list[bytes | None], context: str) -> None:
    assert len(ours) == len(theirs), f"{context}: {len(ours)} rows vs {len(theirs)}"
    mismatches = [(i, o, t) for i, (o, t) in enumerate(zip(ours, theirs, strict=True)) if o != t]
    assert not mismatches, f"{context}: first mismatches (row, ours, postgres): {mismatches[:5]}"
