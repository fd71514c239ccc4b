"""One client connection's engine state: settings, transaction block, running statement."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from itertools import zip_longest
from typing import TYPE_CHECKING, cast

import pyarrow as pa
from sqlglot import exp

from veil import errcodes
from veil.admin.audit import AppliedPolicy, AuditedStream, AuditRecord
from veil.api import PreparedStatement, ResultStream, SessionInfo
from veil.catalog.model import Table
from veil.catalog.sources.base import result_key
from veil.catalog.sources.duckdb.source import map_duckdb_error
from veil.config.models import UserConfig
from veil.engine.explain import explain_lines
from veil.engine.fast_tickets import cache_hit_ticket
from veil.engine.plans import AdminPlan, LocalPlan, Plan
from veil.engine.schemas import describable, renamed, text_schema
from veil.engine.show import show
from veil.engine.sql_objects import SqlObjects, SqlPrepared
from veil.errors import (
    InFailedTransaction,
    InsufficientPrivilege,
    StatementTimeout,
    VeilError,
)
from veil.executor.cache.backend import CacheEntry
from veil.executor.cache.fasthit import FastCacheHit
from veil.executor.cache.hits import ArrowHit, EncodedHit, serve_hit
from veil.executor.cache.latency import CachingStream
from veil.executor.copy_out import CopyStream
from veil.executor.deadline import Deadline, after
from veil.executor.federated import LocalLimits, describe_federated
from veil.executor.membudget import BUDGET, STATEMENT_BYTES
from veil.executor.passthru import EncodedStream, FastPassthrough
from veil.executor.results import ReaderStream, RowsStream, conform, numeric_columns, parameter_columns
from veil.executor.run import StatementExecution, interrupt_in_thread
from veil.executor.workers import in_worker, offloaded, start_in_worker
from veil.pgcatalog.schema import RELATIONS
from veil.planner.federation.plan import FederatedPlan, plan_query
from veil.planner.plan_cache import CachedPlan, plan_cache_key
from veil.planner.pushdown import SourcePlan, analyze, served_source
from veil.planner.verify import relation_marker, verify_plan
from veil.policy.leakproof import predicates_are_leakproof
from veil.policy.masks import hash_key_parameter
from veil.policy.resolve import describe_policy
from veil.policy.rewrite import PolicyContext, protected_table
from veil.sql import statements
from veil.sql.colnames import postgres_names
from veil.sql.limits import check_statement_size, stack_depth_exceeded
from veil.sql.origins import catalog_tables, column_origins, served_tables, with_origins
from veil.sql.params import placeholder_count
from veil.sql.settings import Settings
from veil.sql.statements import Kind, Statement
from veil.sql.utility_specs import CopySpec, CursorSpec, ExecuteSpec, FetchSpec, PrepareSpec

if TYPE_CHECKING:
    from veil.engine.engine import QueryEngine


#: Statements that carry a query to plan (their own, or DECLARE's, COPY's, PREPARE's).
_PLANNED = (Kind.QUERY, Kind.EXPLAIN, Kind.DECLARE, Kind.COPY, Kind.PREPARE)

PG_CATALOG_RELATIONS = frozenset(name for schema, name in RELATIONS if schema == "pg_catalog")




class Session(StatementExecution):
    """Implements :class:`veil.api.EngineSession`."""

    def __init__(self, engine: QueryEngine, info: SessionInfo) -> None:
        self.engine = engine
        self.info = info
        # Configured when the session opened: removed from the config later, it is refused.
        self._known = info.user in engine.config.users
        self.user = engine.identity(info.user, known=False)
        self._configured: UserConfig | None = None  # the config entry ``user`` was made from
        self.settings = Settings.for_session(info.user, info.startup_parameters, engine.session_overrides())
        self.backend_pid = os.getpid()
        self._status = "I"
        self._running = None
        self._canceled = False
        self.sql_objects = SqlObjects(spill_directory=LocalLimits.from_config(engine.config).spill_directory / "cursors")

    # -- contract -------------------------------------------------------------------------
    @property
    def transaction_status(self) -> str:
        return self._status

    def split(self, sql: str) -> list[str]:
        return statements.split(sql)

    def mark_failed(self) -> None:
        if self._status == "T":
            self._status = "E"

    def pending_parameter_status(self) -> dict[str, str]:
        return self.settings.take_reported_changes()

    def cancel(self) -> None:
        self._canceled = True
        interrupt_in_thread(self._running)

    async def close(self) -> None:
        running, self._running = self._running, None
        interrupt_in_thread(running)
        await self.sql_objects.close()

    def cursor_names(self) -> set[str]:
        """SQL cursors (DECLARE): they share a namespace with protocol portals."""
        return set(self.sql_objects.cursors)

    def cursor_schema(self, name: str) -> pa.Schema:
        """The row type of an SQL cursor (Describe of a portal with that name)."""
        return self.sql_objects.cursor_schema(name)

    def fast_passthrough(self, prepared: PreparedStatement) -> FastPassthrough | FastCacheHit | None:
        """The fast path (veil.proxy.fastpath) of a statement already run through pass-through,
        while what :meth:`execute` checks holds (same User object and config entry, so the same
        fingerprint; same generation; no failed block); ``None``: run it with :meth:`execute`."""
        plan = prepared.plan
        if not isinstance(plan, Plan) or plan.fast is None or self._status == "E":
            return None
        configured = self.engine.config.users.get(self.info.user)
        if configured is None or configured is not self._configured or plan.fast[0] is not self.user:
            return None
        return plan.fast[1] if plan.generation == self.engine.generation else None

    def prepared_names(self) -> set[str]:
        """SQL prepared statements (PREPARE): they share a namespace with Parse's."""
        return set(self.sql_objects.prepared)

    def _resolve_identity(self, sql: str) -> None:
        """Groups, attributes and the admin flag come from the config in force when a statement
        starts, never from a copy taken at login: a revocation reaches open sessions."""
        configured = self.engine.config.users.get(self.info.user)
        if configured is not None and configured is self._configured:
            return  # the same entry of the same config: the same user
        try:
            self.user = self.engine.identity(self.info.user, self._known)
            self._configured = configured
        except VeilError as error:
            self.engine.audit.fail(self._record(sql), error)
            raise

    async def prepare(self, sql: str, param_oids: Sequence[int], literal_zone: str | None = None) -> PreparedStatement:
        self._resolve_identity(sql)
        try:
            check_statement_size(sql, self.engine.config.server.max_statement_bytes)
            statement = await offloaded(sql, statements.classify, sql)
            if statement.kind == Kind.EXECUTE:
                assert isinstance(statement.spec, ExecuteSpec)
                zone = self.sql_objects.literal_zone(statement.spec, self._search_path(), self.settings.get("TimeZone"))
                return await self.prepare(self.sql_objects.execute_sql(statement.spec), (), zone)
            if statement.kind == Kind.PREPARE:
                assert isinstance(statement.spec, PrepareSpec)
                param_oids = statement.spec.arg_oids
            plan = await self._plan(statement, param_oids, literal_zone)
            schema = self._schema(plan)
        except RecursionError:
            error = stack_depth_exceeded()
            self.engine.audit.fail(self._record(sql), error)
            raise error from None
        except VeilError as error:
            self.engine.audit.fail(self._record(sql), error)
            raise
        return PreparedStatement(
            sql=sql,
            param_oids=[] if statement.kind == Kind.PREPARE else list(self._param_oids(plan, param_oids)),
            schema=schema,
            command=statement.tag,
            plan=plan,
        )

    async def execute(
        self,
        prepared: PreparedStatement,
        params: Sequence[object | None],
        result_formats: Sequence[int] | None = None,
    ) -> ResultStream:
        plan = cast(Plan, prepared.plan)  # engine-private: prepare() above always stores a Plan
        statement = plan.statement
        self._resolve_identity(statement.sql)
        if self._status == "E" and statement.kind not in (Kind.ROLLBACK, Kind.COMMIT, Kind.ROLLBACK_TO):
            raise InFailedTransaction()
        if statement.kind in _PLANNED:
            try:
                now, query = self._local_context(), plan.query
                local = isinstance(query, LocalPlan) and query.context != now
                if plan.generation != self.engine.generation or plan.user != self.user.fingerprint or local:
                    kept = None  # the zone the literals were read in: kept unless analysed anew
                    if isinstance(query, LocalPlan) and plan.generation == self.engine.generation:
                        kept = query.query.literal_zone_kept(query.context, now)
                    plan = await self._plan(statement, prepared.param_oids, kept)
                    if plan.schema is not None and prepared.schema is not None and not plan.schema.equals(prepared.schema):
                        raise errcodes.FeatureNotSupported("cached plan must not change result type")
                    prepared.plan = plan
                if statement.kind == Kind.EXPLAIN:
                    return RowsStream(text_schema("QUERY PLAN"), [self._explain(plan)], "EXPLAIN")
                if statement.kind == Kind.PREPARE:
                    return self._prepare_sql(plan)
                return await self._execute_query(plan, params, result_formats)
            except RecursionError:
                raise stack_depth_exceeded() from None
        record = self._record(statement.sql)
        try:
            result = await self._sql_object(statement)
            if result is None:
                result = self._utility(statement)
                if statement.kind in (Kind.COMMIT, Kind.ROLLBACK):
                    await self.sql_objects.end_transaction(result.command_tag(0) == "COMMIT")
        except VeilError as error:
            self.engine.audit.fail(record, error)
            raise
        self.engine.audit.write(record)
        return result

    async def _execute_query(
        self, plan: Plan, params: Sequence[object | None], result_formats: Sequence[int] | None = None
    ) -> ResultStream:
        """A query, a cursor's query (DECLARE) or COPY's query: policies apply the same way."""
        statement = plan.statement
        cursor = statement.spec if statement.kind == Kind.DECLARE else None
        if cursor is not None or isinstance(statement.spec, CopySpec):
            result_formats = None  # cursors and COPY read record batches
        if isinstance(cursor, CursorSpec):
            self.sql_objects.check_declare(cursor, self._status == "T")
        schema = plan.schema
        record = self._record(statement.sql, plan)
        try:
            stream = await self._run(plan, schema, params, record, result_formats)
        except VeilError as error:
            self.engine.audit.fail(record, error)
            raise
        if isinstance(stream, EncodedStream) and statement.kind == Kind.QUERY and (
            plan.fast is None or plan.fast[0] is not self.user
        ):
            assert isinstance(plan.query, SourcePlan) and schema is not None
            plan.fast = (self.user, self._fast_ticket(plan.query, schema, lambda: self._record(statement.sql, plan)))
        if isinstance(stream, (EncodedHit, ArrowHit)) and statement.kind == Kind.QUERY and (
            plan.fast is None or plan.fast[0] is not self.user
        ):
            ticket = cache_hit_ticket(
                self.engine, plan.query, plan.schema, self.settings, lambda: self._record(plan.statement.sql, plan)
            )
            plan.fast = (self.user, ticket)
        audited = stream if getattr(stream, "audited", False) else AuditedStream(stream, record, self.engine.audit)
        if isinstance(cursor, CursorSpec):
            assert schema is not None
            self.sql_objects.declare(cursor, audited, schema, self._status == "T")
            return RowsStream(None, tag=statement.tag)
        if isinstance(statement.spec, CopySpec):
            return CopyStream(audited, statement.spec)
        return audited

    def _prepare_sql(self, plan: Plan) -> ResultStream:
        statement = plan.statement
        assert isinstance(statement.spec, PrepareSpec) and statement.query is not None
        self.sql_objects.check_prepare(statement.spec.name)
        oids = self._param_oids(plan, statement.spec.arg_oids)
        zone = plan.query.query.literal_timezone if isinstance(plan.query, LocalPlan) else None
        self.sql_objects.prepared[statement.spec.name] = SqlPrepared(
            statement.query.sql, tuple(oids), zone, self._search_path()
        )
        return RowsStream(None, tag="PREPARE")

    async def _sql_object(self, statement: Statement) -> ResultStream | None:
        """FETCH, MOVE, CLOSE and DEALLOCATE; None for other utility statements."""
        spec = statement.spec
        if statement.kind == Kind.FETCH:
            assert isinstance(spec, FetchSpec)
            return await self.sql_objects.fetch(spec)
        if statement.kind == Kind.CLOSE:
            assert isinstance(spec, FetchSpec)
            if spec.name is None or spec.name in self.sql_objects.cursors:
                await self.sql_objects.close_cursor(spec.name)
            return RowsStream(None, tag=statement.tag)
        if statement.kind == Kind.DEALLOCATE:
            self.sql_objects.deallocate(statement.name)
            return RowsStream(None, tag=statement.tag)
        return None

    def _record(self, sql: str, plan: Plan | None = None) -> AuditRecord:
        record = AuditRecord(
            user=self.user.name,
            client_address=self.info.client_address,
            application_name=self.settings.get_or_none("application_name") or "",
            statement=sql,
        )
        if plan is not None and isinstance(plan.query, (SourcePlan, FederatedPlan)):
            record.tables = [t.qualified_name for t in plan.query.tables]
            record.connections = list(plan.query.connections)
            record.pushed_sql = list(plan.query.pushed_sql)
            record.policies = list(plan.policies)
        return record

    # -- planning -------------------------------------------------------------------------
    def _search_path(self) -> tuple[str, ...]:
        return self.settings.search_path(self.user.name)

    async def _plan(self, outer: Statement, param_oids: Sequence[int], literal_zone: str | None = None) -> Plan:
        """Plan a query, or the query of DECLARE, COPY or PREPARE (the plan keeps ``outer``);
        ``literal_zone``: the TimeZone a local statement's literals are read in, if not the session's."""
        version = self.engine.generation
        statement = outer.query if outer.query is not None else outer
        if statement.ast is None:
            return Plan(outer, version)
        user = self.user
        snapshot = self.engine.snapshot_for(user)
        search_path = self._search_path()
        # The generation read before planning: what a reload clears cannot come back under it.
        key = (version, *plan_cache_key(snapshot, search_path, statement.sql, param_oids, user))
        cached: CachedPlan | None = self.engine.plans.get(key)
        if cached is not None:
            return Plan(outer, version, cached.plan, cached.schema, cached.policies, user.fingerprint)
        analysis = await offloaded(
            statement.sql, analyze, statement.ast, snapshot, search_path, PG_CATALOG_RELATIONS, user.admin
        )
        if analysis.reads_admin:
            count = max(placeholder_count(statement.ast), len(param_oids))
            described = await asyncio.to_thread(self._describe_admin, statement.ast, count)
            oids = tuple(declared or inferred for declared, inferred in zip_longest(
                param_oids, described.param_oids, fillvalue=0))
            return Plan(outer, version, AdminPlan(statement.ast, oids), described.schema, user=user.fingerprint)
        if not analysis.user_tables:
            plan = await self._plan_local(self.engine.local_engine_for(snapshot), statement, param_oids, literal_zone)
            return Plan(outer, plan.generation, plan.query, plan.schema, user=plan.user)
        sources = self.engine.catalog.sources
        hash_key = hash_key_parameter() if self.engine.config.secrets.hash_key else None
        raw_tables = {t.oid: t for t in self.engine.catalog.snapshot}

        applied: list[AppliedPolicy] = []
        allowed: set[str] = set()  # what the SQL sent may read (veil.planner.verify)
        guard_columns = not predicates_are_leakproof(statement.ast)

        def protect(table: Table, source_table: exp.Table) -> exp.Subquery | None:
            # Masks are computed from the raw table (the user's snapshot carries masked types).
            raw = raw_tables[table.oid]
            policy = self.engine.table_policy(user, raw)
            applied.extend(describe_policy(table.qualified_name, policy))
            # The derived table runs on the table's own source: masks are written in its dialect.
            dialect = sources[table.connection].dialect
            key = (version, user.fingerprint, raw.oid, dialect, guard_columns)
            cached = self.engine.protected_tables.get(key)
            if cached is None:
                context = PolicyContext(user, dialect, hash_key)
                derived = protected_table(raw, source_table, policy, context, guard_columns)
                # Read as it is only when no policy applies to this user (else: nothing allowed).
                served = derived if derived is not None else served_source(table, dialect, None)
                marker = relation_marker(served, dialect) if derived is not None or policy.is_empty else None
                cached = self.engine.protected_tables[key] = (derived, marker)
            derived, marker = cached
            if marker is not None:
                allowed.add(marker)
            return derived.copy() if derived is not None else None

        source_plan = await offloaded(statement.sql, plan_query, statement.ast, analysis, param_oids, sources, protect)
        source_plan = replace(source_plan, protected=frozenset(allowed))
        verify_plan(source_plan, sources)
        if isinstance(source_plan, SourcePlan):
            # Describing asks the source (a locked table blocks it): it takes a source slot.
            async with self.engine.source_slot(source_plan.connection):
                schema = await self._describe_within_timeout(source_plan)
        else:
            schema = await self._describe_within_timeout(source_plan)
        schema = numeric_columns(schema, source_plan.numeric_columns, source_plan.pinned_columns)
        schema = parameter_columns(schema, source_plan.parameter_columns)
        schema = renamed(schema, postgres_names(statement.ast, schema.names))
        schema = with_origins(schema, column_origins(statement.ast, served_tables(snapshot, search_path)))
        policies = tuple(dict.fromkeys(applied))
        self.engine.plans[key] = CachedPlan(source_plan, schema, policies)
        return Plan(outer, version, source_plan, schema, policies, user.fingerprint)

    async def _plan_local(self, local, statement: Statement, param_oids: Sequence[int], literal_zone: str | None) -> Plan:
        ast = statement.ast
        if ast is None:
            return Plan(statement, self.engine.generation)
        context = self._local_context()
        query = await offloaded(statement.sql, local.compile, ast, context, param_oids, literal_zone)
        oids = tuple(query.param_oids)
        schema = await asyncio.to_thread(local.describe, query, len(oids))
        schema = with_origins(schema, column_origins(ast, catalog_tables(query.search_path)))
        version = self.engine.generation
        return Plan(statement, version, LocalPlan(query, oids, context), describable(schema), user=self.user.fingerprint)

    def _local_context(self):
        from veil.pgcatalog import LocalContext

        return LocalContext(
            user=self.user.name,
            database=self.engine.config.server.database,
            search_path=self._search_path(),
            settings=dict(self.settings.values),
            backend_pid=self.backend_pid,
            is_superuser=self.user.admin,
            tls=(tls.version, tls.cipher, tls.bits) if (tls := self.info.tls) is not None else None,
        )

    async def _describe_within_timeout(self, plan: SourcePlan | FederatedPlan) -> pa.Schema:
        """The plan's result schema, given up with 57014 after the sources' statement_timeout."""
        sources = self.engine.catalog.sources
        names = plan.connections if isinstance(plan, FederatedPlan) else (plan.connection,)
        deadline = max((Deadline.for_source(sources[name]) for name in names), key=lambda d: d.seconds)
        started = start_in_worker(self._describe_source, plan)
        try:
            return await deadline.wait(started, lambda: None)
        except StatementTimeout:
            after(started, lambda: None)  # the describe may stay blocked on a silent source
            raise

    def _describe_source(self, plan: SourcePlan | FederatedPlan) -> pa.Schema:
        sources = self.engine.catalog.sources
        try:
            if isinstance(plan, FederatedPlan):
                return describable(describe_federated(plan, sources))
            count = len(plan.param_oids) + (plan.key_param is not None)
            return describable(sources[plan.connection].describe(plan.sql, count))
        except VeilError as error:
            raise self._redacted(error) from None

    def _param_oids(self, plan: Plan, declared: Sequence[int]) -> tuple[int, ...]:
        return tuple(declared) if plan.query is None else plan.query.param_oids

    def _schema(self, plan: Plan) -> pa.Schema | None:
        statement = plan.statement
        if statement.kind == Kind.SHOW:
            if statement.name == "all":
                return text_schema("name", "setting", "description")
            return text_schema(statement.name or "")
        if statement.kind == Kind.EXPLAIN:
            return text_schema("QUERY PLAN")
        if statement.kind == Kind.FETCH:
            assert isinstance(statement.spec, FetchSpec) and statement.spec.name is not None
            schema = self.sql_objects.cursor_schema(statement.spec.name)
            return None if statement.spec.move else schema
        if statement.kind in (Kind.DECLARE, Kind.COPY, Kind.PREPARE):
            return None
        return plan.schema

    # -- execution ------------------------------------------------------------------------
    async def _run(
        self,
        plan: Plan,
        schema: pa.Schema | None,
        params: Sequence[object | None],
        record: AuditRecord,
        result_formats: Sequence[int] | None = None,
    ) -> ResultStream:
        assert schema is not None
        self._canceled = False
        executor = _EXECUTORS.get(type(plan.query))
        if executor is None:
            raise errcodes.InternalError(f"internal error: no executor for {type(plan.query).__name__}")
        return await executor(self, plan.query, schema, params, record, result_formats)

    async def _execute_admin(
        self, query: AdminPlan, schema: pa.Schema, params: Sequence[object | None], record: AuditRecord,
        result_formats: Sequence[int] | None,
    ) -> ResultStream:
        table = await asyncio.to_thread(self._run_admin, query.statement, params)
        return RowsStream(schema, table.cast(schema).to_batches(), "SELECT")

    async def _execute_local(
        self, query: LocalPlan, schema: pa.Schema, params: Sequence[object | None], record: AuditRecord,
        result_formats: Sequence[int] | None,
    ) -> ResultStream:
        local = self.engine.local_engine_for(self.engine.snapshot_for(self.user))
        await BUDGET.reserve(STATEMENT_BYTES)
        try:
            reader = await in_worker(local.execute, query.query, list(params))
        except BaseException:
            BUDGET.release(STATEMENT_BYTES)
            raise
        return ReaderStream(schema, reader, None, lambda: None, map_duckdb_error, reserved=STATEMENT_BYTES)

    async def _execute_federated(
        self, query: FederatedPlan, schema: pa.Schema, params: Sequence[object | None], record: AuditRecord,
        result_formats: Sequence[int] | None,
    ) -> ResultStream:
        return await self._run_federated(query, schema, params, record)

    async def _execute_source(
        self, query: SourcePlan, schema: pa.Schema, params: Sequence[object | None], record: AuditRecord,
        result_formats: Sequence[int] | None,
    ) -> ResultStream:
        ttl = self.engine.latency_for(query.tables)
        if ttl <= 0:
            if result_formats is not None:
                encoded = await self._run_passthrough(query, schema, params, result_formats)
                if encoded is not None:
                    return encoded
            return await self._run_source(query, schema, params)
        cache = self.engine.cache
        source = self.engine.catalog.sources[query.connection]
        key = (result_key(source, self.settings.get("TimeZone")), query.sql, self.engine.cache_parameters(params, query.key_param))

        async def load() -> CachingStream:
            stream = await self._run_source(query, schema, params)
            return CachingStream(stream, cache, key, ttl, frozenset(t.source_key for t in query.tables))

        result = await cache.get_or_load(key, ttl, load, released_by_result=True)
        if isinstance(result, CacheEntry):
            record.cache_hit = True
            if result_formats is None:  # a cursor's or COPY's rows: record batches
                return RowsStream(schema, [conform(b, schema) for b in result.batches], "SELECT")
            timezone = self.settings.get("TimeZone")
            return serve_hit(cache, key, result, schema, result_formats, timezone, record, self.engine.audit)
        return result

    def explain(self, plan: Plan) -> list[str]:
        """Where the statement runs, the SQL pushed to each source, and the policies."""
        query = plan.query
        if isinstance(query, SourcePlan):
            dialect = self.engine.catalog.sources[query.connection].dialect
            return explain_lines(
                self.engine, self.user, f"connection {query.connection} (whole statement pushed down)",
                [(query.connection, dialect, query.sql)], query.tables, plan.policies,
            )
        if isinstance(query, FederatedPlan):
            sources = self.engine.catalog.sources
            return explain_lines(
                self.engine, self.user,
                f"Veil local engine, joining {len(query.fragments)} source queries",
                [(f.connection, sources[f.connection].dialect, f.sql) for f in query.fragments],
                query.tables, plan.policies, local_sql=query.local_sql,
                dynamic_filters=[f.describe() for f in query.dynamic_filters],
            )
        where = "admin views" if isinstance(query, AdminPlan) else "Veil local engine (catalog emulation)"
        return explain_lines(self.engine, self.user, where, [], (), ())

    def _explain(self, plan: Plan) -> pa.RecordBatch:
        if not self.user.admin:
            raise InsufficientPrivilege("EXPLAIN shows policy internals and is reserved to admin users")
        return pa.RecordBatch.from_pydict({"QUERY PLAN": self.explain(plan)}, schema=text_schema("QUERY PLAN"))

    def _utility(self, statement: Statement) -> ResultStream:
        kind = statement.kind
        if kind == Kind.SET:
            assert statement.name is not None
            self.settings.set(statement.name, statement.value, local=statement.is_local)
        elif kind == Kind.RESET:
            if statement.name == "all":
                self.settings.reset_all()
            else:
                assert statement.name is not None
                self.settings.set(statement.name, None)
        elif kind == Kind.SHOW:
            assert statement.name is not None
            return show(self.settings, statement.name)
        elif kind == Kind.BEGIN:
            if self._status == "I":
                self._status = "T"
        elif kind in (Kind.COMMIT, Kind.ROLLBACK):
            failed = self._status == "E"
            self._status = "I"
            self.settings.end_transaction()
            if kind == Kind.COMMIT and failed:
                return RowsStream(None, tag="ROLLBACK")
        elif kind == Kind.ROLLBACK_TO and self._status == "E":
            self._status = "T"
        return RowsStream(None, tag=statement.tag)


#: The executor of each plan kind: :meth:`Session._run` asks it for the plan in hand.
_EXECUTORS: dict[type, Callable[..., Awaitable[ResultStream]]] = {
    AdminPlan: Session._execute_admin,
    LocalPlan: Session._execute_local,
    FederatedPlan: Session._execute_federated,
    SourcePlan: Session._execute_source,
}
