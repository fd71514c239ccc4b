"""Running a federated plan: every fragment on its source (or from the latency cache), then the
local part on a private in-memory DuckDB over the fragments' Arrow results.

The local DuckDB can read nothing but the registered fragment results: external access is off
and its configuration is locked, so no statement can switch it back on. Fragments run
concurrently; the first failure interrupts the others. Each fragment is cached on its own, under
the exact SQL sent to its source plus the connection key, for the smallest latency of its tables,
so a repeated federated statement reads nothing from its sources while they are fresh.

A fragment that is not cached (its tables' latency is 0) and that the local part scans once
(:attr:`FederatedPlan.single_scan`) is *streamed*: its source's reader is registered with the
local DuckDB, which pulls batches as its operators consume them, so it is never held in Python
memory as a whole and what the join must keep (hash tables, sorts) stays under the local
``memory_limit`` and spills beyond it. Every other fragment is materialised first, because:

* a cached fragment must be stored whole, while the local part may stop reading early (LIMIT,
  EXISTS, a join whose other side is empty): a stream teed into the cache would store a prefix;
* a RecordBatchReader can be scanned only once (DuckDB refuses a second scan), and a fragment
  named twice, or inside a CTE (which DuckDB may inline at each reference), may be scanned twice.

A streamed fragment's source query stays open while the local part runs: its cursor is closed
(interrupted first when the local part did not read it to its end) when the statement finishes,
fails or is cancelled, and ``interrupt`` reaches it meanwhile. A source error in the middle of a
stream surfaces inside DuckDB as a scan error; the source's own error, mapped by the source, is
reported instead, so the client sees the same SQLSTATE and redacted message as when materialised.

A dynamic filter's target waits for its sources' results; a *race* target
(:mod:`veil.planner.federation.dynamic_filter`) starts at once and, when a race source answers first with few
enough keys, has its read interrupted and is sent again with them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from veil import errcodes
from veil.catalog.sources.base import Source, SourceCursor, drain, result_key, session_cursor
from veil.catalog.sources.duckdb.source import DuckDBCursor, map_duckdb_error
from veil.catalog.sources.sandbox import sandboxed_duckdb
from veil.config.models import VeilConfig
from veil.errors import QueryCanceled, StatementTimeout, VeilError
from veil.executor.cache.backend import CacheEntry
from veil.executor.deadline import Deadline, after
from veil.executor.results import ReaderStream, first_batch
from veil.executor.workers import in_worker
from veil.planner.federation.dynamic_filter import DynamicFilter, filtered_tree
from veil.planner.federation.local_types import (
    MARKER_PREFIX,
    lineage_markers,
    local_reader,
    local_table,
    marker_enum,
    padded_widths,
    repadded,
    source_typed,
)
from veil.planner.federation.plan import FederatedPlan, Fragment
from veil.planner.pushdown import source_sql
from veil.planner.verify import Outgoing, verify_sql
from veil.private_files import private_directory

if TYPE_CHECKING:
    from veil.engine.engine import QueryEngine

# ieee_floating_point_ops off: division by zero raises (22012) as in PostgreSQL instead of giving inf/NaN.
LOCAL_CONFIG: dict[str, str | bool | int | float | list[str]] = {"arrow_lossless_conversion": True, "ieee_floating_point_ops": False}

# DuckDB pins a few blocks per thread and operator; below this per thread a join or DISTINCT can fail
# with "out of memory" instead of spilling.
MEMORY_PER_THREAD = 96 * 1024**2

ErrorFilter = Callable[[VeilError], VeilError]


@dataclass(frozen=True)
class LocalLimits:
    """Bounds of one local DuckDB: memory beyond ``memory_limit`` spills into ``spill_directory``."""

    memory_limit: int
    spill_directory: Path

    @classmethod
    def from_config(cls, config: VeilConfig) -> LocalLimits:
        return cls(config.engine.memory_limit, config.engine.temp_directory or config.state_dir / "spill")


def out_of_local_memory(limits: LocalLimits) -> VeilError:
    """The error for a local join that could not finish within ``engine.memory_limit`` even by spilling."""
    return errcodes.OutOfMemory(
        f"out of memory: the local join needs more than engine.memory_limit ({limits.memory_limit} bytes)",
        hint=f"raise engine.memory_limit, or check that engine.temp_directory ({limits.spill_directory}) is writable and has space",
    )


def local_threads(memory_limit: int) -> int:
    """Threads for a local DuckDB under ``memory_limit``: each thread pins its own buffers while it
    builds a hash table or sorts, so with too little memory per thread DuckDB runs out of memory
    before it can spill (2 threads under 64 MiB did); at least :data:`MEMORY_PER_THREAD` each."""
    return max(1, min(os.cpu_count() or 1, memory_limit // MEMORY_PER_THREAD))


def local_connection(
    tables: Mapping[str, pa.Table | pa.RecordBatchReader],
    limits: LocalLimits | None = None,
    spill: Path | None = None,
    timezone: str = "UTC",
) -> duckdb.DuckDBPyConnection:
    """A locked-down in-memory DuckDB over ``tables`` (readers are already in local types),
    spilling into ``spill`` (a directory of its own: two DuckDB instances must not share one)
    beyond ``limits.memory_limit``, computing ``timestamptz`` in ``timezone`` (the session's)."""
    config = dict(LOCAL_CONFIG)
    if limits is not None and spill is not None:
        config.update(
            memory_limit=f"{limits.memory_limit}B", temp_directory=str(spill), preserve_insertion_order=False,
            threads=local_threads(limits.memory_limit),
        )
    connection = sandboxed_duckdb(config=config, timezone=timezone)
    for name, table in tables.items():
        connection.register(name, local_table(table) if isinstance(table, pa.Table) else table)
    return connection


def describe_federated(plan: FederatedPlan, sources: Mapping[str, Source]) -> pa.Schema:
    """The result schema: each fragment described by its source, then the local part described
    over empty tables of those schemas. Nothing is read."""
    empty = {}
    for fragment in plan.fragments:
        count = len(fragment.params) + (fragment.key_param is not None)
        schema = sources[fragment.connection].describe(fragment.sql, count)
        empty[fragment.name] = schema.empty_table()
    connection = local_connection(empty)
    sql = f"SELECT * FROM ({plan.local_sql}) AS veil_describe LIMIT 0"
    params = [None] * len(plan.local_params)
    try:
        described = DuckDBCursor(connection).execute(sql, params).schema
        schemas = {name: table.schema for name, table in empty.items()}
        candidates = {field.type for marked in lineage_markers(schemas).values() for field in marked.values()}
        if not any(field.type in candidates for field in described):  # no result column can be one
            return described
        return source_typed(described, _result_origins(connection, schemas, sql, params))
    except duckdb.Error as exc:
        raise map_duckdb_error(exc) from None
    finally:
        connection.close()


def _result_origins(
    connection: duckdb.DuckDBPyConnection, schemas: Mapping[str, pa.Schema], sql: str, params: list[None]
) -> dict[int, pa.Field]:
    """The fragment column each result column is, untouched, among those whose PostgreSQL type
    its Arrow type does not say (:func:`veil.planner.federation.local_types.lineage_markers`),
    described on ``connection`` (the describing one: opening another costs more than binding) with
    the fragments replaced by views casting those columns to their markers. A marker on a
    non-string column can make the local part fail to bind (a timestamp compared with a
    timestamp); then only the string columns are traced, and failing that none."""
    for attempt, strings_only in enumerate((False, True)):
        markers = lineage_markers(schemas, strings_only, f"{MARKER_PREFIX}{attempt}_")
        if not any(markers.values()):
            return {}
        script: list[str] = []  # one call: each statement costs DuckDB a few milliseconds on its own
        for index, (name, marked) in enumerate(markers.items()):
            raw = f"veil_lineage_fragment_{index}"
            if attempt == 0:
                connection.register(raw, local_table(schemas[name].empty_table()))
            columns = {field.name: marker for marker, field in marked.items()}
            script.extend(f"CREATE TYPE {marker} AS ENUM ('{marker}')" for marker in marked)
            listed = ", ".join(
                f"CAST({_quoted(column)} AS {columns[column]}) AS {_quoted(column)}" if column in columns
                else _quoted(column) for column in schemas[name].names
            )
            script.append(f"CREATE OR REPLACE TEMP VIEW {_quoted(name)} AS SELECT {listed} FROM {raw}")
        try:
            connection.execute(";\n".join(script))
            described = connection.execute(sql, params).description or []
        except duckdb.Error:
            continue
        fields = {marker_enum(marker): field for marked in markers.values() for marker, field in marked.items()}
        return {i: fields[str(column[1])] for i, column in enumerate(described) if str(column[1]) in fields}
    return {}


def _repadding(reader: pa.RecordBatchReader, widths: dict[int, int]) -> pa.RecordBatchReader:
    """The local part's rows with the char(n) columns it returns untouched padded again."""

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield repadded(batch, widths)

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _discard(task: asyncio.Future[pa.Table | pa.RecordBatchReader]) -> None:
    """Retrieve an abandoned read's outcome (its cancellation error), which nobody awaits."""
    if not task.cancelled():
        task.exception()


class _Attempt:
    """One read of a race target, which the race may abandon: its cursor is then interrupted and
    its rows (if it finishes anyway) are not used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursor: SourceCursor | None = None
        self._abandoned = False
        self._finished = False

    def start(self, cursor: SourceCursor) -> bool:
        with self._lock:
            self._cursor = cursor
            return not self._abandoned

    def finish(self) -> bool:
        with self._lock:
            self._finished = not self._abandoned
            return self._finished

    def abandon(self) -> bool:
        """Whether the read was abandoned (False: it already has its rows)."""
        with self._lock:
            if self._finished:
                return False
            self._abandoned = True
            cursor = self._cursor
        if cursor is not None:
            cursor.interrupt()
        return True


class FederatedExecution:
    """One execution of a federated plan; ``interrupt`` may be called from any thread."""

    def __init__(self, engine: QueryEngine, plan: FederatedPlan, on_error: ErrorFilter, timezone: str = "UTC") -> None:
        self._engine = engine
        self._timezone = timezone  # the session's TimeZone: the local part and DuckDB fragments compute in it
        self._plan = plan
        self._on_error = on_error
        self._lock = threading.Lock()
        self._cursors: list[SourceCursor] = []
        self._local: DuckDBCursor | None = None
        self._interrupted = False
        self._limits = LocalLimits.from_config(engine.config)
        self._spill: Path | None = None
        self._streams: dict[int, SourceCursor] = {}  # streamed fragments' open cursors, by id
        self._drained: set[int] = set()  # ids of those read to their end
        self._stream_error: VeilError | None = None
        self.cache_hits = 0
        self.source_bytes = 0  # bytes of fragment results read from sources (not from cache)
        # never streamed: read whole before their targets are sent, or possibly read twice
        self._materialised = {f.source for f in plan.dynamic_filters} | {
            f.target for f in plan.dynamic_filters if f.race
        }
        self._sent: dict[str, str] = {}  # fragment name -> the SQL sent (with its dynamic filters)

    @property
    def pushed_sql(self) -> list[str]:
        """The SQL each fragment was sent (planned SQL for those not reached)."""
        return [self._sent.get(f.name, f.sql) for f in self._plan.fragments]

    def _interrupt_off_loop(self) -> None:
        """Interrupt from a thread of its own: a driver's cancel may wait on a silent source."""
        threading.Thread(target=self.interrupt, name="veil-interrupt", daemon=True).start()

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            running = [*self._cursors, *([self._local] if self._local else [])]
        for cursor in running:
            cursor.interrupt()

    async def run(
        self, schema: pa.Schema, params: Sequence[object | None], on_close: Callable[[], None]
    ) -> ReaderStream:
        """Fetch every fragment, then start the local part; rows stream from the local engine."""
        started: dict[str, asyncio.Future[pa.Table | pa.RecordBatchReader]] = {}
        for fragment in self._plan.fragments:
            values = self._engine.with_hash_key([params[i] for i in fragment.params], fragment.key_param)
            started[fragment.name] = asyncio.ensure_future(self._fetch_filtered(fragment, values, started))
        tasks = list(started.values())
        sources = self._engine.catalog.sources
        deadline = max((Deadline.for_source(sources[name]) for name in self._plan.connections), key=lambda d: d.seconds)
        gathered = asyncio.gather(*tasks)
        try:
            tables = await deadline.wait(gathered, self._interrupt_off_loop)
        except StatementTimeout:
            # a source gone silent: its read may never return; clean up whenever it does
            def close_late() -> None:
                self._close_streams()
                on_close()

            after(gathered, close_late)
            raise
        except BaseException:
            self.interrupt()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._close_streams()
            on_close()
            raise
        local_params = [params[i] for i in self._plan.local_params]
        named = {fragment.name: table for fragment, table in zip(self._plan.fragments, tables, strict=True)}

        def finished() -> None:
            with self._lock:
                local, self._local = self._local, None
            if local is not None:
                local.close()
            self._close_streams()
            if self._spill is not None:
                shutil.rmtree(self._spill, ignore_errors=True)
            on_close()

        try:
            reader, first = await in_worker(self._start_local, named, local_params, padded_widths(schema))
        except BaseException as exc:
            finished()
            if isinstance(exc, Exception):
                raise self._error(exc, map_duckdb_error) from None
            raise
        return ReaderStream(schema, reader, first, finished, lambda exc: self._error(exc, map_duckdb_error))

    def _error(self, exc: BaseException, mapper: Callable[[BaseException], VeilError]) -> VeilError:
        if self._interrupted:
            return QueryCanceled()
        if self._stream_error is not None:
            return self._on_error(self._stream_error)
        if isinstance(exc, duckdb.OutOfMemoryException):
            return out_of_local_memory(self._limits)
        return self._on_error(exc if isinstance(exc, VeilError) else mapper(exc))

    def _start_local(
        self, tables: Mapping[str, pa.Table | pa.RecordBatchReader], params: list[object | None], widths: dict[int, int]
    ) -> tuple[pa.RecordBatchReader, pa.RecordBatch | None]:
        private_directory(self._limits.spill_directory)
        self._spill = Path(tempfile.mkdtemp(prefix="local-", dir=self._limits.spill_directory))
        cursor = DuckDBCursor(local_connection(tables, self._limits, self._spill, self._timezone))
        with self._lock:
            if self._interrupted:
                cursor.close()
                raise QueryCanceled()
            self._local = cursor
        reader: pa.RecordBatchReader = cursor.execute(self._plan.local_sql, params)
        if widths:
            reader = _repadding(reader, widths)
        return reader, first_batch(reader)

    async def _fetch_filtered(
        self,
        fragment: Fragment,
        params: list[object | None],
        started: Mapping[str, asyncio.Future[pa.Table | pa.RecordBatchReader]],
    ) -> pa.Table | pa.RecordBatchReader:
        """A fragment's rows; a dynamic filter's target first waits for its sources' results
        (materialised, never streamed) and is sent with their keys."""
        filters = [f for f in self._plan.dynamic_filters if f.target == fragment.name and not f.race]
        races = [f for f in self._plan.dynamic_filters if f.target == fragment.name and f.race]
        sources = {f.source: await started[f.source] for f in filters}
        sql = await in_worker(self._filtered_sql, fragment, filters, sources) if filters else fragment.sql
        self._sent[fragment.name] = sql
        if not races:
            return await self._fetch(fragment, sql, params)
        attempt = _Attempt()
        running = asyncio.ensure_future(self._fetch(fragment, sql, params, attempt))
        await asyncio.wait({running, *(started[f.source] for f in races)}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            return await running
        answered = {
            f.source: future.result()
            for f in races
            if (future := started[f.source]).done() and not future.cancelled() and future.exception() is None
        }
        won = [f for f in races if f.source in answered]
        filtered = await in_worker(self._filtered_sql, fragment, [*filters, *won], {**sources, **answered})
        if filtered == sql or not attempt.abandon():
            return await running
        running.add_done_callback(_discard)  # its cancellation lands while the filtered read starts
        self._sent[fragment.name] = filtered
        return await self._fetch(fragment, filtered, params)

    def _filtered_sql(
        self, fragment: Fragment, filters: list[DynamicFilter], sources: Mapping[str, pa.Table | pa.RecordBatchReader]
    ) -> str:
        tables = {name: table for name, table in sources.items() if isinstance(table, pa.Table)}
        if fragment.tree is None or len(tables) != len(sources):
            return fragment.sql
        types = {key.output: key.arrow_type for key in fragment.keys}
        tree = filtered_tree(fragment.tree, filters, tables, types)
        if tree is None:
            return fragment.sql
        dialect = self._engine.catalog.sources[fragment.connection].dialect
        sql = source_sql(tree, dialect)
        verify_sql(Outgoing(sql, dialect, fragment.key_param), self._plan.protected)
        return sql

    async def _fetch(
        self, fragment: Fragment, sql: str, params: list[object | None], attempt: _Attempt | None = None
    ) -> pa.Table | pa.RecordBatchReader:
        """A fragment's rows (``sql``: its SQL, dynamically filtered or not): from the cache while
        fresh, else from its source (single-flight), streamed when nothing caches it, the local
        part scans it once and no dynamic filter reads it first."""
        engine = self._engine
        source = engine.catalog.sources[fragment.connection]
        ttl = engine.latency_for(fragment.tables)
        slot = engine.source_slot(fragment.connection)
        if ttl <= 0:
            async with slot:
                if fragment.name in self._plan.single_scan and fragment.name not in self._materialised:
                    return await in_worker(self._stream, source, sql, params)
                return await in_worker(self._read, source, sql, params, attempt)
        cache = engine.cache
        statement_params = params[: len(fragment.params)]
        key = (result_key(source, self._timezone), sql, engine.cache_parameters(statement_params, fragment.key_param))

        async def load() -> pa.Table:
            async with slot:
                table = await in_worker(self._read, source, sql, params, attempt)
            tables = frozenset(t.source_key for t in fragment.tables)
            now = cache.clock()
            await cache.store(key, CacheEntry(table.schema, tuple(table.to_batches()), table.nbytes, now + ttl, tables, now))
            return table

        result = await cache.get_or_load(key, ttl, load)
        if isinstance(result, CacheEntry):
            self.cache_hits += 1
            return pa.Table.from_batches(result.batches, schema=result.schema)
        return result

    def _open_cursor(self, source: Source, streamed: bool) -> SourceCursor:
        """A cursor on ``source``, registered so that ``interrupt`` reaches it."""
        cursor = session_cursor(source, self._timezone)
        with self._lock:
            if self._interrupted:
                cursor.close()
                raise QueryCanceled()
            self._cursors.append(cursor)
            if streamed:
                self._streams[id(cursor)] = cursor
        return cursor

    def _stream(self, source: Source, sql: str, params: list[object | None]) -> pa.RecordBatchReader:
        """Start a fragment's query; its batches are read as the local part consumes them."""
        cursor = self._open_cursor(source, streamed=True)
        try:
            reader = cursor.execute(sql, params)
        except Exception as exc:  # noqa: BLE001 - any driver error becomes a PostgreSQL error
            raise self._error(exc, source.map_error) from None
        return local_reader(reader.schema, self._batches(source, cursor, reader))

    def _batches(self, source: Source, cursor: SourceCursor, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """The batches of a streamed fragment, counted; a failure is kept to be reported as the
        source's own error (DuckDB only sees that its scan failed)."""
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                with self._lock:
                    self._drained.add(id(cursor))
                return
            except Exception as exc:
                mapped = exc if isinstance(exc, VeilError) else source.map_error(exc)
                with self._lock:
                    self._stream_error = self._stream_error or mapped
                raise
            with self._lock:
                self.source_bytes += batch.get_total_buffer_size()
            yield batch

    def _close_streams(self) -> None:
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
            drained = set(self._drained)
            for cursor in streams:
                self._cursors.remove(cursor)
        for cursor in streams:
            if id(cursor) not in drained:
                cursor.interrupt()
            cursor.close()

    def _read(self, source: Source, sql: str, params: list[object | None], attempt: _Attempt | None = None) -> pa.Table:
        cursor = self._open_cursor(source, streamed=False)
        try:
            if attempt is not None and not attempt.start(cursor):
                raise QueryCanceled()
            table = drain(cursor.execute(sql, params))
            if attempt is not None and not attempt.finish():
                raise QueryCanceled()
        except Exception as exc:  # noqa: BLE001 - any driver error becomes a PostgreSQL error
            raise self._error(exc, source.map_error) from None
        finally:
            with self._lock:
                self._cursors.remove(cursor)
            cursor.close()
        with self._lock:
            self.source_bytes += table.nbytes
        return table
