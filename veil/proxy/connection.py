"""One client connection: startup, authentication, then the simple and extended query loops.

Errors in a statement become an ErrorResponse and the session goes on; in the extended
protocol every message up to the next Sync is then skipped. Only protocol violations, failed
authentication and lost sockets end a connection, and only that one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

import pyarrow as pa

from veil import errcodes
from veil.api import Engine, EngineSession, PreparedStatement, ResultStream, SessionInfo, TlsInfo
from veil.config.models import VeilConfig
from veil.errors import QueryCanceled, VeilError
from veil.proxy import codec, messages
from veil.proxy.auth import AuthConversation, AuthRequest, authenticate, throttled
from veil.proxy.cancel import CancelRegistry
from veil.proxy.copy_out import send_copy
from veil.proxy.fastpath import ClientProtocol, FastPath
from veil.proxy.framing import ConnectionClosed, MessageReader, MessageWriter, next_message
from veil.proxy.portal import EMPTY_STATEMENT, Portal, decode_parameters, expand_formats
from veil.proxy.sqlcommands import apply_effect, check_effect, protocol_effect
from veil.proxy.startup import Startup, parameter_statuses, read_startup, validate
from veil.proxy.throttle import LoginThrottle
from veil.sql.limits import OFFLOAD_BYTES, check_statement_size

log = logging.getLogger("veil.proxy")

STARTUP_TIMEOUT = 60.0
_ROW_DESCRIPTION_CACHE = 256
_MAX_AUTH_MESSAGE = 65535
_SMALL_MESSAGE_LIMIT = 10_000
_SMALL_MESSAGES = (
    messages.SYNC,
    messages.FLUSH,
    messages.TERMINATE,
    messages.CLOSE,
    messages.DESCRIBE,
    messages.EXECUTE,
    messages.COPY_DONE,
    messages.COPY_FAIL,
)
_INTERNAL = "internal error in Veil; the server log has the details"


class ConnectionHost(Protocol):
    """What a connection needs from the server that accepted it."""

    engine: Engine
    cancels: CancelRegistry
    throttle: LoginThrottle

    def current_config(self) -> VeilConfig: ...

    def tls(self) -> tuple[ssl.SSLContext | None, str | None]:
        """The TLS context (``None`` when not configured) and the certificate's PEM text."""
        ...


class Connection:
    """The protocol state machine of one client connection."""

    def __init__(self, host: ConnectionHost, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.host = host
        self.config = host.current_config()
        self.stream = writer
        self.reader = MessageReader(reader, self.config.server.max_message_bytes)
        self.out = MessageWriter(writer)
        self.session: EngineSession | None = None
        self.pid = 0
        self.timezone = "UTC"
        self.statements: dict[str, PreparedStatement] = {}
        self.portals: dict[str, Portal] = {}
        self._row_descriptions: dict[tuple[int, tuple[int, ...]], tuple[pa.Schema, bytes]] = {}
        self.skipping = False
        self.fast: FastPath | None = None
        self._running = False
        self._cancel_requested = False
        self._handlers: dict[int, Callable[[bytes], Awaitable[None]]] = {
            messages.PARSE: self._parse,
            messages.BIND: self._bind,
            messages.DESCRIBE: self._describe,
            messages.EXECUTE: self._execute,
            messages.CLOSE: self._close,
            messages.SYNC: self._sync,
            messages.FLUSH: self._flush,
            messages.QUERY: self._query,
            messages.FUNCTION_CALL: self._function_call,
            messages.COPY_DATA: self._ignore,
            messages.COPY_DONE: self._ignore,
            messages.COPY_FAIL: self._ignore,
            messages.TERMINATE: self._ignore,
        }

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until the client leaves or a fatal error happens."""
        try:
            try:
                async with asyncio.timeout(STARTUP_TIMEOUT):
                    ready = await self._startup()
            except TimeoutError:
                log.info("connection closed: startup did not complete within %.0fs", STARTUP_TIMEOUT)
                return
            if ready:
                await self._serve()
        except ConnectionClosed:
            pass
        except OSError as exc:  # a failed TLS handshake, a reset during startup
            log.info("connection lost: %s", exc)
        except VeilError as error:
            self._send_fatal(error)
        except Exception:
            log.exception("unexpected error; closing the connection")
            self._send_fatal(errcodes.InternalError(_INTERNAL, severity="FATAL"))
        finally:
            await self._cleanup()

    def _send_fatal(self, error: VeilError) -> None:
        if error.severity not in ("FATAL", "PANIC"):
            error = VeilError(error.sqlstate, error.message, error.detail, error.hint, error.position, "FATAL")
        try:
            self.out.write(messages.error_response(error))
            self.out.flush()
        except ConnectionClosed:
            pass

    async def _cleanup(self) -> None:
        if self.fast is not None:
            self.fast.close()
        if self.pid:
            self.host.cancels.unregister(self.pid)
        for portal in list(self.portals.values()):
            try:
                await portal.close()
            except Exception:
                log.exception("closing a portal failed")
        self.portals.clear()
        if self.session is not None:
            try:
                await self.session.close()
            except Exception:
                log.exception("closing the engine session failed")
        self.reader.close()
        self.stream.close()

    def cancel_running(self) -> None:
        """CancelRequest for this backend: interrupt the running statement, if any."""
        if self.fast is not None and self.fast.cancel():
            return
        if self._running and self.session is not None:
            self._cancel_requested = True
            self.session.cancel()

    def _check_cancel(self) -> None:
        if self._cancel_requested:
            raise QueryCanceled()

    # --- startup --------------------------------------------------------------------------

    async def _startup(self) -> bool:
        tls_context, certificate = self.host.tls()
        received = await read_startup(self.reader, self.out, self.stream, tls_context, self.host.cancels)
        if received is None:
            return False
        message, tls = received
        startup = validate(message, tls, self.config.server.database)
        if message.minor > 0 or message.protocol_options:
            self.out.write(messages.negotiate_protocol_version(0, message.protocol_options))
        user = self.config.users.get(startup.user)
        request = AuthRequest(
            method=self.config.server.auth,
            user=startup.user,
            stored_password=user.password if user else None,
            user_exists=user is not None,
            tls=tls,
            certificate_pem=certificate,
        )
        self.reader.limits = {messages.PASSWORD: _MAX_AUTH_MESSAGE}
        await self._authenticate(request, self._session_info(startup))
        self.reader.limits = self._message_limits()
        self.out.write(messages.AUTHENTICATION_OK)
        self.session = self.host.engine.open_session(self._session_info(startup))
        self.timezone = startup.timezone
        for name, value in parameter_statuses(startup, bool(user and user.admin)).items():
            self.out.write(messages.parameter_status(name, value))
        self.pid, secret = self.host.cancels.register(self)
        self.out.write(messages.backend_key_data(self.pid, secret))
        self.out.write(messages.ready_for_query(self.session.transaction_status))
        self.out.flush()
        self._enable_fast_path()
        return True

    def _enable_fast_path(self) -> None:
        """Repeated pass-through statements are served from the socket's callbacks (fastpath)."""
        protocol = self.stream.transport.get_protocol()
        tickets = getattr(self.session, "fast_passthrough", None)
        if isinstance(protocol, ClientProtocol) and tickets is not None:
            self.fast = protocol.fast = FastPath(self, protocol, tickets)

    async def _authenticate(self, request: AuthRequest, info: SessionInfo) -> None:
        """The exchange, behind the login throttle: while the user or the address is in
        back-off the attempt is refused (28P01) before any password is asked for. Every failed
        login is audited with its SQLSTATE, user and client address."""
        settings = self.config.server.auth_throttle
        throttle = self.host.throttle
        address = info.client_address
        if request.method != "trust":
            wait = throttle.wait(settings, request.user, address)
            if wait > 0:
                error = throttled(request.user, wait)
                log.warning("login of %r from %s refused: in back-off for %.1fs", request.user, address, wait)
                self.host.engine.audit_login(info, error)
                raise error
        try:
            await authenticate(AuthConversation(self._auth_send, self._auth_receive), request)
        except VeilError as error:
            if error.sqlstate == "28P01":
                throttle.failed(settings, request.user, address)
            self.host.engine.audit_login(info, error)
            raise
        throttle.succeeded(request.user, address)

    def _message_limits(self) -> dict[int, int]:
        """Message types accepted after startup; the short ones get a small length limit."""
        large = self.config.server.max_message_bytes
        limits = {kind: large for kind in self._handlers}
        for kind in _SMALL_MESSAGES:
            limits[kind] = _SMALL_MESSAGE_LIMIT
        return limits

    def _session_info(self, startup: Startup) -> SessionInfo:
        peer = self.stream.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else ""
        return SessionInfo(
            user=startup.user,
            database=startup.database,
            application_name=startup.application_name,
            client_address=str(address),
            startup_parameters=startup.parameters,
            tls=self._tls_info(),
        )

    def _tls_info(self) -> TlsInfo | None:
        tls = self.stream.get_extra_info("ssl_object")
        cipher = tls.cipher() if tls is not None else None
        if tls is None or cipher is None:
            return None
        name, _, bits = cipher
        return TlsInfo(version=str(tls.version()), cipher=str(name), bits=int(bits))

    async def _auth_send(self, message: bytes) -> None:
        self.out.write(message)
        self.out.flush()

    async def _auth_receive(self) -> bytes:
        kind, payload = await self.reader.read()
        if kind != messages.PASSWORD:
            raise messages.MalformedMessage(f"expected password response, got message type {kind}")
        return payload

    # --- main loop ------------------------------------------------------------------------

    async def _serve(self) -> None:
        reader = self.reader
        out = self.out
        handlers = self._handlers
        while True:
            kind, payload = await next_message(reader, out)
            if kind == messages.TERMINATE:
                return
            if self.skipping and kind != messages.SYNC:
                continue
            handler = handlers.get(kind)
            if handler is None:
                raise messages.MalformedMessage(f"invalid frontend message type {kind}")
            try:
                await handler(payload)
            except VeilError as error:
                if error.severity in ("FATAL", "PANIC"):
                    raise
                self._report(error)
                self.skipping = True
            except (ConnectionClosed, asyncio.CancelledError):
                raise
            except Exception:
                log.exception("unexpected error in the extended query protocol")
                self._report(errcodes.InternalError(_INTERNAL))
                self.skipping = True

    def _report(self, error: VeilError) -> None:
        self.out.write(messages.error_response(error))
        if self.session is not None:
            self.session.mark_failed()

    def row_description(self, schema: pa.Schema, formats: list[int]) -> bytes:
        """RowDescription, cached: re-executing a prepared statement re-describes the same schema."""
        key = (id(schema), tuple(formats))
        cached = self._row_descriptions.get(key)
        if cached is not None and cached[0] is schema:
            return cached[1]
        if len(self._row_descriptions) >= _ROW_DESCRIPTION_CACHE:
            self._row_descriptions.clear()
        message = bytes(codec.row_description(schema, formats))
        self._row_descriptions[key] = (schema, message)
        return message

    def _parameter_status(self) -> None:
        assert self.session is not None
        changed = self.session.pending_parameter_status()
        if changed:
            for name, value in changed.items():
                self.out.write(messages.parameter_status(name, value))
                if name.lower() == "timezone":
                    self.timezone = value

    async def _ready(self) -> None:
        """ReadyForQuery, sent at once; waits while a client that does not read falls behind."""
        assert self.session is not None
        self.out.write(messages.ready_for_query(self.session.transaction_status))
        await self.out.flush_and_drain()

    async def _end_of_transaction(self) -> None:
        """Outside a transaction block no portal survives (PostgreSQL drops them at commit)."""
        assert self.session is not None
        if self.portals and self.session.transaction_status == "I":
            portals = list(self.portals.values())
            self.portals.clear()
            for portal in portals:
                await portal.close()

    async def _ignore(self, payload: bytes) -> None:
        """CopyData/CopyDone/CopyFail outside COPY are ignored, as the protocol specifies."""

    async def _function_call(self, payload: bytes) -> None:
        raise errcodes.FeatureNotSupported("the fastpath function call protocol is not supported")

    # --- simple query ---------------------------------------------------------------------

    async def _query(self, payload: bytes) -> None:
        session = self.session
        assert session is not None
        try:
            sql = messages.parse_query(payload)
            unnamed = self.portals.pop("", None)
            if unnamed is not None:
                await unnamed.close()
            check_statement_size(sql, self.config.server.max_statement_bytes)  # before it is tokenized
            # a big text is split on a worker thread: the event loop keeps serving other sessions
            statements = (
                session.split(sql) if len(sql) <= OFFLOAD_BYTES else await asyncio.to_thread(session.split, sql)
            )
            if not statements:
                self.out.write(messages.EMPTY_QUERY_RESPONSE)
            for text in statements:
                await self._simple_statement(session, text)
        except VeilError as error:
            if error.severity in ("FATAL", "PANIC"):
                raise
            self._report(error)
        except (ConnectionClosed, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("unexpected error in a simple query")
            self._report(errcodes.InternalError(_INTERNAL))
        await self._end_of_transaction()
        await self._ready()

    async def _simple_statement(self, session: EngineSession, text: str) -> None:
        self._running = True
        self._cancel_requested = False
        portal: Portal | None = None
        try:
            statement = await session.prepare(text, ())
            effect = protocol_effect(statement.command, statement.sql)
            if effect is not None:
                check_effect(effect, self._statement_names(), self._portal_names())
            text_formats = [0] * len(statement.schema) if statement.schema is not None else None
            stream = await session.execute(statement, (), text_formats)
            if await self._copy_out(stream):
                return
            schema = statement.schema if statement.schema is not None else stream.schema
            binary = getattr(stream, "binary", False)  # FETCH from a BINARY cursor
            formats = [int(binary)] * len(schema) if schema is not None else []
            portal = Portal(statement, (), schema, formats)
            portal.attach(stream)
            if schema is not None:
                self.out.write(self.row_description(schema, formats))
            rows, _ = await portal.send_rows(self.out, 0, self.timezone, self._check_cancel)
            self.out.write(messages.command_complete(stream.command_tag(rows)))
            if effect is not None:
                await apply_effect(effect, self.statements, self.portals, None)
        finally:
            self._running = False
            if portal is not None:
                await portal.close()
            self._parameter_status()

    async def _copy_out(self, stream: ResultStream) -> bool:
        """Send a ``COPY ... TO STDOUT`` result with the COPY protocol; False for other results."""
        spec = getattr(stream, "copy", None)
        if spec is None or stream.schema is None:
            return False
        try:
            rows = await send_copy(self.out, stream, spec, stream.schema, self.timezone, self._check_cancel)
        finally:
            await stream.close()
        self.out.write(messages.command_complete(stream.command_tag(rows)))
        return True

    # --- extended query -------------------------------------------------------------------

    def _statement_names(self) -> set[str]:
        """Parse's statements and SQL PREPARE's share one namespace (DEALLOCATE checks both)."""
        names = getattr(self.session, "prepared_names", None)
        return set(self.statements) | (names() if names is not None else set())

    def _portal_names(self) -> set[str]:
        """Protocol portals and SQL cursors share one namespace (CLOSE checks both)."""
        names = getattr(self.session, "cursor_names", None)
        return set(self.portals) | (names() if names is not None else set())

    def _statement(self, name: str) -> PreparedStatement:
        statement = self.statements.get(name)
        if statement is None:
            if name:
                raise errcodes.InvalidSqlStatementName(f'prepared statement "{name}" does not exist')
            raise errcodes.InvalidSqlStatementName("unnamed prepared statement does not exist")
        return statement

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise errcodes.InvalidCursorName(f'portal "{name}" does not exist')
        return portal

    async def _parse(self, payload: bytes) -> None:
        message = messages.parse_parse(payload)
        if message.name and message.name in self.statements:
            raise errcodes.DuplicatePreparedStatement(f'prepared statement "{message.name}" already exists')
        check_statement_size(message.sql, self.config.server.max_statement_bytes)
        assert self.session is not None
        if self._is_empty(message.sql):
            statement = EMPTY_STATEMENT
        else:
            statement = await self.session.prepare(message.sql, message.param_oids)
        self.statements[message.name] = statement
        self.out.write(messages.PARSE_COMPLETE)

    def _is_empty(self, sql: str) -> bool:
        stripped = sql.strip().rstrip(";").strip()
        if not stripped:
            return True
        if stripped.startswith(("--", "/*")):
            assert self.session is not None
            return not self.session.split(sql)
        return False

    async def _bind(self, payload: bytes) -> None:
        message = messages.parse_bind(payload)
        statement = self._statement(message.statement)
        if message.portal:
            if message.portal in self.portals:
                raise errcodes.DuplicateCursor(f'portal "{message.portal}" already exists')
        else:
            previous = self.portals.pop("", None)
            if previous is not None:
                await previous.close()
        oids = statement.param_oids
        if len(message.values) != len(oids):
            raise errcodes.ProtocolViolation(
                f"bind message supplies {len(message.values)} parameters, but prepared "
                f'statement "{message.statement}" requires {len(oids)}',
            )
        params = decode_parameters(message.values, oids, message.param_formats, self.timezone)
        schema = statement.schema
        formats = expand_formats(message.result_formats, len(schema), "result") if schema is not None else []
        self.portals[message.portal] = Portal(statement, params, schema, formats)
        self.out.write(messages.BIND_COMPLETE)

    async def _describe(self, payload: bytes) -> None:
        kind, name = messages.parse_target(payload)
        out = self.out
        if kind == "S":
            statement = self._statement(name)
            out.write(messages.parameter_description(statement.param_oids))
            schema = statement.schema
            formats = [0] * len(schema) if schema is not None else []
        elif name not in self.portals and name in self._portal_names():
            schema = self.session.cursor_schema(name)  # type: ignore[union-attr]
            formats = [0] * len(schema)
        else:
            portal = self._portal(name)
            schema, formats = portal.schema, portal.formats
        if schema is None:
            out.write(messages.NO_DATA)
        else:
            out.write(self.row_description(schema, formats))

    async def _execute(self, payload: bytes) -> None:
        name, max_rows = messages.parse_execute(payload)
        portal = self._portal(name)
        if portal.statement is EMPTY_STATEMENT:
            self.out.write(messages.EMPTY_QUERY_RESPONSE)
            return
        session = self.session
        assert session is not None
        self._running = True
        self._cancel_requested = False
        effect = None
        try:
            if not portal.started:
                effect = protocol_effect(portal.statement.command, portal.statement.sql)
                if effect is not None:
                    check_effect(effect, self._statement_names(), self._portal_names())
                formats = portal.formats if portal.schema is not None else None
                stream = await session.execute(portal.statement, portal.params, formats)
                if await self._copy_out(stream):
                    await portal.close()
                    return
                portal.attach(stream)
            rows, suspended = await portal.send_rows(self.out, max(max_rows, 0), self.timezone, self._check_cancel)
            if suspended:
                self.out.write(messages.PORTAL_SUSPENDED)
            else:
                assert portal.stream is not None
                self.out.write(messages.command_complete(portal.stream.command_tag(rows)))
                if effect is not None:
                    await apply_effect(effect, self.statements, self.portals, portal)
        except BaseException:
            await portal.close()
            raise
        finally:
            self._running = False
            self._parameter_status()

    async def _close(self, payload: bytes) -> None:
        kind, name = messages.parse_target(payload)
        if kind == "S":
            self.statements.pop(name, None)
        else:
            portal = self.portals.pop(name, None)
            if portal is not None:
                await portal.close()
        self.out.write(messages.CLOSE_COMPLETE)

    async def _sync(self, payload: bytes) -> None:
        self.skipping = False
        await self._end_of_transaction()
        await self._ready()

    async def _flush(self, payload: bytes) -> None:
        self.out.flush()
