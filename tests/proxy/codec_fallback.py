"""A slow, text-only stand-in for ``veil.proxy.codec``, installed by the proxy tests only while
the real vectorised codec is not importable (it is developed in parallel)."""

from __future__ import annotations

import struct
import types

import pyarrow as pa

from veil.errors import FeatureNotSupported
from veil.pgtypes import column_type_for_field


def row_description(schema: pa.Schema, formats: list[int]) -> bytes:
    body = struct.pack("!h", len(schema))
    for field, fmt in zip(schema, formats, strict=True):
        oid = column_type_for_field(field).oid
        body += field.name.encode() + b"\0" + struct.pack("!ihihih", 0, 0, oid, -1, -1, fmt)
    return b"T" + struct.pack("!i", len(body) + 4) + body


def _text(value: object) -> bytes:
    if isinstance(value, bool):
        return b"t" if value else b"f"
    return str(value).encode()


def encode_data_rows(batch: pa.RecordBatch, formats: list[int], timezone: str = "UTC") -> bytes:
    if any(formats):
        raise FeatureNotSupported("binary results need the real codec")
    out = bytearray()
    columns = [column.to_pylist() for column in batch.columns]
    for row in range(batch.num_rows):
        body = struct.pack("!h", len(columns))
        for column in columns:
            value = column[row]
            if value is None:
                body += struct.pack("!i", -1)
            else:
                data = _text(value)
                body += struct.pack("!i", len(data)) + data
        out += b"D" + struct.pack("!i", len(body) + 4) + body
    return bytes(out)


def decode_parameter(
    value: bytes | None, type_oid: int, format_code: int, *, timezone: str = "UTC"
) -> object:
    if value is None:
        return None
    if format_code == 1:
        if type_oid in (20, 21, 23):
            return int.from_bytes(value, "big", signed=True)
        return value
    if type_oid in (20, 21, 23):
        return int(value.decode())
    return value.decode()


def install() -> None:
    """Give ``veil.proxy.codec`` these functions if the real ones are not there yet."""
    import sys

    try:
        import veil.proxy.codec as codec
    except ImportError:
        codec = types.ModuleType("veil.proxy.codec")
        sys.modules["veil.proxy.codec"] = codec
        import veil.proxy

        veil.proxy.codec = codec  # type: ignore[attr-defined]
    for name in ("row_description", "encode_data_rows", "decode_parameter"):
        if not hasattr(codec, name):
            setattr(codec, name, globals()[name])
