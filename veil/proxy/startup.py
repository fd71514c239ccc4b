"""The startup phase: SSL/GSSAPI negotiation, CancelRequest, the StartupMessage and its checks.

Everything here happens before authentication, under a timeout, and any failure is FATAL for
that one connection.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from dataclasses import dataclass

from veil.errors import VeilError
from veil.proxy import messages
from veil.proxy.cancel import CancelRegistry
from veil.proxy.framing import MessageReader, MessageWriter

SERVER_VERSION = "15.8"
_CODE = struct.Struct("!i")

_CLIENT_ENCODINGS = {"utf8", "unicode", "sqlascii"}


@dataclass(frozen=True)
class Startup:
    """A validated StartupMessage."""

    user: str
    database: str
    parameters: dict[str, str]
    tls: bool
    timezone: str = "UTC"
    application_name: str = ""


def fatal(sqlstate: str, message: str, hint: str | None = None) -> VeilError:
    return VeilError(sqlstate, message, hint=hint, severity="FATAL")


async def read_startup(
    reader: MessageReader,
    out: MessageWriter,
    stream: asyncio.StreamWriter,
    tls_context: ssl.SSLContext | None,
    cancels: CancelRegistry,
) -> tuple[messages.StartupMessage, bool] | None:
    """Negotiate encryption and read the StartupMessage; ``None`` after a CancelRequest.

    Returns the message and whether the connection is now TLS-encrypted.
    """
    tls = False
    while True:
        packet = await reader.read_startup()
        (code,) = _CODE.unpack_from(packet, 0)
        if code == messages.SSL_REQUEST_CODE and len(packet) == 4:
            if tls or tls_context is None:
                out.write(b"N")
                out.flush()
                continue
            out.write(b"S")
            out.flush()
            if reader.buffered:
                # Bytes sent before the TLS handshake could be injected by a man in the middle.
                raise messages.MalformedMessage("received unencrypted data after SSL request")
            await stream.start_tls(tls_context)
            tls = True
        elif code == messages.GSSENC_REQUEST_CODE and len(packet) == 4:
            out.write(b"N")
            out.flush()
        elif code == messages.CANCEL_REQUEST_CODE:
            pid, secret = messages.parse_cancel(packet)
            cancels.cancel(pid, secret)
            return None
        elif code >> 16 == 3:
            return messages.parse_startup(packet), tls
        else:
            raise fatal(
                "0A000",
                f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: server supports 3.0 to 3.0",
            )


def validate(message: messages.StartupMessage, tls: bool, server_database: str) -> Startup:
    """Check user, database and encoding; normalise the settings Veil reports back."""
    params = dict(message.parameters)
    user = params.get("user", "")
    if not user:
        raise fatal("28000", "no PostgreSQL user name specified in startup packet")
    database = params.get("database") or user
    if database != server_database:
        raise fatal("3D000", f'database "{database}" does not exist')
    if params.get("replication", "false").lower() not in ("false", "off", "no", "0"):
        raise fatal("08P01", "Veil does not support replication connections")
    for name, value in messages.startup_options(params.get("options", "")).items():
        params.setdefault(name, value)

    for key in [k for k in params if k.lower() == "client_encoding"]:
        requested = params.pop(key)
        # PostgreSQL compares encoding names on letters and digits only (asyncpg sends 'utf-8').
        # SQL_ASCII, which libpq sends under the C locale, is byte-transparent, so it is served
        # as UTF8 too.
        if "".join(c for c in requested.lower() if c.isalnum()) not in _CLIENT_ENCODINGS:
            raise fatal(
                "22023",
                f'invalid value for parameter "client_encoding": "{requested}"',
                hint="Veil only supports the UTF8 client encoding.",
            )
    params["client_encoding"] = "UTF8"
    timezone = _lookup(params, "TimeZone") or "UTC"
    return Startup(
        user=user,
        database=database,
        parameters=params,
        tls=tls,
        timezone=timezone,
        application_name=params.get("application_name", ""),
    )


def _lookup(params: dict[str, str], name: str) -> str | None:
    """Setting names are case-insensitive (``timezone`` and ``TimeZone`` are one setting)."""
    lowered = name.lower()
    for key, value in params.items():
        if key.lower() == lowered:
            return value
    return None


def parameter_statuses(startup: Startup, superuser: bool) -> dict[str, str]:
    """The ParameterStatus values PostgreSQL 15 reports after authentication."""
    return {
        "application_name": startup.application_name,
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
        "default_transaction_read_only": "off",
        "in_hot_standby": "off",
        "integer_datetimes": "on",
        "IntervalStyle": "postgres",
        "is_superuser": "on" if superuser else "off",
        "server_encoding": "UTF8",
        "server_version": SERVER_VERSION,
        "session_authorization": startup.user,
        "standard_conforming_strings": "on",
        "TimeZone": startup.timezone,
    }
