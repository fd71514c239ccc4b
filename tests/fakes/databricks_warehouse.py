"""A fake Databricks SQL warehouse: a TEST DOUBLE for a system that cannot run locally.

No Databricks emulator exists that the stock ``databricks-sql-connector`` can talk to, so this
module serves the connector's own Thrift IDL (``databricks.sql.thrift_api.TCLIService``, which
ships the server-side ``Processor``) over HTTP with ``thrift.server.THttpServer`` and runs every
statement on DuckDB after sqlglot transpiles it from Databricks SQL (see
:mod:`tests.fakes.databricks_sql`). The unmodified connector connects with::

    sql.connect(server_hostname="localhost", http_path="/sql/1.0/warehouses/fake",
                access_token=warehouse.token, _connection_uri=warehouse.uri,
                enable_telemetry=False, _retry_stop_after_attempts_count=1)

What it answers the way a DBSQL warehouse does: protocol ``SPARK_CLI_SERVICE_PROTOCOL_V7``;
``directResults``; ``ARROW_BASED_SET`` results with an Arrow IPC ``arrowSchema`` and
``TSparkArrowBatch`` batches, LZ4-frame compressed when the client can read them; Databricks'
Arrow types (``timestamp`` carries ``Etc/UTC``, ``timestamp_ntz`` none); operations that are
``PENDING`` then ``RUNNING`` (every ``pending_every``-th statement, so the client's polling path
runs) and long-polled; ``CancelOperation`` interrupting the DuckDB query; errors as
``ERROR_STATE`` with ``displayMessage`` ``[ERROR_CLASS] ... SQLSTATE: xxxxx``; a bearer-token
check answered with HTTP 403 like a real workspace; ``GetCatalogs``/``GetSchemas``/``GetTables``/
``GetColumns``; ``information_schema`` in Databricks' shape, with ``column_tags`` and ``table_tags``.

What it does not do: CloudFetch, staging/volumes, the SEA/REST API, Spark SQL semantics beyond
sqlglot's transpile (functions, casts, NULL handling and error texts are DuckDB's, reworded),
per-user permissions. Passing tests here show the adapter speaks the protocol and the SQL text is
sensible; they do not prove a real warehouse runs the same SQL the same way.

Run by hand: ``python -m tests.fakes.databricks_warehouse [PORT]``.
"""

from __future__ import annotations

import http.server
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import lz4.frame
import pyarrow as pa
from databricks.sql.thrift_api.TCLIService import TCLIService
from databricks.sql.thrift_api.TCLIService import ttypes as t
from thrift.protocol import TBinaryProtocol
from thrift.server import THttpServer

from tests.fakes.databricks_sql import (
    META,
    META_DDL,
    WarehouseError,
    refresh_information_schema,
    translate,
    warehouse_error,
)

PROTOCOL = t.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7
OK = t.TStatus(statusCode=t.TStatusCode.SUCCESS_STATUS)
POLL_SECONDS = 0.5  # a status poll waits this long for the operation to finish (long polling)
DIRECT_WAIT_SECONDS = 0.2  # ExecuteStatement waits this long before answering "still running"

_TYPE_IDS: tuple[tuple[object, int], ...] = (
    (pa.types.is_boolean, t.TTypeId.BOOLEAN_TYPE), (pa.types.is_int8, t.TTypeId.TINYINT_TYPE),
    (pa.types.is_int16, t.TTypeId.SMALLINT_TYPE), (pa.types.is_int32, t.TTypeId.INT_TYPE),
    (pa.types.is_int64, t.TTypeId.BIGINT_TYPE), (pa.types.is_float32, t.TTypeId.FLOAT_TYPE),
    (pa.types.is_float64, t.TTypeId.DOUBLE_TYPE), (pa.types.is_decimal, t.TTypeId.DECIMAL_TYPE),
    (pa.types.is_string, t.TTypeId.STRING_TYPE), (pa.types.is_binary, t.TTypeId.BINARY_TYPE),
    (pa.types.is_date, t.TTypeId.DATE_TYPE), (pa.types.is_timestamp, t.TTypeId.TIMESTAMP_TYPE),
    (pa.types.is_list, t.TTypeId.ARRAY_TYPE), (pa.types.is_map, t.TTypeId.MAP_TYPE),
    (pa.types.is_struct, t.TTypeId.STRUCT_TYPE), (pa.types.is_null, t.TTypeId.NULL_TYPE),
)


def databricks_arrow_type(arrow_type: pa.DataType) -> pa.DataType:
    """The Arrow type a warehouse sends for a DuckDB result type."""
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz="Etc/UTC" if arrow_type.tz else None)
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    if pa.types.is_large_binary(arrow_type) or pa.types.is_binary_view(arrow_type):
        return pa.binary()
    if pa.types.is_time(arrow_type):
        return pa.string()
    if pa.types.is_uint8(arrow_type) or pa.types.is_uint16(arrow_type):
        return pa.int32()
    if pa.types.is_uint32(arrow_type) or pa.types.is_uint64(arrow_type):
        return pa.int64()
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(databricks_arrow_type(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, databricks_arrow_type(f.type)) for f in arrow_type])
    return arrow_type


def _type_desc(arrow_type: pa.DataType) -> t.TTypeDesc:
    type_id = next((tid for test, tid in _TYPE_IDS if test(arrow_type)), t.TTypeId.STRING_TYPE)  # type: ignore[operator]
    qualifiers = None
    if pa.types.is_decimal(arrow_type):
        qualifiers = t.TTypeQualifiers({
            "precision": t.TTypeQualifierValue(i32Value=arrow_type.precision),
            "scale": t.TTypeQualifierValue(i32Value=arrow_type.scale),
        })
    return t.TTypeDesc([t.TTypeEntry(primitiveEntry=t.TPrimitiveTypeEntry(type_id, qualifiers))])


def _thrift_schema(schema: pa.Schema) -> t.TTableSchema:
    return t.TTableSchema([t.TColumnDesc(f.name, _type_desc(f.type), i + 1) for i, f in enumerate(schema)])


@dataclass
class Session:
    catalog: str
    schema: str


@dataclass
class Operation:
    """One statement: runs in its own thread on its own DuckDB cursor (so it can be interrupted)."""

    handle: t.TOperationHandle
    sql: str
    lz4: bool
    pending_polls: int
    cursor: duckdb.DuckDBPyConnection
    done: threading.Event = field(default_factory=threading.Event)
    state: int = t.TOperationState.PENDING_STATE
    error: WarehouseError | None = None
    schema: pa.Schema | None = None
    reader: pa.RecordBatchReader | None = None
    buffered: list[pa.RecordBatch] = field(default_factory=list)
    exhausted: bool = False
    offset: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, max_rows: int) -> tuple[pa.Table, bool]:
        """Up to ``max_rows`` rows in the warehouse's Arrow types, and whether more follow."""
        with self.lock:
            assert self.schema is not None
            rows = sum(b.num_rows for b in self.buffered)
            while self.reader is not None and not self.exhausted and rows <= max_rows:
                try:
                    batch = self.reader.read_next_batch()
                except StopIteration:
                    self.exhausted = True
                    break
                self.buffered.append(batch)
                rows += batch.num_rows
            table = pa.Table.from_batches(self.buffered, schema=self.reader.schema if self.reader else None)
            head, tail = table.slice(0, max_rows), table.slice(max_rows)
            self.buffered = tail.to_batches()
            more = tail.num_rows > 0 or not self.exhausted
            self.offset += head.num_rows
            return head.cast(self.schema), more


class FakeWarehouse:
    """The Thrift handler: sessions, operations and the DuckDB database behind them."""

    def __init__(self, token: str = "dapi-fake-token", catalogs: tuple[str, ...] = ("workspace",), pending_every: int = 3) -> None:
        self.token = token
        self.pending_every = pending_every
        self.lz4 = True
        self.statements: list[str] = []  # every ExecuteStatement text, as received
        self.db = duckdb.connect(":memory:")  # without ICU, TIMESTAMPTZ is UTC
        self.db.execute(f"ATTACH ':memory:' AS {META}")
        for statement in META_DDL.split(";"):
            self.db.execute(statement)
        self.catalogs: list[str] = []
        for catalog in catalogs:
            self.add_catalog(catalog)
        self._sessions: dict[bytes, Session] = {}
        self._operations: dict[bytes, Operation] = {}
        # Held only around dict and list updates, never around a query or I/O: a connector's close
        # can reach this server from any thread (even from a garbage collection in one of its own
        # request threads) and must never wait on a lock a blocked request holds.
        self._lock = threading.Lock()
        self._meta_lock = threading.Lock()  # one information_schema refresh at a time
        self._count = 0
        self.server: THttpServer.THttpServer | None = None
        self.port = 0

    # -- test helpers --------------------------------------------------------------------------
    def expire_sessions(self) -> None:
        """Forget every open session, as a warehouse does when sessions expire or it restarts."""
        with self._lock:
            self._sessions.clear()

    def add_catalog(self, name: str) -> None:
        self.db.execute(f'ATTACH \':memory:\' AS "{name}"')
        self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"."default"')
        self.catalogs.append(name)

    def run(self, sql: str, catalog: str = "workspace", schema: str = "default") -> list[tuple[object, ...]]:
        """Run Databricks SQL directly (setup in tests), recording created/dropped tables."""
        cursor = self.db.cursor()
        try:
            relation = self._run(cursor, sql, {}, Session(catalog, schema))
            return relation.fetchall() if relation is not None else []
        finally:
            cursor.close()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/sql/1.0/warehouses/fake"

    def connection_config(self, catalog: str = "workspace", **extra: object) -> dict[str, object]:
        """A ``type: databricks`` entry of ``connections:`` pointing at this warehouse."""
        return {"type": "databricks", "server_hostname": "127.0.0.1", "port": self.port, "protocol": "http",
                "http_path": "/sql/1.0/warehouses/fake", "access_token": self.token, "catalog": catalog, **extra}

    # -- execution -----------------------------------------------------------------------------
    def _run(self, cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, tuple[str | None, str]],
             session: Session) -> duckdb.DuckDBPyRelation | None:
        translated = translate(sql, params, session.catalog, session.schema)
        if translated.use is not None:
            catalog, schema = translated.use
            if catalog is not None and catalog not in self.catalogs:
                raise WarehouseError("NO_SUCH_CATALOG_EXCEPTION", f"Catalog '{catalog}' was not found.", "42704")
            session.catalog, session.schema = catalog or session.catalog, schema or ("default" if catalog else session.schema)
        cursor.execute(f'USE "{session.catalog}"."{session.schema}"')
        if translated.reads_information_schema:
            with self._meta_lock:
                refresh_information_schema(self.db.cursor(), self.catalogs)
        if translated.dropped is not None:
            self.db.execute(f"DELETE FROM {META}.main.created WHERE table_catalog = ? AND table_schema = ? "
                            "AND table_name = ?", list(translated.dropped))
        result = cursor.sql(translated.sql)
        if translated.created is not None:
            self.db.execute(f"DELETE FROM {META}.main.created WHERE table_catalog = ? AND table_schema = ? "
                            "AND table_name = ?", list(translated.created))
            time.sleep(0.002)  # a recreated table never shares its creation time with the old one
            self.db.execute(f"INSERT INTO {META}.main.created VALUES (?, ?, ?, now())", list(translated.created))
        return result

    def _execute(self, operation: Operation, params: dict[str, tuple[str | None, str]], session: Session) -> None:
        try:
            relation = self._run(operation.cursor, operation.sql, params, session)
            reader = relation.to_arrow_reader(10_000) if relation is not None else _empty()
            operation.schema = pa.schema([pa.field(f.name, databricks_arrow_type(f.type)) for f in reader.schema])
            operation.reader = reader
            operation.take(0)  # run the query up to its first rows: errors surface here
            operation.state = t.TOperationState.FINISHED_STATE
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the client
            operation.error = warehouse_error(exc)
            if operation.state != t.TOperationState.CANCELED_STATE:
                operation.state = t.TOperationState.ERROR_STATE
        finally:
            operation.done.set()

    # -- Thrift methods --------------------------------------------------------------------------
    def OpenSession(self, req: t.TOpenSessionReq) -> t.TOpenSessionResp:
        namespace = req.initialNamespace or t.TNamespace()
        catalog, schema = namespace.catalogName or "workspace", namespace.schemaName or "default"
        if catalog not in self.catalogs:
            message = f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{catalog}' was not found. SQLSTATE: 42704"
            return t.TOpenSessionResp(status=t.TStatus(t.TStatusCode.ERROR_STATUS, sqlState="42704",
                                                       errorMessage=message, displayMessage=message))
        handle = t.THandleIdentifier(uuid.uuid4().bytes, uuid.uuid4().bytes)
        with self._lock:
            self._sessions[handle.guid] = Session(catalog, schema)
        return t.TOpenSessionResp(OK, PROTOCOL, t.TSessionHandle(handle, PROTOCOL), {}, t.TNamespace(catalog, schema), True)

    def CloseSession(self, req: t.TCloseSessionReq) -> t.TCloseSessionResp:
        with self._lock:
            self._sessions.pop(req.sessionHandle.sessionId.guid, None)
        return t.TCloseSessionResp(OK)

    def GetInfo(self, req: t.TGetInfoReq) -> t.TGetInfoResp:
        return t.TGetInfoResp(OK, t.TGetInfoValue(stringValue="Databricks SQL (fake)"))

    def ExecuteStatement(self, req: t.TExecuteStatementReq) -> t.TExecuteStatementResp:
        with self._lock:
            session = self._sessions.get(req.sessionHandle.sessionId.guid)
            self.statements.append(req.statement)
            self._count += 1
            pending = self.pending_every > 0 and self._count % self.pending_every == 0
        if session is None:
            return t.TExecuteStatementResp(t.TStatus(t.TStatusCode.INVALID_HANDLE_STATUS, errorMessage="Invalid SessionHandle"))
        params = {p.name: (p.value.stringValue if p.value else None, p.type or "STRING") for p in req.parameters or ()}
        return self._start(req.statement, params, session, bool(req.canDecompressLZ4Result and self.lz4),
                           req.getDirectResults, pending)

    def _start(self, sql: str, params: dict[str, tuple[str | None, str]], session: Session, lz4: bool,
               direct: t.TSparkGetDirectResults | None, pending: bool) -> t.TExecuteStatementResp:
        handle = t.TOperationHandle(t.THandleIdentifier(uuid.uuid4().bytes, uuid.uuid4().bytes),
                                    t.TOperationType.EXECUTE_STATEMENT, True)
        operation = Operation(handle, sql, lz4, 2 if pending else 0, self.db.cursor())
        with self._lock:
            self._operations[handle.operationId.guid] = operation
        threading.Thread(target=self._execute, args=(operation, params, Session(session.catalog, session.schema)),
                         daemon=True, name="fake-dbsql-op").start()
        if pending or direct is None or not operation.done.wait(DIRECT_WAIT_SECONDS):
            status = t.TGetOperationStatusResp(OK, t.TOperationState.PENDING_STATE if pending else t.TOperationState.RUNNING_STATE)
            return t.TExecuteStatementResp(OK, handle, t.TSparkDirectResults(operationStatus=status) if direct else None)
        if operation.error is not None:
            return t.TExecuteStatementResp(OK, handle, t.TSparkDirectResults(operationStatus=self._status(operation)))
        batch, more = self._fetch(operation, direct.maxRows or 100_000)
        closed = t.TCloseOperationResp(OK) if not more else None
        if closed is not None:
            self._close(handle)
        return t.TExecuteStatementResp(OK, handle, t.TSparkDirectResults(
            self._status(operation), self._metadata(operation), batch, closed))

    def _status(self, operation: Operation) -> t.TGetOperationStatusResp:
        if operation.pending_polls > 0:
            operation.pending_polls -= 1
            return t.TGetOperationStatusResp(OK, t.TOperationState.PENDING_STATE)
        operation.done.wait(POLL_SECONDS)
        state = operation.state if operation.done.is_set() else t.TOperationState.RUNNING_STATE
        if state == t.TOperationState.ERROR_STATE and operation.error is not None:
            error = operation.error
            return t.TGetOperationStatusResp(OK, state, sqlState=error.sqlstate, errorCode=0, errorMessage=str(error),
                                             displayMessage=str(error), hasResultSet=False)
        return t.TGetOperationStatusResp(OK, state, hasResultSet=True)

    def _metadata(self, operation: Operation) -> t.TGetResultSetMetadataResp:
        assert operation.schema is not None
        return t.TGetResultSetMetadataResp(OK, _thrift_schema(operation.schema), t.TSparkRowSetType.ARROW_BASED_SET,
                                           operation.lz4, operation.schema.serialize().to_pybytes())

    def _fetch(self, operation: Operation, max_rows: int) -> tuple[t.TFetchResultsResp, bool]:
        start = operation.offset
        table, more = operation.take(max_rows)
        batches = []
        for batch in table.combine_chunks().to_batches():
            payload = batch.serialize().to_pybytes()
            batches.append(t.TSparkArrowBatch(lz4.frame.compress(payload) if operation.lz4 else payload, batch.num_rows))
        return t.TFetchResultsResp(OK, more, t.TRowSet(start, [], arrowBatches=batches)), more

    def _operation(self, handle: t.TOperationHandle) -> Operation | None:
        with self._lock:
            return self._operations.get(handle.operationId.guid)

    def GetOperationStatus(self, req: t.TGetOperationStatusReq) -> t.TGetOperationStatusResp:
        operation = self._operation(req.operationHandle)
        if operation is None:
            return t.TGetOperationStatusResp(t.TStatus(t.TStatusCode.INVALID_HANDLE_STATUS, errorMessage="Invalid OperationHandle"))
        return self._status(operation)

    def GetResultSetMetadata(self, req: t.TGetResultSetMetadataReq) -> t.TGetResultSetMetadataResp:
        operation = self._operation(req.operationHandle)
        if operation is None or operation.schema is None:
            message = str(operation.error) if operation and operation.error else "Invalid OperationHandle"
            return t.TGetResultSetMetadataResp(t.TStatus(t.TStatusCode.ERROR_STATUS, errorMessage=message))
        return self._metadata(operation)

    def FetchResults(self, req: t.TFetchResultsReq) -> t.TFetchResultsResp:
        operation = self._operation(req.operationHandle)
        if operation is None or operation.state != t.TOperationState.FINISHED_STATE:
            message = str(operation.error) if operation and operation.error else "Invalid OperationHandle"
            return t.TFetchResultsResp(t.TStatus(t.TStatusCode.ERROR_STATUS, errorMessage=message, displayMessage=message))
        try:
            response, _ = self._fetch(operation, req.maxRows or 100_000)
        except Exception as exc:  # noqa: BLE001 - an interrupted or failing stream
            message = str(warehouse_error(exc))
            return t.TFetchResultsResp(t.TStatus(t.TStatusCode.ERROR_STATUS, errorMessage=message, displayMessage=message))
        response.resultSetMetadata = self._metadata(operation) if req.includeResultSetMetadata else None
        return response

    def CancelOperation(self, req: t.TCancelOperationReq) -> t.TCancelOperationResp:
        operation = self._operation(req.operationHandle)
        if operation is not None and operation.state not in (t.TOperationState.CLOSED_STATE,):
            operation.state = t.TOperationState.CANCELED_STATE
            operation.cursor.interrupt()
        return t.TCancelOperationResp(OK)

    def CloseOperation(self, req: t.TCloseOperationReq) -> t.TCloseOperationResp:
        self._close(req.operationHandle)
        return t.TCloseOperationResp(OK)

    def _close(self, handle: t.TOperationHandle) -> None:
        with self._lock:
            operation = self._operations.pop(handle.operationId.guid, None)
        if operation is not None:
            operation.cursor.interrupt()
            operation.done.wait(5)
            # bounded: a fetch holding the lock may itself be waiting on this close
            if operation.lock.acquire(timeout=5):
                try:
                    operation.reader = None
                    operation.cursor.close()
                finally:
                    operation.lock.release()

    # -- metadata RPCs (the connector's cursor.catalogs()/schemas()/tables()/columns()) ----------
    def _metadata_query(self, session_handle: t.TSessionHandle, sql: str) -> t.TExecuteStatementResp:
        with self._lock:
            session = self._sessions.get(session_handle.sessionId.guid)
        if session is None:
            return t.TExecuteStatementResp(t.TStatus(t.TStatusCode.INVALID_HANDLE_STATUS, errorMessage="Invalid SessionHandle"))
        return self._start(sql, {}, session, False, t.TSparkGetDirectResults(100_000), False)

    def GetCatalogs(self, req: t.TGetCatalogsReq) -> t.TExecuteStatementResp:
        return self._metadata_query(req.sessionHandle, "SELECT catalog_name AS TABLE_CAT FROM system.information_schema.catalogs")

    def GetSchemas(self, req: t.TGetSchemasReq) -> t.TExecuteStatementResp:
        return self._metadata_query(req.sessionHandle, "SELECT schema_name AS TABLE_SCHEM, catalog_name AS TABLE_CATALOG "
                                    f"FROM system.information_schema.schemata WHERE {_like('catalog_name', req.catalogName)} "
                                    f"AND {_like('schema_name', req.schemaName)}")

    def GetTables(self, req: t.TGetTablesReq) -> t.TExecuteStatementResp:
        return self._metadata_query(req.sessionHandle, "SELECT table_catalog AS TABLE_CAT, table_schema AS TABLE_SCHEM, "
                                    "table_name AS TABLE_NAME, 'TABLE' AS TABLE_TYPE, comment AS REMARKS "
                                    f"FROM system.information_schema.tables WHERE {_like('table_catalog', req.catalogName)} "
                                    f"AND {_like('table_schema', req.schemaName)} AND {_like('table_name', req.tableName)}")

    def GetColumns(self, req: t.TGetColumnsReq) -> t.TExecuteStatementResp:
        return self._metadata_query(req.sessionHandle, "SELECT table_catalog AS TABLE_CAT, table_schema AS TABLE_SCHEM, "
                                    "table_name AS TABLE_NAME, column_name AS COLUMN_NAME, data_type AS TYPE_NAME, "
                                    "ordinal_position AS ORDINAL_POSITION, is_nullable AS IS_NULLABLE "
                                    f"FROM system.information_schema.columns WHERE {_like('table_catalog', req.catalogName)} "
                                    f"AND {_like('table_schema', req.schemaName)} AND {_like('table_name', req.tableName)} "
                                    f"AND {_like('column_name', req.columnName)}")

    # -- serving -----------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeWarehouse:
        """Serve on 127.0.0.1 in a daemon thread (``port`` 0: any free port)."""
        processor = TCLIService.Processor(self)
        factory = TBinaryProtocol.TBinaryProtocolFactory()
        server = THttpServer.THttpServer(processor, ("127.0.0.1", port), factory,
                                         server_class=http.server.ThreadingHTTPServer)
        server.httpd.RequestHandlerClass = _authenticated(server.httpd.RequestHandlerClass, self)
        server.httpd.daemon_threads = True
        self.server, self.port = server, server.httpd.server_address[1]
        threading.Thread(target=server.httpd.serve_forever, daemon=True, name="fake-dbsql").start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.httpd.shutdown()
            self.server.httpd.server_close()
        with self._lock:
            handles = [o.handle for o in self._operations.values()]
        for handle in handles:
            self._close(handle)
        self.db.close()


def _empty() -> pa.RecordBatchReader:
    """The result of a statement without rows (DDL, INSERT): Databricks answers ``num_affected_rows``."""
    return pa.RecordBatchReader.from_batches(pa.schema([("num_affected_rows", pa.int64())]), [])


def _like(column: str, pattern: str | None) -> str:
    if not pattern or pattern == "%":
        return "true"
    return f"{column} LIKE '" + pattern.replace("'", "''") + "'"


def _authenticated(handler: type[http.server.BaseHTTPRequestHandler], warehouse: FakeWarehouse) -> type:
    """The request handler, behind the checks a workspace makes before Thrift sees a request."""

    class Authenticated(handler):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:
            if not self.path.startswith("/sql/1.0/warehouses/"):
                self.send_error(404, "Not Found")
                return
            if self.headers.get("Authorization") != f"Bearer {warehouse.token}":
                body = b'{"error_code":"403","message":"Invalid access token."}'
                self.send_response(403, "Forbidden")
                self.send_header("Content-Type", "application/json")
                self.send_header("x-databricks-reason-phrase", "Invalid access token.")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_POST()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Authenticated


@contextmanager
def running_warehouse(**options: object) -> Iterator[FakeWarehouse]:
    warehouse = FakeWarehouse(**options).start()  # type: ignore[arg-type]
    try:
        yield warehouse
    finally:
        warehouse.stop()


if __name__ == "__main__":
    fake = FakeWarehouse().start(int(sys.argv[1]) if len(sys.argv) > 1 else 8087)
    print(f"fake Databricks SQL warehouse on {fake.uri} (token {fake.token}); Ctrl-C stops it")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
