"""Raw extended-query exchanges for the fast-path tests: a statement parsed once, then groups of
Bind/Describe/Execute/Sync sent one by one, each whole reply (up to ReadyForQuery) kept as bytes,
so replies of Veil and of PostgreSQL can be compared byte for byte."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterator

from psycopg.conninfo import conninfo_to_dict

from veil.catalog.sources.postgres import passthrough as pgpassthru
from veil.catalog.sources.postgres import wire as pgwire


def messages(reply: bytes) -> Iterator[tuple[int, bytes]]:
    """(type byte, whole message) of each message of a reply."""
    position = 0
    while position < len(reply):
        kind, size = reply[position], struct.unpack_from("!i", reply, position + 1)[0]
        yield kind, reply[position : position + 1 + size]
        position += 1 + size


def _no_error(kind: int, message: bytes) -> None:
    assert kind != ord("E"), pgwire.wire_error(message[5:])


def data_rows(reply: bytes, errors: bool = False) -> bytes:
    """The DataRow, PortalSuspended and CommandComplete part of a reply; an ErrorResponse fails
    the test unless ``errors`` (then it is left out)."""
    parts = []
    for kind, message in messages(reply):
        if not errors:
            _no_error(kind, message)
        if kind in b"DsC":
            parts.append(message)
    return b"".join(parts)


def cells(reply: bytes) -> list[list[bytes | None]]:
    """The cells of the DataRows of a reply (an ErrorResponse fails the test)."""
    rows = []
    for kind, message in messages(reply):
        _no_error(kind, message)
        if kind == ord("D"):
            count, at, row = struct.unpack_from("!h", message, 5)[0], 7, []
            for _ in range(count):
                length = struct.unpack_from("!i", message, at)[0]
                row.append(None if length < 0 else message[at + 4 : at + 4 + length])
                at += 4 + max(length, 0)
            rows.append(row)
    return rows


def group(
    value: bytes | None, formats: list[int], max_rows: int = 0, describe: bool = True, param_format: int = 0
) -> bytes:
    """Bind (one parameter, in ``param_format``; result ``formats``), Describe (portal), Execute
    (``max_rows``), Sync."""
    if param_format and value is not None:
        bind = pgwire.message(
            b"B",
            b"\0s\0"
            + struct.pack("!hhhi", 1, param_format, 1, len(value))
            + value
            + struct.pack(f"!h{len(formats)}h", len(formats), *formats),
        )
    else:
        bind = pgpassthru.bind(b"s", [value], formats)
    execute = pgwire.message(b"E", b"\0" + struct.pack("!i", max_rows))
    return bind + (pgwire.message(b"D", b"P\0") if describe else b"") + execute + pgwire.message(b"S")


def replies(
    dsn: str,
    sql: str,
    groups: list[bytes],
    types: tuple[int, ...] = (),
    setup: str | None = None,
    before: dict[int, Callable[[], None]] | None = None,
) -> list[bytes]:
    """The whole reply to each group of messages sent after Parse of ``sql`` (with parameter
    ``types``); ``setup``: a simple query run first; ``before``: what to do before sending the
    group at an index."""
    return asyncio.run(_replies(dsn, sql, groups, types, setup, before or {}))


async def _replies(
    dsn: str,
    sql: str,
    groups: list[bytes],
    types: tuple[int, ...],
    setup: str | None,
    before: dict[int, Callable[[], None]],
) -> list[bytes]:
    params = conninfo_to_dict(dsn)
    connection = await asyncio.wait_for(
        pgwire.connect(
            params["host"], int(params["port"]), params["user"], params.get("password"), params["dbname"], "disable", {}
        ),
        10,
    )
    try:
        if setup is not None:
            connection.send(pgwire.message(b"Q", pgwire.cstring(setup)))
            while (await asyncio.wait_for(connection.message(), 10))[0] != ord("Z"):
                pass
        declared = struct.pack(f"!h{len(types)}I", len(types), *types)
        connection.send(pgwire.message(b"P", b"s\0" + pgwire.cstring(sql) + declared) + pgwire.message(b"S"))
        while (await asyncio.wait_for(connection.message(), 10))[0] != ord("Z"):
            pass
        answers = []
        for index, sent in enumerate(groups):
            if index in before:
                before[index]()
            connection.send(sent)
            reply = []
            while True:
                kind, body = await asyncio.wait_for(connection.message(), 30)
                reply.append(pgwire.message(bytes([kind]), body))
                if kind == ord("Z"):
                    break
            answers.append(b"".join(reply))
        return answers
    finally:
        connection.close()
