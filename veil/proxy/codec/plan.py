"""Per-schema encoder plans: the decisions ``encode_data_rows`` would otherwise redo per batch.

A result is usually many batches (bulk) or many one-row results of the same prepared statement
(point queries); either way every batch of it has the same schema, format codes and session
zone. A :class:`BatchPlan` keeps what depends only on those: each column's PostgreSQL type,
whether its layout needs :func:`~veil.proxy.codec.columns.prepare`, the encode context, and the
row-path cell encoder chosen for it (see :mod:`.rowpath`). Plans are looked up by format codes
and zone, then by schema equality (metadata included: it can pin PostgreSQL types), which costs
far less than hashing an Arrow schema.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from veil.errors import ProtocolViolation
from veil.pgfields import column_type_for_field
from veil.pgtypes import ColumnType
from veil.proxy.codec.dispatch import EncodeContext
from veil.proxy.codec.rowpath import CellEncoder, row_encoder

_MAX_KEYS = 256  # distinct (formats, zone) keys kept before the cache is reset
_MAX_SCHEMAS = 16  # schemas kept per key (most recent first)


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    pg: ColumnType
    fmt: int
    #: The Arrow layout is one the encoders read directly (no ``prepare`` call needed).
    plain: bool
    #: Cells of a small batch, one Python value at a time; ``None``: use the vectorised encoder.
    cells: CellEncoder | None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    schema: pa.Schema
    columns: tuple[ColumnPlan, ...]
    context: EncodeContext


_lock = threading.Lock()
_plans: dict[tuple[tuple[int, ...], str], list[BatchPlan]] = {}


def expand_formats(formats: Sequence[int], count: int) -> list[int]:
    """Per-column format codes from the protocol's 0, 1 or N codes."""
    if len(formats) == 0:
        return [0] * count
    if len(formats) == 1:
        codes = [formats[0]] * count
    elif len(formats) == count:
        codes = list(formats)
    else:
        raise ProtocolViolation(
            f"bind message has {len(formats)} result formats but query has {count} columns"
        )
    for code in codes:
        if code not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {code}")
    return codes


def plan_for(schema: pa.Schema, formats: Sequence[int], timezone: str) -> BatchPlan:
    """The plan for batches of ``schema`` sent with these format codes (0, 1 or N of them)."""
    key = (tuple(formats), timezone)
    candidates = _plans.get(key)
    if candidates:
        for plan in candidates:
            if plan.schema is schema or plan.schema.equals(schema, check_metadata=True):
                return plan
    plan = _build(schema, tuple(expand_formats(formats, len(schema))), timezone)
    with _lock:
        if len(_plans) >= _MAX_KEYS:
            _plans.clear()
        kept = _plans.get(key, [])
        _plans[key] = [plan, *kept[: _MAX_SCHEMAS - 1]]
    return plan


def _build(schema: pa.Schema, codes: tuple[int, ...], timezone: str) -> BatchPlan:
    columns = []
    for field, fmt in zip(schema, codes, strict=True):
        pg = column_type_for_field(field)
        storage = prepared_type(field.type)
        columns.append(
            ColumnPlan(pg, fmt, storage == field.type, row_encoder(storage, pg, fmt, timezone))
        )
    return BatchPlan(schema, tuple(columns), EncodeContext(timezone=timezone))


def prepared_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type :func:`~veil.proxy.codec.columns.prepare` turns a column of type ``t`` into."""
    types = pa.types
    while True:
        if isinstance(t, pa.BaseExtensionType):
            t = t.storage_type
        elif types.is_dictionary(t) or types.is_run_end_encoded(t):
            t = t.value_type
        elif types.is_string_view(t) or types.is_large_string(t):
            t = pa.string()
        elif types.is_binary_view(t) or types.is_large_binary(t):
            t = pa.binary()
        elif types.is_list_view(t):
            t = pa.list_(t.value_field)
        elif types.is_large_list_view(t):
            t = pa.large_list(t.value_field)
        elif types.is_float16(t):
            t = pa.float32()
        else:
            return t
