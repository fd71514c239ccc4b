"""PostgreSQL v3 protocol messages: builders for backend messages, parsers for frontend ones.

Builders return complete messages (type byte, length, payload) as ``bytes``; the constant ones
are precomputed. Parsers take the payload of one frontend message (without type and length)
and raise :class:`MalformedMessage` on anything that does not match the protocol, which the
connection turns into a FATAL ``08P01`` and closes only that connection.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from veil import errcodes
from veil.errors import VeilError, client_error

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_I32x2 = struct.Struct("!ii")
_HEADER = struct.Struct("!ci")

SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
PROTOCOL_3 = 3 << 16

# Frontend message types, as the int value of their type byte.
QUERY = ord("Q")
PARSE = ord("P")
BIND = ord("B")
DESCRIBE = ord("D")
EXECUTE = ord("E")
CLOSE = ord("C")
SYNC = ord("S")
FLUSH = ord("H")
TERMINATE = ord("X")
PASSWORD = ord("p")
FUNCTION_CALL = ord("F")
COPY_DATA = ord("d")
COPY_DONE = ord("c")
COPY_FAIL = ord("f")


class MalformedMessage(VeilError):
    """The bytes do not form a valid protocol message; the connection cannot be trusted."""

    def __init__(self, message: str = "invalid message format") -> None:
        super().__init__("08P01", message, severity="FATAL")


def _message(kind: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload) + 4) + payload


def _cstr(value: str) -> bytes:
    return value.encode() + b"\0"


# --- backend messages ----------------------------------------------------------------------

AUTHENTICATION_OK = _message(b"R", _I32.pack(0))
AUTHENTICATION_CLEARTEXT = _message(b"R", _I32.pack(3))
PARSE_COMPLETE = _message(b"1", b"")
BIND_COMPLETE = _message(b"2", b"")
CLOSE_COMPLETE = _message(b"3", b"")
NO_DATA = _message(b"n", b"")
PORTAL_SUSPENDED = _message(b"s", b"")
EMPTY_QUERY_RESPONSE = _message(b"I", b"")
READY_FOR_QUERY = {status: _message(b"Z", status.encode()) for status in "ITE"}


def authentication_md5(salt: bytes) -> bytes:
    return _message(b"R", _I32.pack(5) + salt)


def authentication_sasl(mechanisms: Iterable[str]) -> bytes:
    return _message(b"R", _I32.pack(10) + b"".join(_cstr(m) for m in mechanisms) + b"\0")


def authentication_sasl_continue(data: bytes) -> bytes:
    return _message(b"R", _I32.pack(11) + data)


def authentication_sasl_final(data: bytes) -> bytes:
    return _message(b"R", _I32.pack(12) + data)


def parameter_status(name: str, value: str) -> bytes:
    return _message(b"S", _cstr(name) + _cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return _message(b"K", _I32x2.pack(pid, secret))


def ready_for_query(status: str) -> bytes:
    return READY_FOR_QUERY[status]


def command_complete(tag: str) -> bytes:
    return _message(b"C", _cstr(tag))


def parameter_description(oids: Iterable[int]) -> bytes:
    oid_list = list(oids)
    return _message(b"t", _I16.pack(len(oid_list)) + struct.pack(f"!{len(oid_list)}I", *oid_list))


def negotiate_protocol_version(newest_minor: int, unsupported: Iterable[str]) -> bytes:
    names = list(unsupported)
    return _message(b"v", _I32x2.pack(newest_minor, len(names)) + b"".join(_cstr(n) for n in names))


def error_response(error: VeilError, *, notice: bool = False) -> bytes:
    """ErrorResponse (or NoticeResponse) with S, V, C, M and D, H, P when present, in
    PostgreSQL's words: :func:`client_error` removes what an engine or driver left in it."""
    error = client_error(error)
    fields = [
        b"S" + _cstr(error.severity),
        b"V" + _cstr(error.severity),
        b"C" + _cstr(error.sqlstate),
        b"M" + _cstr(error.message),
    ]
    if error.detail:
        fields.append(b"D" + _cstr(error.detail))
    if error.hint:
        fields.append(b"H" + _cstr(error.hint))
    if error.position:
        fields.append(b"P" + _cstr(str(error.position)))
    return _message(b"N" if notice else b"E", b"".join(fields) + b"\0")


# --- frontend messages ---------------------------------------------------------------------


def _read_cstr(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise MalformedMessage("invalid string in message")
    try:
        return data[pos:end].decode(), end + 1
    except UnicodeDecodeError:
        raise errcodes.CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from None


def _read_i16(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data):
        raise MalformedMessage()
    return _I16.unpack_from(data, pos)[0], pos + 2


def _read_i32(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 4 > len(data):
        raise MalformedMessage()
    return _I32.unpack_from(data, pos)[0], pos + 4


def _expect_end(data: bytes, pos: int) -> None:
    if pos != len(data):
        raise MalformedMessage()


@dataclass(frozen=True, slots=True)
class StartupMessage:
    minor: int
    parameters: dict[str, str]
    protocol_options: tuple[str, ...]  # ``_pq_.*`` options we do not support


def parse_startup(payload: bytes) -> StartupMessage:
    """The StartupMessage after its version code (already checked to be 3.x)."""
    minor = _I32.unpack_from(payload, 0)[0] & 0xFFFF
    params: dict[str, str] = {}
    options: list[str] = []
    pos = 4
    while True:
        if pos >= len(payload):
            raise MalformedMessage("invalid startup packet layout: expected terminator as last byte")
        if payload[pos] == 0:
            _expect_end(payload, pos + 1)
            break
        name, pos = _read_cstr(payload, pos)
        value, pos = _read_cstr(payload, pos)
        if name.startswith("_pq_."):
            options.append(name)
        else:
            params[name] = value
    return StartupMessage(minor, params, tuple(options))


def parse_cancel(payload: bytes) -> tuple[int, int]:
    """CancelRequest after its code: (backend pid, secret key)."""
    if len(payload) != 12:
        raise MalformedMessage("invalid length of cancel request packet")
    pid, secret = _I32x2.unpack_from(payload, 4)
    return pid, secret


def parse_query(payload: bytes) -> str:
    sql, pos = _read_cstr(payload, 0)
    _expect_end(payload, pos)
    return sql


@dataclass(frozen=True, slots=True)
class Parse:
    name: str
    sql: str
    param_oids: tuple[int, ...]


def parse_parse(payload: bytes) -> Parse:
    name, pos = _read_cstr(payload, 0)
    sql, pos = _read_cstr(payload, pos)
    count, pos = _read_i16(payload, pos)
    if count < 0 or pos + 4 * count != len(payload):
        raise MalformedMessage()
    oids = struct.unpack_from(f"!{count}I", payload, pos)
    return Parse(name, sql, oids)


@dataclass(frozen=True, slots=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    values: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


def parse_bind(payload: bytes) -> Bind:
    """Bind, written for speed: it is parsed once per execution of a prepared statement."""
    try:
        end = payload.index(b"\0")
        portal = payload[:end].decode()
        pos = end + 1
        end = payload.index(b"\0", pos)
        statement = payload[pos:end].decode()
        pos = end + 1
        (count,) = _I16.unpack_from(payload, pos)
        param_formats = struct.unpack_from(f"!{count}h", payload, pos + 2)
        pos += 2 + 2 * count
        (count,) = _I16.unpack_from(payload, pos)
        pos += 2
        values: list[bytes | None] = []
        unpack_length = _I32.unpack_from
        for _ in range(count):
            (length,) = unpack_length(payload, pos)
            pos += 4
            if length == -1:
                values.append(None)
            else:
                if length < 0 or pos + length > len(payload):
                    raise MalformedMessage("insufficient data left in message")
                values.append(payload[pos : pos + length])
                pos += length
        (count,) = _I16.unpack_from(payload, pos)
        result_formats = struct.unpack_from(f"!{count}h", payload, pos + 2)
        pos += 2 + 2 * count
    except (ValueError, struct.error):
        raise MalformedMessage() from None
    _expect_end(payload, pos)
    for code in param_formats + result_formats:
        if code != 0 and code != 1:
            raise errcodes.ProtocolViolation(f"unsupported format code: {code}")
    return Bind(portal, statement, param_formats, tuple(values), result_formats)


def parse_target(payload: bytes) -> tuple[str, str]:
    """Describe and Close: (``S`` or ``P``, name)."""
    if not payload or payload[0] not in b"SP":
        raise MalformedMessage("invalid DESCRIBE/CLOSE message subtype")
    name, pos = _read_cstr(payload, 1)
    _expect_end(payload, pos)
    return chr(payload[0]), name


def parse_execute(payload: bytes) -> tuple[str, int]:
    portal, pos = _read_cstr(payload, 0)
    max_rows, pos = _read_i32(payload, pos)
    _expect_end(payload, pos)
    return portal, max_rows


def parse_password(payload: bytes) -> str:
    """PasswordMessage (cleartext or md5): a NUL-terminated string."""
    value, pos = _read_cstr(payload, 0)
    _expect_end(payload, pos)
    return value


def parse_sasl_initial(payload: bytes) -> tuple[str, bytes]:
    """SASLInitialResponse: (mechanism, client-first-message)."""
    mechanism, pos = _read_cstr(payload, 0)
    length, pos = _read_i32(payload, pos)
    if length == -1:
        _expect_end(payload, pos)
        return mechanism, b""
    if length < 0 or pos + length != len(payload):
        raise MalformedMessage()
    return mechanism, payload[pos:]


def startup_options(options: str) -> Mapping[str, str]:
    """``-c name=value`` and ``--name=value`` settings from the startup ``options`` parameter.

    Backslash escapes a space inside a value, as libpq documents for PGOPTIONS.
    """
    words: list[str] = []
    current: list[str] = []
    escaped = False
    for char in options:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    settings: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        setting = None
        if word == "-c" and index + 1 < len(words):
            index += 1
            setting = words[index]
        elif word.startswith("-c") or word.startswith("--"):
            setting = word[2:]
        if setting and "=" in setting:
            name, value = setting.split("=", 1)
            settings[name.replace("-", "_")] = value
        index += 1
    return settings
