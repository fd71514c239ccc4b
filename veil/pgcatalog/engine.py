"""The local engine: answers statements that read no user table (catalog queries, session
functions, table-less SELECTs) from an in-memory DuckDB holding the emulated catalog."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from sqlglot import exp

from veil import errcodes, timezones
from veil.catalog.model import CatalogSnapshot
from veil.catalog.sources.sandbox import set_zone
from veil.pgcatalog import localtypes, pgtemporal, safety, scopes
from veil.pgcatalog.conditions import check_conditions
from veil.pgcatalog.context import CompileEnv, LocalContext
from veil.pgcatalog.database import build_database
from veil.pgcatalog.errors import translate
from veil.pgcatalog.exactcalls import exact_calls, refuse_inexact
from veil.pgcatalog.infer import OutputColumn, Typer
from veil.pgcatalog.normalize import normalize
from veil.pgcatalog.objects import CatalogObjects
from veil.pgcatalog.params import coerce_value
from veil.pgcatalog.pgnumeric import postgres_numerics
from veil.pgcatalog.prorettype import postgres_function_results
from veil.pgcatalog.results import convert_batch, result_schema
from veil.pgcatalog.rewrite import Rewriter
from veil.pgtypes import BY_NAME, BY_OID, ColumnType

BATCH_ROWS = 4096


@dataclass(frozen=True)
class LocalQuery:
    """A compiled statement: DuckDB SQL plus what Describe needs to know about it."""

    sql: str
    param_types: tuple[ColumnType, ...]
    columns: tuple[OutputColumn, ...] | None
    search_path: tuple[str, ...]
    slots: tuple[int, ...] = ()  # DuckDB's $k is the client's ${slots[k-1]}
    timezone: str = "UTC"  # the session's TimeZone it was compiled for, and runs in
    literal_timezone: str = "UTC"  # the TimeZone its timestamptz literals were read in
    _schema: dict[str, pa.Schema] = field(default_factory=dict, compare=False, repr=False)

    @property
    def param_oids(self) -> list[int]:
        return [t.oid for t in self.param_types]

    @property
    def param_count(self) -> int:
        return len(self.param_types)

    def literal_zone_kept(self, compiled: LocalContext, now: LocalContext) -> str | None:
        """The zone to read the literals in when the statement, compiled under ``compiled``, is
        compiled again under ``now`` (None: the session's). PostgreSQL reads a prepared
        statement's literals once, when it analyses it (at PREPARE), and analyses it again only
        when its search_path (or the catalog) changed: a new TimeZone alone keeps them."""
        return self.literal_timezone if compiled.search_path == now.search_path else None


class LocalEngine:
    """One emulated catalog (a snapshot as one user sees it), queried by many sessions."""

    def __init__(
        self, snapshot: CatalogSnapshot, *, database: str, users: Sequence[str]
    ) -> None:
        self.objects = CatalogObjects(snapshot, database, users)
        self.started = datetime.now(UTC)
        self._con = build_database(self.objects)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    # --- compile -------------------------------------------------------------------------------

    def compile(
        self,
        statement: exp.Expr,
        ctx: LocalContext,
        param_oids: Sequence[int] = (),
        literal_timezone: str | None = None,
    ) -> LocalQuery:
        """PostgreSQL AST → DuckDB SQL. ``param_oids`` are the client's declared types (0 =
        infer), which win over inference as in PostgreSQL. ``literal_timezone``: the zone to
        read timestamptz literals in, when not the session's (see :meth:`LocalQuery.literal_zone_kept`)."""
        safety.check_statement(statement)
        timezone = ctx.setting("TimeZone") or "UTC"
        literal_timezone = literal_timezone or timezone
        env = CompileEnv(ctx, self.objects, self.started, None if literal_timezone == timezone else literal_timezone)
        tree = normalize(statement)
        if env.literal_timezone is not None:
            _read_literals_in(tree, env.literal_timezone)
        hints = {
            i: ColumnType(BY_OID[oid]) for i, oid in enumerate(param_oids, 1) if oid in BY_OID
        }
        typer = Typer(hints)
        for node in list(tree.walk()):
            typer.type_of(node)
        columns = typer.output_columns(tree)  # PostgreSQL's types, before calls are cast for DuckDB
        postgres_function_results(tree, typer.type_of)
        localtypes.check_uses(tree, typer.type_of)
        check_conditions(tree, typer.type_of)
        rewriter = Rewriter(env, typer)
        rewritten = rewriter.rewrite(tree)
        pgtemporal.annotate(rewritten, rewriter.type_of)
        exact_calls(rewritten, rewriter.type_of)
        refuse_inexact(rewritten)
        compiled = postgres_numerics(rewritten, rewriter.type_of, typer.projections_for, array_texts=True)
        safety.check_output(compiled)
        pgtemporal.duckdb_calls(compiled)  # after the check: Veil's own spelling (from_hex, to_base64), pure
        numbers = [scopes.parameter_number(p) for p in statement.find_all(exp.Parameter)]
        count = max([*numbers, len(param_oids)], default=0)
        slots = _renumber_parameters(compiled)
        text = ColumnType(BY_NAME["text"])
        param_types = tuple(
            hints.get(n) or typer.params.get(n) or text for n in range(1, count + 1)
        )
        return LocalQuery(
            sql=compiled.sql(dialect="duckdb"),
            param_types=param_types,
            columns=tuple(columns) if columns is not None else None,
            search_path=tuple(env.path),
            slots=slots,
            timezone=timezone,
            literal_timezone=literal_timezone,
        )

    def infer_param_types(
        self, statement: exp.Expr, ctx: LocalContext, param_oids: Sequence[int] = ()
    ) -> list[int]:
        """OIDs of ``$1..$n``: the client's where given, else inferred from context."""
        return self.compile(statement, ctx, param_oids).param_oids

    # --- run -----------------------------------------------------------------------------------

    def _cursor(self, timezone: str) -> duckdb.DuckDBPyConnection:
        """A cursor computing ``timestamptz`` in ``timezone`` (a new cursor starts in UTC)."""
        with self._lock:
            cursor = self._con.cursor()
        return set_zone(cursor, timezone)

    def describe(self, query: LocalQuery, param_count: int | None = None) -> pa.Schema:
        """The result schema, without running the query (LIMIT 0 with NULL parameters)."""
        cached = query._schema.get("schema")
        if cached is not None:
            return cached
        cursor = self._cursor(query.timezone)
        try:
            relation = cursor.sql(query.sql, params=[None] * len(query.slots) or None)
            duck = relation.limit(0).to_arrow_table().schema
        except duckdb.Error as error:
            raise translate(error) from None
        finally:
            cursor.close()
        schema = result_schema(query.columns, duck)
        query._schema["schema"] = schema
        return schema

    def execute(self, query: LocalQuery, params: Sequence[object]) -> pa.RecordBatchReader:
        if len(params) != query.param_count:
            raise errcodes.ProtocolViolation(
                f"bind message supplies {len(params)} parameters, "
                f"but prepared statement requires {query.param_count}",
            )
        path = list(query.search_path)

        def reg_in(kind: str, text: str) -> int | None:
            return self.objects.reg_in(kind, text, path, strict=True)

        values = [coerce_value(v, t, reg_in) for v, t in zip(params, query.param_types, strict=True)]
        values = [values[slot - 1] for slot in query.slots]
        schema = self.describe(query)
        cursor = self._cursor(query.timezone)
        try:
            relation = cursor.sql(query.sql, params=values or None)
            reader = relation.to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as error:
            cursor.close()
            raise translate(error) from None
        return pa.RecordBatchReader.from_batches(schema, self._batches(cursor, reader, schema, query))

    def _batches(
        self,
        cursor: duckdb.DuckDBPyConnection,
        reader: pa.RecordBatchReader,
        schema: pa.Schema,
        query: LocalQuery,
    ) -> Iterator[pa.RecordBatch]:
        path = list(query.search_path)

        def render(kind: str, oid: int) -> str:
            return self.objects.reg_out(kind, oid, path)

        try:
            for batch in reader:
                yield convert_batch(batch, schema, render)
        except duckdb.Error as error:
            raise translate(error) from None
        except pa.ArrowInvalid as error:
            raise errcodes.NumericValueOutOfRange(f"value out of range: {error}") from None
        finally:
            cursor.close()


# The timestamptz literal forms read at compile time in another zone than the session's: a date
# with an optional time and no zone (others, with a zone or special words, are left to DuckDB).
_WALL_CLOCK = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*")


def _read_literals_in(tree: exp.Expr, timezone: str) -> None:
    """Every timestamptz literal (``'<wall-clock time>'::timestamptz``, ``timestamptz '...'``) of
    the PostgreSQL ``tree`` read in ``timezone`` instead of the session's TimeZone DuckDB runs
    in, in place: its text becomes the instant, with its offset. A cast of text
    (``'...'::text::timestamptz``) is read when it runs, as in PostgreSQL."""
    zone = timezones.zone(timezone).tzinfo
    for cast in list(tree.find_all(exp.Cast)):
        literal = cast.this
        if (
            cast.to.is_type(exp.DataType.Type.TIMESTAMPTZ)
            and isinstance(literal, exp.Literal)
            and literal.is_string
            and _WALL_CLOCK.fullmatch(literal.this)
        ):
            try:
                naive = datetime.fromisoformat(literal.this.strip())
            except ValueError:  # out of range: DuckDB reports it as PostgreSQL would
                continue
            instant = timezones.wall_clock_instant(naive, zone).astimezone(UTC)
            literal.set("this", instant.isoformat(sep=" "))


def _renumber_parameters(tree: exp.Expr) -> tuple[int, ...]:
    """Number the parameters left in the DuckDB statement densely ($1..$k): a builder may drop
    an argument (``generate_subscripts(a, $1)``) and DuckDB wants exactly the ones it sees."""
    used = sorted({scopes.parameter_number(p) for p in tree.find_all(exp.Parameter)})
    position = {number: index for index, number in enumerate(used, 1)}
    for parameter in tree.find_all(exp.Parameter):
        parameter.set("this", exp.Literal.number(position[scopes.parameter_number(parameter)]))
    return tuple(used)
