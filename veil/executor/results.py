"""Result streams: Arrow record batches pulled from a source cursor in a worker thread.

The blocking source call and the first batch share one thread hop; when that batch is small,
the same hop reads on (:func:`read_head`), so a small result is usually known to be complete and
a point query costs a single hop in all. Later batches are pulled one at a time, only when the
wire front end asks, which is what keeps memory flat and lets a slow client slow only its own
stream.

Memory: a stream holds a reservation in the process's :data:`~veil.executor.membudget.BUDGET`
(``server.max_memory``), taken before its statement started; when the batches it holds (the one
being sent and the one read ahead) outgrow it, it reserves more before reading on, waiting in
the budget's queue or failing with 53200. Reads on a source take one of the source's slots
(``max_concurrency``) for their duration, so a locked source holds at most that many threads.
Slices after a result's first take turns of the loop's bulk lane (:mod:`veil.executor.lanes`),
so the scans in flight cannot make a point query wait behind all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from veil.errors import StatementTimeout, VeilError
from veil.executor.deadline import Deadline, after
from veil.executor.jsonb_text import jsonb_texts
from veil.executor.lanes import bulk_lane
from veil.executor.membudget import BUDGET
from veil.executor.workers import start_in_worker
from veil.pgfields import NORMALISE_JSONB, PAD_CHAR, pinned_metadata
from veil.pgtypes import BY_NAME, BY_OID, JSONB, NUMERIC, PG_TYPE_METADATA_KEY, PG_TYPMOD_METADATA_KEY
from veil.sql.origins import without_origins

ErrorMapper = Callable[[BaseException], VeilError]

#: A first batch of at most this many rows is followed by one more read in the same hop.
PEEK_ROWS = 1024
#: Bigger batches reach the wire in slices of this many rows, with a turn of the event loop
#: between slices: encoding a 100k-row batch at once would make every other session's point
#: query wait for it.
SLICE_ROWS = 8192


@dataclass(frozen=True, slots=True)
class Head:
    """The batches read in the thread hop that started a result, and whether that was all."""

    batches: tuple[pa.RecordBatch, ...]
    complete: bool


class RowsStream:
    """Rows already in memory (SHOW, catalog answers, empty results, a FETCH).

    ``binary``: a FETCH from a ``DECLARE ... BINARY CURSOR``, whose rows a simple Query sends in
    binary format (under the extended protocol Bind's result formats decide, as in PostgreSQL)."""

    binary: bool = False

    def __init__(self, schema: pa.Schema | None, batches: Iterable[pa.RecordBatch] = (), tag: str = "SELECT") -> None:
        self.schema = schema
        self._batches = list(batches)
        self._tag = tag

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        for batch in self._batches:
            yield batch

    def command_tag(self, rows_sent: int) -> str:
        return f"{self._tag} {rows_sent}" if self._tag == "SELECT" else self._tag

    async def close(self) -> None:
        self._batches = []


class ReaderStream:
    """Rows pulled lazily from a RecordBatchReader running on a source cursor.

    While the wire front end encodes and sends one batch, the next is already being read on a
    worker thread (one batch ahead, no more: memory stays bounded and a slow client still
    slows its stream), so a remote source's transfer overlaps Veil's encoding. The cursor is
    closed only once no read is in flight, whatever ends the stream (end, error, cancel)."""

    def __init__(
        self,
        schema: pa.Schema,
        reader: pa.RecordBatchReader,
        first: pa.RecordBatch | Head | None,
        on_close: Callable[[], None],
        map_error: ErrorMapper,
        deadline: Deadline | None = None,
        interrupt: Callable[[], None] = lambda: None,
        reserved: int = 0,
        slot: asyncio.Semaphore | None = None,
    ) -> None:
        self.schema = schema
        self._deadline = deadline  # past it, a read still blocked is abandoned (57014)
        self._interrupt = interrupt
        self._abandoned = False
        self._reader = reader
        if isinstance(first, Head):
            self._head, self._complete = first.batches, first.complete
        else:
            self._head, self._complete = (() if first is None else (first,)), False
        self._on_close = on_close
        self._map_error = map_error
        self._closed = False
        self._reading: asyncio.Future[pa.RecordBatch | None] | None = None
        self._reserved = reserved
        self._slot = slot

    async def _read_ahead(self, holding: int) -> asyncio.Future[pa.RecordBatch | None] | None:
        """Start reading the next batch, once the bytes held (``holding`` plus one more batch of
        the same size) fit in the reservation and a slot of the source is free."""
        wanted = 2 * holding
        if wanted > self._reserved:
            await BUDGET.reserve(wanted - self._reserved)
            self._reserved = wanted
        slot = self._slot
        if slot is not None:
            await slot.acquire()
        if self._closed:
            if slot is not None:
                slot.release()
            return None
        reading = start_in_worker(_next_batch, self._reader, self._map_error)
        if slot is not None:
            reading.add_done_callback(lambda _: slot.release())
        self._reading = reading
        return reading

    async def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        try:
            head, self._head = self._head, ()
            reading = None
            if not self._complete:  # a point query's head is usually the whole result
                # buffer sizes, not ``nbytes``: that walks the offsets (~30 µs for a one-row batch)
                reading = await self._read_ahead(max((b.get_total_buffer_size() for b in head), default=0))
            for batch in head:
                if batch.num_rows <= SLICE_ROWS:  # as it is: no slicing generator per point query
                    if batch.num_rows:
                        yield conform(batch, self.schema)
                    continue
                async for piece in _fair_slices(batch, first_free=True):
                    yield conform(piece, self.schema)
            while reading is not None and not self._closed:
                batch = await self._wait(reading)
                if batch is None:
                    break
                reading = None if self._closed else await self._read_ahead(batch.get_total_buffer_size())
                async for piece in _fair_slices(batch, first_free=False):
                    yield conform(piece, self.schema)
        finally:
            await self.close()

    async def _wait(self, reading: asyncio.Future[pa.RecordBatch | None]) -> pa.RecordBatch | None:
        if self._deadline is None:
            return await asyncio.shield(reading)
        try:
            return await self._deadline.wait(reading, self._interrupt)
        except StatementTimeout:
            self._abandoned = True
            raise

    def command_tag(self, rows_sent: int) -> str:
        return f"SELECT {rows_sent}"

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reading, self._reading = self._reading, None
        if reading is not None and not reading.done() and self._abandoned:
            after(reading, self._on_close)  # a read blocked past the deadline: close when it returns
            return
        if reading is not None and not reading.done():
            # The cursor may be closed only after the read on it has returned.
            await asyncio.wait([reading])
        if reading is not None and reading.done() and not reading.cancelled():
            reading.exception()  # a read-ahead nobody consumed: its error is not news
        reserved, self._reserved = self._reserved, 0
        BUDGET.release(reserved)
        self._on_close()


async def _fair_slices(batch: pa.RecordBatch, first_free: bool) -> AsyncIterator[pa.RecordBatch]:
    """``batch`` in zero-copy slices of :data:`SLICE_ROWS`, each after a turn of the bulk lane
    (:mod:`veil.executor.lanes`) but the first of a ``first_free`` batch: short statements'
    steps run between them."""
    rows = batch.num_rows
    if not rows:
        return
    lane = bulk_lane()
    for start in range(0, rows, SLICE_ROWS):
        if start or not first_free:
            await lane.turn()
        yield batch.slice(start, SLICE_ROWS) if rows > SLICE_ROWS else batch


def _next_batch(reader: pa.RecordBatchReader, map_error: ErrorMapper) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except Exception as exc:  # noqa: BLE001 - source drivers raise many types; map them all
        raise map_error(exc) from None


def first_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def read_head(reader: pa.RecordBatchReader) -> Head:
    """The first batch and, when it is small (a point query), the next one or the end."""
    first = first_batch(reader)
    if first is None:
        return Head((), True)
    if first.num_rows > PEEK_ROWS:
        return Head((first,), False)
    second = first_batch(reader)
    if second is None:
        return Head((first,), True)
    return Head((first, second), False)


_ENCODED_AS: dict[int, tuple[pa.Schema, pa.Schema]] = {}
_ENCODED_AS_ENTRIES = 256


def _encoded_as(schema: pa.Schema) -> pa.Schema:
    """``schema`` without the columns' origins, kept per described schema (by identity)."""
    known = _ENCODED_AS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    if len(_ENCODED_AS) >= _ENCODED_AS_ENTRIES:
        _ENCODED_AS.clear()
    stripped = without_origins(schema)
    _ENCODED_AS[id(schema)] = (schema, stripped)
    return stripped


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Give a batch the schema its RowDescription announced (names, pinned types, casts for
    columns whose type was unknown at Describe time, such as ``SELECT $1``).

    The columns' origins are left out: RowDescription reads them from the described schema,
    rows are encoded without them, and rebuilding a batch only to add them cost ~16 µs per
    point query."""
    actual = batch.schema
    if actual.equals(schema, check_metadata=True) or actual.equals(_encoded_as(schema), check_metadata=True):
        return batch
    if actual.equals(schema) and not any(f.metadata and _CONVERTED & f.metadata.keys() for f in schema):
        # only the fields' metadata differs (origins, pinned types)
        return pa.RecordBatch.from_arrays(list(batch.itercolumns()), schema=schema)
    arrays = [
        _conformed(column, field) for column, field in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


_CONVERTED = frozenset({NORMALISE_JSONB, PAD_CHAR})  # pinned columns whose values change too


def _conformed(column: pa.Array, field: pa.Field) -> pa.Array:
    if isinstance(column.type, pa.BaseExtensionType):
        column = column.storage
    if field.metadata and NORMALISE_JSONB in field.metadata:
        return jsonb_texts(column)
    if field.metadata and PAD_CHAR in field.metadata:
        return pc.utf8_rpad(column.cast(pa.string()), width=int(field.metadata[PAD_CHAR]), padding=" ")
    return column if column.type == field.type else column.cast(field.type)


def _char_typmod(field: pa.Field) -> int:
    """The typmod of a field a source describes as char(n) (max(ch) is char(n) there), else -1."""
    metadata = field.metadata or {}
    if metadata.get(PG_TYPE_METADATA_KEY) != str(BY_NAME["bpchar"].oid).encode():
        return -1
    return int(metadata.get(PG_TYPMOD_METADATA_KEY, b"-1"))


def numeric_columns(
    schema: pa.Schema, numeric: tuple[tuple[int, int], ...], pinned: tuple[tuple[int, int, int], ...] = ()
) -> pa.Schema:
    """``schema`` with the columns PostgreSQL describes as ``numeric`` (position, typmod) pinned
    so: a DuckDB source returns a decimal with its own precision where PostgreSQL's computed
    value has none, and quotients as text printed at PostgreSQL's scale
    (veil.pgcatalog.pgnumeric). The ``pinned`` columns (position, type OID, typmod: jsonb,
    varchar, char(n), which DuckDB computes as json and text) are served as that type: a string
    column is, a jsonb one with its text normalised as PostgreSQL's jsonb prints it."""
    if not numeric and not pinned:
        return schema
    fields = list(schema)
    for index, oid, typmod in pinned:
        field = fields[index]
        storage = getattr(field.type, "storage_type", field.type)  # json: an extension type
        if pa.types.is_string(storage) or pa.types.is_large_string(storage):
            kept = {k: v for k, v in (field.metadata or {}).items() if k != PG_TYPMOD_METADATA_KEY}
            metadata = {**kept, **pinned_metadata(BY_OID[oid], typmod)}  # a source column's typmod goes
            if oid == JSONB.oid:
                metadata[NORMALISE_JSONB] = b"1"
            elif oid == BY_NAME["bpchar"].oid:  # char(n): blank-padded to n (a source column's n, if it was one)
                width = typmod if typmod > 4 else _char_typmod(field)
                if width > 4:
                    metadata[PAD_CHAR] = str(width - 4).encode()
            fields[index] = pa.field(field.name, pa.string(), field.nullable, metadata=metadata)
    for index, typmod in numeric:
        field = fields[index]
        if pa.types.is_string(field.type) or pa.types.is_decimal(field.type):
            fields[index] = field.with_metadata({**(field.metadata or {}), **pinned_metadata(NUMERIC, typmod)})
        elif pa.types.is_list(field.type) and pa.types.is_decimal(field.type.value_type):  # numeric[]
            array = pinned_metadata(BY_OID[NUMERIC.array_oid], typmod)
            fields[index] = field.with_metadata({**(field.metadata or {}), **array})
    return pa.schema(fields, metadata=schema.metadata)


def parameter_columns(schema: pa.Schema, columns: tuple[tuple[int, int], ...]) -> pa.Schema:
    """``schema`` with each column that is a bare ``$n`` (position, type OID) pinned to the
    parameter's PostgreSQL type, as PostgreSQL describes ``SELECT $1``."""
    if not columns:
        return schema
    fields = list(schema)
    for index, oid in columns:
        if index < len(fields):
            field = fields[index]
            fields[index] = field.with_metadata({**(field.metadata or {}), **pinned_metadata(BY_OID[oid])})
    return pa.schema(fields, metadata=schema.metadata)
