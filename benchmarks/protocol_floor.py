"""The protocol floor of a point query: Veil's own framing on uvloop, answering with no engine.

    .venv/bin/python -m benchmarks.protocol_floor --port 6543

A server that speaks just enough of the wire protocol for psycopg's prepared point queries
(trust login, Parse, Bind, Describe, Execute, Sync), through Veil's MessageReader and
MessageWriter and its message builders, and answers each Execute with one canned row (the bound
id, six constant columns). No session, plan, cache, policy or audit: what a statement costs a
Python proxy built this way before it does any work. ``benchmarks.points`` times it next to
PostgreSQL direct as the "protocol floor" row, so a cache hit can be read against it.
"""

from __future__ import annotations

import argparse
import asyncio
import struct

import uvloop

from veil.proxy import messages
from veil.proxy.framing import ConnectionClosed, MessageReader, MessageWriter, next_message

_INT8, _TEXT = 20, 25
_COLUMNS = [("id", _INT8, 8)] + [(f"c{i}", _TEXT, -1) for i in range(1, 7)]
_CONSTANTS = [b"customer-000123", b"12.5", b"0.25", b"2024-03-01", b"t", b"EU"]


def _row_description() -> bytes:
    fields = b"".join(
        name.encode() + b"\0" + struct.pack("!ihihih", 0, 0, oid, size, -1, 0) for name, oid, size in _COLUMNS
    )
    payload = struct.pack("!h", len(_COLUMNS)) + fields
    return b"T" + struct.pack("!i", len(payload) + 4) + payload


ROW_DESCRIPTION = _row_description()
_TAIL = b"".join(struct.pack("!i", len(value)) + value for value in _CONSTANTS)
_STARTUP = [
    ("server_version", "15.0"),
    ("client_encoding", "UTF8"),
    ("DateStyle", "ISO, MDY"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("TimeZone", "UTC"),
]


def _data_row(bound: bytes) -> bytes:
    payload = struct.pack("!hi", len(_COLUMNS), len(bound)) + bound + _TAIL
    return b"D" + struct.pack("!i", len(payload) + 4) + payload


async def _serve(reader_stream: asyncio.StreamReader, writer_stream: asyncio.StreamWriter) -> None:
    reader, out = MessageReader(reader_stream, 1 << 20), MessageWriter(writer_stream)
    try:
        await reader.read_startup()
        out.write(messages.AUTHENTICATION_OK)
        for name, value in _STARTUP:
            out.write(messages.parameter_status(name, value))
        out.write(messages.backend_key_data(1, 1))
        out.write(messages.ready_for_query("I"))
        out.flush()
        bound = b"0"
        while True:
            kind, payload = await next_message(reader, out)
            if kind == messages.TERMINATE:
                return
            if kind == messages.PARSE:
                out.write(messages.PARSE_COMPLETE)
            elif kind == messages.BIND:
                bind = messages.parse_bind(payload)
                value = bind.values[0] or b"0"
                binary = bool(bind.param_formats) and bind.param_formats[0] == 1
                bound = str(int.from_bytes(value, "big", signed=True)).encode() if binary else value
                out.write(messages.BIND_COMPLETE)
            elif kind == messages.DESCRIBE:
                if messages.parse_target(payload)[0] == "S":
                    out.write(messages.parameter_description([_INT8]))
                out.write(ROW_DESCRIPTION)
            elif kind == messages.EXECUTE:
                messages.parse_execute(payload)
                out.write(_data_row(bound))
                out.write(messages.command_complete("SELECT 1"))
            elif kind == messages.SYNC:
                out.write(messages.ready_for_query("I"))
                await out.flush_and_drain()
    except ConnectionClosed:
        return
    finally:
        writer_stream.close()


async def _main(host: str, port: int) -> None:
    server = await asyncio.start_server(_serve, host, port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.protocol_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(_main(args.host, args.port))


if __name__ == "__main__":
    main()
