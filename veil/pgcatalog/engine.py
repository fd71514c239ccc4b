"""The local engine: answers statements that read no user table (catalog queries, session
functions, table-less SELECTs) from an in-memory DuckDB holding the emulated catalog."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from sqlglot import exp

from veil import errcodes
from veil.catalog.model import CatalogSnapshot
from veil.pgcatalog import localtypes, pgtemporal, safety, scopes
from veil.pgcatalog.context import CompileEnv, LocalContext
from veil.pgcatalog.database import build_database
from veil.pgcatalog.errors import translate
from veil.pgcatalog.exactcalls import exact_calls
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
    _schema: dict[str, pa.Schema] = field(default_factory=dict, compare=False, repr=False)

    @property
    def param_oids(self) -> list[int]:
        return [t.oid for t in self.param_types]

    @property
    def param_count(self) -> int:
        return len(self.param_types)


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
        self, statement: exp.Expr, ctx: LocalContext, param_oids: Sequence[int] = ()
    ) -> LocalQuery:
        """PostgreSQL AST → DuckDB SQL. ``param_oids`` are the client's declared types (0 =
        infer), which win over inference as in PostgreSQL."""
        safety.check_statement(statement)
        env = CompileEnv(ctx, self.objects, self.started)
        tree = normalize(statement)
        hints = {
            i: ColumnType(BY_OID[oid]) for i, oid in enumerate(param_oids, 1) if oid in BY_OID
        }
        typer = Typer(hints)
        for node in list(tree.walk()):
            typer.type_of(node)
        postgres_function_results(tree, typer.type_of)
        columns = typer.output_columns(tree)
        localtypes.check_uses(tree, typer.type_of)
        rewriter = Rewriter(env, typer)
        rewritten = rewriter.rewrite(tree)
        exact_calls(rewritten, rewriter.type_of)
        compiled = postgres_numerics(rewritten, rewriter.type_of, typer.projection_for)
        safety.check_output(compiled)
        pgtemporal.bytea_calls(compiled)  # after the check: Veil's own spelling (from_hex, to_base64), pure
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
        )

    def infer_param_types(
        self, statement: exp.Expr, ctx: LocalContext, param_oids: Sequence[int] = ()
    ) -> list[int]:
        """OIDs of ``$1..$n``: the client's where given, else inferred from context."""
        return self.compile(statement, ctx, param_oids).param_oids

    # --- run -----------------------------------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._con.cursor()

    def describe(self, query: LocalQuery, param_count: int | None = None) -> pa.Schema:
        """The result schema, without running the query (LIMIT 0 with NULL parameters)."""
        cached = query._schema.get("schema")
        if cached is not None:
            return cached
        cursor = self._cursor()
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
        values = [coerce_value(v, t) for v, t in zip(params, query.param_types, strict=True)]
        values = [values[slot - 1] for slot in query.slots]
        schema = self.describe(query)
        cursor = self._cursor()
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


def _renumber_parameters(tree: exp.Expr) -> tuple[int, ...]:
    """Number the parameters left in the DuckDB statement densely ($1..$k): a builder may drop
    an argument (``generate_subscripts(a, $1)``) and DuckDB wants exactly the ones it sees."""
    used = sorted({scopes.parameter_number(p) for p in tree.find_all(exp.Parameter)})
    position = {number: index for index, number in enumerate(used, 1)}
    for parameter in tree.find_all(exp.Parameter):
        parameter.set("this", exp.Literal.number(position[scopes.parameter_number(parameter)]))
    return tuple(used)
