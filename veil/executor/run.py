"""Running a planned statement on its sources: one source (Arrow or pass-through DataRows), a
federated join, or the admin views. A mixin of :class:`veil.engine.session.Session`, which owns
the running statement (interrupted by a cancel) and the redaction of source errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

import duckdb
import pyarrow as pa
from sqlglot import exp

from veil.admin.audit import AuditRecord
from veil.admin.redact import redact_error, scrub_error
from veil.admin.views import (
    DISCOVER_SCHEMA,
    SYNC_SCHEMA,
    AdminDescription,
    FunctionBuilder,
    ViewBuilder,
    audit_view,
    cache_view,
    columns_view,
    config_problems_view,
    describe_admin_query,
    discover_view,
    policies_view,
    run_admin_query,
    sync_history_view,
    sync_view,
    tables_view,
)
from veil.api import ResultStream, SessionInfo
from veil.catalog.sources.duckdb.source import map_duckdb_error
from veil.catalog.sources.postgres.passthrough import PassthroughCursor, SessionSettings
from veil.errors import QueryCanceled, StatementTimeout, VeilError
from veil.executor.deadline import Deadline, OpeningCursor, after
from veil.executor.federated import FederatedExecution
from veil.executor.membudget import BUDGET, STATEMENT_BYTES
from veil.executor.passthru import FastPassthrough, Passthrough, PassthroughSource, run_passthrough
from veil.executor.results import Head, ReaderStream, read_head
from veil.executor.workers import start_in_worker
from veil.planner.federation.plan import FederatedPlan
from veil.planner.pushdown import SourcePlan
from veil.policy.principals import User
from veil.sql.settings import Settings

if TYPE_CHECKING:
    from veil.engine.engine import QueryEngine


class Interruptible(Protocol):
    """A running statement the session can interrupt: an :class:`OpeningCursor`, a
    :class:`PassthroughCursor` or a :class:`FederatedExecution`."""

    def interrupt(self) -> None: ...


def interrupt_in_thread(running: Interruptible | None) -> None:
    """Interrupt a running statement from a thread of its own: a driver's cancel may wait on a
    source that went silent, and this is called from the event loop."""
    if running is not None:
        threading.Thread(target=running.interrupt, name="veil-interrupt", daemon=True).start()


class StatementExecution:
    """The execution helpers of :class:`veil.engine.session.Session` (which sets these fields)."""

    engine: QueryEngine
    info: SessionInfo
    settings: Settings
    user: User
    _running: Interruptible | None
    _canceled: bool

    def _redacted(self, error: VeilError) -> VeilError:
        """Source errors lose quoted values; names the user can see anyway are kept."""
        snapshot = self.engine.snapshot_for(self.user)
        names = {t.schema for t in snapshot} | {t.name for t in snapshot}
        names |= {n for t in snapshot for c in t.columns for n in (c.name, c.raw_name)}
        return scrub_error(redact_error(error, names), self.engine.config.secrets.values())

    async def _run_source(self, plan: SourcePlan, schema: pa.Schema, params: Sequence[object | None]) -> ResultStream:
        source = self.engine.catalog.sources[plan.connection]
        values = self.engine.with_hash_key(params, plan.key_param)
        # opened on the worker (a connect never blocks the event loop), in the session's TimeZone
        cursor = OpeningCursor(source, self.settings.get("TimeZone"))
        self._running = cursor
        sql = plan.sql
        deadline = Deadline.for_source(source)

        def start() -> tuple[pa.RecordBatchReader, Head]:
            reader = cursor.open().execute(sql, values)
            return reader, read_head(reader)

        def finished() -> None:
            if self._running is cursor:
                self._running = None
            cursor.close()

        def map_error(exc: BaseException) -> VeilError:
            if deadline.expired:
                return deadline.error()
            if self._canceled:
                return QueryCanceled()
            return self._redacted(exc if isinstance(exc, VeilError) else source.map_error(exc))

        slot = self.engine.source_slot(plan.connection)
        await BUDGET.reserve(STATEMENT_BYTES)
        started = None
        try:
            async with slot:
                started = start_in_worker(start)
                reader, first = await deadline.wait(started, cursor.interrupt_off_loop)
        except StatementTimeout:
            BUDGET.release(STATEMENT_BYTES)
            assert started is not None  # only the wait on it times out
            after(started, finished)  # the source call may stay blocked: close when it returns
            raise
        except BaseException as exc:
            BUDGET.release(STATEMENT_BYTES)
            finished()
            if isinstance(exc, Exception):  # any driver error becomes a PostgreSQL error
                raise map_error(exc) from None
            raise
        return ReaderStream(
            schema, reader, first, finished, map_error, deadline, cursor.interrupt_off_loop, STATEMENT_BYTES, slot
        )

    _passthrough_settings: SessionSettings | None = None

    def passthrough_settings(self) -> SessionSettings:
        """The session's settings a pass-through statement runs with on the source (the same
        object while they do not change: pooled connections compare it first by identity)."""
        timezone, timeout = self.settings.get("TimeZone"), self.settings.get("statement_timeout")
        cached = self._passthrough_settings
        if cached is None or cached.timezone != timezone or cached.statement_timeout != timeout:
            cached = self._passthrough_settings = SessionSettings(timezone, timeout, self.info.user)
        return cached

    def _fast_ticket(
        self, plan: SourcePlan, schema: pa.Schema, record: Callable[[], AuditRecord]
    ) -> FastPassthrough | None:
        """The fast path of a statement that just ran through pass-through (``record``: a new
        audit record of it), or ``None`` when its source has none."""
        fast_pool = getattr(self.engine.catalog.sources[plan.connection], "fast_pool", None)
        if fast_pool is None:
            return None
        engine, sql, key_param = self.engine, plan.sql, plan.key_param
        return FastPassthrough(
            sql,
            schema,
            lambda: fast_pool(sql, schema),
            lambda params: engine.with_hash_key(params, key_param),
            key_param,
            self.passthrough_settings,
            record,
            lambda: engine.audit,
            self._redacted,
            lambda: self.settings.get_or_none("application_name") or "",
        )

    async def _run_passthrough(
        self, plan: SourcePlan, schema: pa.Schema, params: Sequence[object | None], formats: Sequence[int]
    ) -> ResultStream | None:
        """The source's own DataRows (:mod:`veil.executor.passthru`), or ``None``: use Arrow."""
        source = self.engine.catalog.sources[plan.connection]
        if not hasattr(source, "passthrough_cursor"):
            return None
        settings = self.passthrough_settings()

        def running(cursor: PassthroughCursor, started: bool) -> None:
            if started:
                self._running = cursor
                if self._canceled:
                    raise QueryCanceled()
            elif self._running is cursor:
                self._running = None

        def map_error(exc: BaseException) -> VeilError:
            if self._canceled:
                return QueryCanceled()
            return self._redacted(exc if isinstance(exc, VeilError) else source.map_error(exc))

        request = Passthrough(plan.sql, schema, self.engine.with_hash_key(params, plan.key_param), settings, formats)
        # hasattr above: the source has passthrough_cursor, all PassthroughSource asks for.
        return await run_passthrough(cast(PassthroughSource, source), request, running, map_error)

    async def _run_federated(
        self, plan: FederatedPlan, schema: pa.Schema, params: Sequence[object | None], record: AuditRecord
    ) -> ResultStream:
        execution = FederatedExecution(self.engine, plan, self._redacted, self.settings.get("TimeZone"))
        self._running = execution

        def finished() -> None:
            if self._running is execution:
                self._running = None

        try:
            stream = await execution.run(schema, params, finished)
        finally:
            record.pushed_sql = execution.pushed_sql  # as sent: with their dynamic filters
        record.cache_hit = execution.cache_hits == len(plan.fragments)
        return stream

    def _run_admin(self, statement: exp.Expr, params: Sequence[object | None] = ()) -> pa.Table:
        views, functions = self._admin_relations(describe_only=False)
        try:
            return run_admin_query(statement, views, functions, params)
        except duckdb.Error as exc:
            raise map_duckdb_error(exc) from None

    def _describe_admin(self, statement: exp.Expr, param_count: int) -> AdminDescription:
        views, functions = self._admin_relations(describe_only=True)
        try:
            return describe_admin_query(statement, views, functions, param_count)
        except duckdb.Error as exc:
            raise map_duckdb_error(exc) from None

    def _admin_relations(self, describe_only: bool) -> tuple[dict[str, ViewBuilder], dict[str, FunctionBuilder]]:
        engine = self.engine
        catalog = engine.catalog
        views = {
            "tables": lambda: tables_view(catalog, engine.config),
            "columns": lambda: columns_view(catalog, engine.config),
            "policies": lambda: policies_view(engine.config),
            "audit": lambda: audit_view(engine.config),
            "cache": lambda: cache_view(engine.cache.summary()),
            "sync_history": lambda: sync_history_view(engine.config),
            "config_problems": lambda: config_problems_view(engine.config_problems()),
        }
        functions = {  # describing a statement must not run a sync
            "sync": lambda names: SYNC_SCHEMA.empty_table() if describe_only else sync_view(engine.sync(names or None)),
            "discover": lambda patterns: (
                DISCOVER_SCHEMA.empty_table() if describe_only else discover_view(engine.discover(patterns or ()))
            ),
        }
        return views, functions
