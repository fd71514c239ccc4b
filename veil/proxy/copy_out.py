"""The COPY-out sub-protocol: rows of ``COPY ... TO STDOUT`` as CopyData messages.

Rows are encoded by the DataRow codec (text cells, or binary cells for ``FORMAT binary``) and
re-framed: a binary COPY tuple is exactly a DataRow body; text and CSV lines are built from the
text cells with COPY's escaping and quoting rules.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import pyarrow as pa

from veil import errcodes
from veil.api import ResultStream
from veil.proxy import codec
from veil.proxy.framing import MessageWriter
from veil.sql.utility_specs import CopySpec

_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TEXT_ESCAPES = {ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r",
                 ord("\b"): "\\b", ord("\f"): "\\f", ord("\v"): "\\v"}


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def copy_out_response(spec: CopySpec, columns: int) -> bytes:
    code = 1 if spec.format == "binary" else 0
    return _message(b"H", struct.pack("!bh", code, columns) + struct.pack(f"!{columns}h", *([code] * columns)))


COPY_DONE = _message(b"c", b"")


def _data_rows(encoded: bytes) -> Iterator[bytes]:
    """The bodies (after kind and length) of the DataRow messages in ``encoded``."""
    view = memoryview(encoded)
    position = 0
    while position < len(view):
        (length,) = struct.unpack_from("!i", view, position + 1)
        yield bytes(view[position + 5 : position + 1 + length])
        position += 1 + length


def _cells(body: bytes) -> list[bytes | None]:
    (count,) = struct.unpack_from("!h", body, 0)
    position = 2
    cells: list[bytes | None] = []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", body, position)
        position += 4
        if length < 0:
            cells.append(None)
        else:
            cells.append(body[position : position + length])
            position += length
    return cells


def _text_line(spec: CopySpec) -> Callable[[list[bytes | None]], str]:
    delimiter = spec.delimiter
    escapes = {ord(delimiter): "\\" + delimiter, **_TEXT_ESCAPES}

    def line(cells: list[bytes | None]) -> str:
        return delimiter.join(spec.null if c is None else c.decode().translate(escapes) for c in cells) + "\n"

    return line


def forced_columns(spec: CopySpec, names: list[str]) -> frozenset[int]:
    """The positions FORCE_QUOTE names (every one for ``*``), checked as PostgreSQL checks them."""
    if spec.force_quote is None:
        return frozenset()
    if spec.force_quote == ("*",):
        return frozenset(range(len(names)))
    found: set[int] = set()
    for name in spec.force_quote:
        if name not in names:
            raise errcodes.UndefinedColumn(f'column "{name}" does not exist')
        if names.index(name) in found:
            raise errcodes.DuplicateColumn(f'column "{name}" specified more than once')
        found.add(names.index(name))
    return frozenset(found)


def _csv_line(spec: CopySpec, forced: frozenset[int] = frozenset()) -> Callable[[list[bytes | None]], str]:
    quote, delimiter, escape = spec.quote, spec.delimiter, spec.escape
    specials = (delimiter, quote, "\n", "\r")

    def field(position: int, cell: bytes | None) -> str:
        if cell is None:
            return spec.null
        text = cell.decode()
        if position in forced or any(s in text for s in specials) or text == spec.null or text == "\\.":
            escaped = text.replace(escape, escape + escape) if escape != quote else text
            return quote + escaped.replace(quote, escape + quote) + quote
        return text

    def line(cells: list[bytes | None]) -> str:
        return delimiter.join(field(i, c) for i, c in enumerate(cells)) + "\n"

    return line


async def send_copy(
    out: MessageWriter, stream: ResultStream, spec: CopySpec, schema: pa.Schema, timezone: str,
    check_cancel: Callable[[], None],
) -> int:
    """CopyOutResponse, one CopyData per row (binary: with header and trailer), CopyDone."""
    binary = spec.format == "binary"
    formats = [1 if binary else 0] * len(schema)
    forced = forced_columns(spec, list(schema.names))  # before CopyOutResponse: an error ends the COPY
    out.write(copy_out_response(spec, len(schema)))
    header = _BINARY_HEADER if binary else b""  # PostgreSQL sends it with the first tuple
    if spec.header and not binary:
        out.write(_message(b"d", _line(spec)([n.encode() for n in schema.names]).encode()))
    line = None if binary else _line(spec, forced)
    rows = 0
    async for batch in stream:
        check_cancel()
        if not batch.num_rows:
            continue
        encoded = bytes(codec.encode_data_rows(batch, formats, timezone))
        for body in _data_rows(encoded):
            payload = header + body if line is None else line(_cells(body)).encode()
            header = b""
            out.write(_message(b"d", payload))
            rows += 1
        if out.pending >= out.HIGH_WATER:
            await out.flush_and_drain()
    if binary:
        out.write(_message(b"d", header + struct.pack("!h", -1)))
    out.write(COPY_DONE)
    return rows


def _line(spec: CopySpec, forced: frozenset[int] = frozenset()) -> Callable[[list[bytes | None]], str]:
    return _csv_line(spec, forced) if spec.format == "csv" else _text_line(spec)
