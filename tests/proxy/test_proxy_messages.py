"""Framing and message parsing, without a network."""

from __future__ import annotations

import asyncio
import struct

import pytest

from tests.proxy import pgclient
from veil.errors import VeilError
from veil.proxy import messages
from veil.proxy.framing import ConnectionClosed, MessageReader
from veil.proxy.sqlcommands import ProtocolEffect, protocol_effect


def reader_with(*chunks: bytes, max_bytes: int = 1024) -> MessageReader:
    stream = asyncio.StreamReader()
    for chunk in chunks:
        stream.feed_data(chunk)
    stream.feed_eof()
    return MessageReader(stream, max_bytes)


async def test_pipelined_messages_are_cut_from_one_chunk() -> None:
    data = pgclient.parse("", "rows 1") + pgclient.bind("", "") + pgclient.execute() + pgclient.SYNC
    reader = reader_with(data)
    kinds = []
    while True:
        try:
            kind, _ = await reader.read()
        except ConnectionClosed:
            break
        kinds.append(chr(kind))
    assert kinds == ["P", "B", "E", "S"]


async def test_message_split_across_reads() -> None:
    data = pgclient.query("SELECT 1")
    reader = reader_with(*(data[i : i + 1] for i in range(len(data))))
    assert await reader.read() == (ord("Q"), b"SELECT 1\0")
    with pytest.raises(ConnectionClosed):
        await reader.read()


@pytest.mark.parametrize("length", [3, -1, 2000])
async def test_bad_or_oversized_length_is_fatal(length: int) -> None:
    reader = reader_with(b"Q" + struct.pack("!i", length) + b"x" * 10)
    with pytest.raises(messages.MalformedMessage) as info:
        await reader.read()
    assert info.value.sqlstate == "08P01"
    assert info.value.severity == "FATAL"


async def test_startup_packet_limits() -> None:
    reader = reader_with(struct.pack("!i", 20000) + b"\0" * 8)
    with pytest.raises(messages.MalformedMessage):
        await reader.read_startup()
    good = pgclient.startup_packet({"user": "alice"})
    payload = await reader_with(good).read_startup()
    assert messages.parse_startup(payload).parameters == {"user": "alice"}


def test_parse_startup_collects_protocol_options() -> None:
    packet = pgclient.startup_packet({"user": "a", "_pq_.compression": "on"}, version=(3 << 16) | 2)
    startup = messages.parse_startup(packet[4:])
    assert startup.minor == 2
    assert startup.parameters == {"user": "a"}
    assert startup.protocol_options == ("_pq_.compression",)


def test_parse_startup_without_terminator_is_malformed() -> None:
    packet = pgclient.startup_packet({"user": "a"})[4:-1]
    with pytest.raises(messages.MalformedMessage):
        messages.parse_startup(packet)


def test_bind_round_trip() -> None:
    data = pgclient.bind("p", "s", (b"1", None, b"\x00\x01"), (0, 0, 1), (1,))
    bind = messages.parse_bind(data[5:])
    assert bind.portal == "p" and bind.statement == "s"
    assert bind.values == (b"1", None, b"\x00\x01")
    assert bind.param_formats == (0, 0, 1)
    assert bind.result_formats == (1,)


def test_bind_truncated_value_is_malformed() -> None:
    data = pgclient.bind("", "", (b"12345",))[5:]
    with pytest.raises(messages.MalformedMessage):
        messages.parse_bind(data[:-6])


def test_bind_rejects_unknown_format_code() -> None:
    data = pgclient.bind("", "", (b"1",), (2,))[5:]
    with pytest.raises(VeilError) as info:
        messages.parse_bind(data)
    assert info.value.sqlstate == "08P01"


def test_parse_message() -> None:
    parsed = messages.parse_parse(pgclient.parse("s1", "SELECT $1", (23,))[5:])
    assert parsed == messages.Parse("s1", "SELECT $1", (23,))


def test_parse_with_trailing_bytes_is_malformed() -> None:
    with pytest.raises(messages.MalformedMessage):
        messages.parse_parse(pgclient.parse("", "x")[5:] + b"junk")


def test_describe_close_execute() -> None:
    assert messages.parse_target(pgclient.describe("S", "x")[5:]) == ("S", "x")
    assert messages.parse_target(pgclient.close("P", "")[5:]) == ("P", "")
    assert messages.parse_execute(pgclient.execute("p", 10)[5:]) == ("p", 10)
    with pytest.raises(messages.MalformedMessage):
        messages.parse_target(b"Xname\0")


def test_invalid_utf8_in_query_is_a_statement_error() -> None:
    with pytest.raises(VeilError) as info:
        messages.parse_query(b"SELECT '\xff'\0")
    assert info.value.sqlstate == "22021"
    assert info.value.severity == "ERROR"


def test_error_response_fields() -> None:
    error = VeilError("42601", "syntax error", detail="d", hint="h", position=7)
    message = pgclient.Message("E", messages.error_response(error)[5:])
    assert message.fields() == {
        "S": "ERROR",
        "V": "ERROR",
        "C": "42601",
        "M": "syntax error",
        "D": "d",
        "H": "h",
        "P": "7",
    }


def test_parameter_description_and_ready() -> None:
    assert messages.parameter_description([23, 25]) == b"t\0\0\0\x0e\0\x02\0\0\0\x17\0\0\0\x19"
    assert messages.ready_for_query("T") == b"Z\0\0\0\x05T"


def test_startup_options() -> None:
    parsed = messages.startup_options(r"-c search_path=a,b --statement-timeout=5 -csome.x=y\ z")
    assert parsed == {"search_path": "a,b", "statement_timeout": "5", "some.x": "y z"}


@pytest.mark.parametrize(
    ("command", "sql", "effect"),
    [
        ("DEALLOCATE", 'DEALLOCATE "_PLAN0xAB"', ProtocolEffect(statement="_PLAN0xAB")),
        ("DEALLOCATE", "deallocate prepare S1;", ProtocolEffect(statement="s1")),
        ("DEALLOCATE ALL", "DEALLOCATE ALL", ProtocolEffect(statement="*")),
        ("DISCARD ALL", "DISCARD ALL", ProtocolEffect(statement="*", portal="*")),
        ("CLOSE CURSOR", 'CLOSE "My""Cursor"', ProtocolEffect(portal='My"Cursor')),
        ("CLOSE CURSOR ALL", "close all", ProtocolEffect(portal="*")),
        ("SELECT", "SELECT 1", None),
        ("DISCARD PLANS", "DISCARD PLANS", None),
    ],
)
def test_protocol_effects(command: str, sql: str, effect: ProtocolEffect | None) -> None:
    assert protocol_effect(command, sql) == effect
