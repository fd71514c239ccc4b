"""PostgreSQL type inference over a parsed statement.

The rewriter needs the PostgreSQL type of expressions (a cast to ``regclass`` means a name lookup
from text but nothing from an OID; ``c.oid = '16386'`` compares numbers), the parameter types
asked for by Describe come from the same rules, and RowDescription reports the PostgreSQL type
of each output column (``oid``, ``name``, ``"char"``... which DuckDB cannot tell apart from
integers and strings). Resolution follows SQL scoping: a column is looked up in the FROM items
of its own SELECT (relations, subqueries, CTEs, table functions), then of enclosing SELECTs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from veil.errors import VeilError
from veil.pgcatalog import localtypes, scopes
from veil.pgcatalog.builtins import REGISTRY
from veil.pgcatalog.commontype import common_type
from veil.pgcatalog.fn_arrays import expandarray_field_type
from veil.pgcatalog.functions import PASSTHROUGH, TABLE_FUNCTIONS, array_of, element_of
from veil.pgcatalog.naming import output_name
from veil.pgcatalog.params import context_type
from veil.pgcatalog.parse import WRITTEN_NAME
from veil.pgcatalog.pgnumeric import AGGREGATE_CLASSES, aggregate_result
from veil.pgcatalog.prorettype import DUCKDB_TYPES, SERVED_TYPES, catalog_result
from veil.pgcatalog.result_types import CATALOG_TYPED, FIXED_RESULTS, at_time_zone_result, datetime_result
from veil.pgcatalog.schema import REG_TYPES
from veil.pgcatalog.typemap import column_type_of
from veil.pgtypes import BY_NAME, ColumnType

BOOL = ColumnType(BY_NAME["bool"])
TEXT = ColumnType(BY_NAME["text"])
NAME = ColumnType(BY_NAME["name"])
UNKNOWN = ColumnType(BY_NAME["unknown"])
INT2, INT4, INT8 = (ColumnType(BY_NAME[n]) for n in ("int2", "int4", "int8"))
NUMERIC = ColumnType(BY_NAME["numeric"])
FLOAT8 = ColumnType(BY_NAME["float8"])
_RANK = {"int2": 1, "int4": 2, "int8": 3, "oid": 2, "numeric": 4, "float4": 5, "float8": 6}

_BOOLEAN = (exp.Predicate, exp.And, exp.Or, exp.Not, exp.Xor, exp.Exists, exp.RegexpLike,
            exp.RegexpILike, exp.LogicalAnd, exp.LogicalOr, exp.StartsWith)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.BitwiseAnd, exp.BitwiseOr,
               exp.BitwiseXor, exp.BitwiseLeftShift, exp.BitwiseRightShift)
_TEXT_FUNCS = (exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Concat, exp.Replace,
               exp.RegexpReplace, exp.Initcap, exp.Pad, exp.Left, exp.Right, exp.Repeat,
               exp.Reverse, exp.Translate, exp.SplitPart, exp.Format, exp.Chr, exp.MD5,
               exp.TimeToStr, exp.GroupConcat, exp.ArrayToString, exp.ConcatWs, exp.Format,
               exp.Encode)  # encode(bytea, format): sqlglot's Encode
_INT4_FUNCS = (exp.Length, exp.StrPosition, exp.Ascii, exp.ArraySize, exp.ArrayPosition)
_SAME_AS_ARG = (exp.Min, exp.Max, exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Sign,
                exp.TimestampTrunc, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue)
_NUMERIC_OVERLOADED = (exp.Sqrt, exp.Ln, exp.Log, exp.Exp, exp.Pow)
_INT8_FUNCS = (exp.Count, exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile)


@dataclass(frozen=True)
class OutputColumn:
    name: str
    type: ColumnType | None


class Typer:
    """Infers and memoises the PostgreSQL type of nodes of one statement tree."""

    def __init__(self, param_hints: dict[int, ColumnType] | None = None) -> None:
        self._memo: dict[int, ColumnType | None] = {}
        self._sources: dict[int, dict[str, scopes.Source]] = {}
        self._keep: list[exp.Expr] = []
        self._busy: set[int] = set()
        self.param_hints = param_hints or {}
        self.params: dict[int, ColumnType] = {}

    # --- public -------------------------------------------------------------------------------

    def type_of(self, node: exp.Expr) -> ColumnType | None:
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            result = self._compute(node)
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        self._keep.append(node)
        return result

    def output_columns(self, query: exp.Expr) -> list[OutputColumn] | None:
        """Columns a query returns, or None when a ``*`` cannot be expanded."""
        if isinstance(query, exp.Subquery):
            return self.output_columns(query.this)
        if isinstance(query, exp.SetOperation):
            left = self.output_columns(query.left)
            right = self.output_columns(query.right)
            if left is None or right is None or len(left) != len(right):
                return left
            return [
                OutputColumn(a.name, common_type([a.type, b.type]) if _known(a.type) else b.type)
                for a, b in zip(left, right, strict=True)
            ]
        if isinstance(query, exp.Values):
            first = query.expressions[0].expressions if query.expressions else []
            return [OutputColumn(f"column{i}", self.type_of(e)) for i, e in enumerate(first, 1)]
        if not isinstance(query, exp.Select):
            return None
        columns: list[OutputColumn] = []
        sources = self.sources(query)
        for projection in query.expressions:
            if isinstance(projection, exp.Star):
                for source in sources.values():
                    expanded = self.source_columns(source)
                    if expanded is None:
                        return None
                    columns.extend(expanded)
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                star_source = sources.get(projection.table)
                expanded = self.source_columns(star_source) if star_source is not None else None
                if expanded is None:
                    return None
                columns.extend(expanded)
            else:
                columns.append(OutputColumn(output_name(projection), self.type_of(projection)))
        return columns

    def source_columns(self, source: scopes.Source) -> list[OutputColumn] | None:
        columns: list[OutputColumn] | None
        if source.relation is not None:
            columns = [OutputColumn(c.name, ColumnType(c.pg_type)) for c in source.relation.columns]
        elif source.query is not None:
            columns = self.output_columns(source.query)
        elif source.function is not None:
            columns = self._function_columns(source)
        else:
            return None
        if columns is None:
            return None
        if source.column_names:
            renamed = [
                OutputColumn(name, column.type)
                for name, column in zip(source.column_names, columns, strict=False)
            ]
            return renamed + columns[len(renamed) :]
        return columns

    # --- rules ---------------------------------------------------------------------------------

    def _compute(self, node: exp.Expr) -> ColumnType | None:
        if isinstance(node, exp.Alias | exp.Paren | exp.Window | exp.Ordered | exp.Order | exp.Filter):
            return self.type_of(node.this)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Literal):
            return UNKNOWN if node.is_string else _number_type(node.this)
        if isinstance(node, exp.BitString):
            return localtypes.literal_type(node)
        if isinstance(node, exp.ByteString | exp.RawString | exp.National):
            return UNKNOWN
        if isinstance(node, exp.Boolean):
            return BOOL
        if isinstance(node, exp.Interval):  # ``interval '1 day'``
            return ColumnType(BY_NAME["interval"])
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Cast | exp.TryCast):
            try:
                return column_type_of(node.to)
            except VeilError:
                return None
        if isinstance(node, exp.Parameter | exp.Placeholder):
            return self._parameter(node)
        if isinstance(node, _BOOLEAN) or _is_regex_operator(node):
            return BOOL
        if isinstance(node, exp.Neg):
            return self.type_of(node.this)
        if isinstance(node, _ARITHMETIC):
            left, right = self.type_of(node.this), self.type_of(node.expression)
            return datetime_result(node, left, right) or _promote(left, right)
        if isinstance(node, exp.DPipe):
            left, right = self.type_of(node.this), self.type_of(node.expression)
            for side in (left, right):
                if side is not None and side.type.is_array:
                    return side
            return TEXT
        if isinstance(node, exp.Case):
            branches = [i.args.get("true") for i in node.args.get("ifs", [])]
            return self._first_known([*branches, node.args.get("default")])
        if isinstance(node, exp.If):
            return self._first_known([node.args.get("true"), node.args.get("false")])
        if isinstance(node, exp.Coalesce | exp.Greatest | exp.Least):
            return self._first_known([node.this, *node.expressions])
        if isinstance(node, exp.Nullif):
            return self._resolved(self.type_of(node.this))
        if isinstance(node, exp.Bracket):
            return self._subscript(node)
        if isinstance(node, exp.Dot):
            return self._dot(node)
        if isinstance(node, exp.Subquery):
            columns = self.output_columns(node.this)
            return columns[0].type if columns else None
        if isinstance(node, exp.Array):
            if node.expressions and isinstance(node.expressions[0], exp.Query):
                columns = self.output_columns(node.expressions[0])
                return array_of(self._resolved(columns[0].type)) if columns else None
            return array_of(self._first_known(node.expressions) or TEXT)
        if isinstance(node, exp.ArrayAgg):
            return array_of(self._resolved(self.type_of(node.this)))
        return self._function(node)

    def _function(self, node: exp.Expr) -> ColumnType | None:
        if isinstance(node, _INT8_FUNCS):
            return INT8
        if isinstance(node, _TEXT_FUNCS):
            return TEXT
        if isinstance(node, _INT4_FUNCS):
            return INT4
        truncated = self.type_of(node.this) if isinstance(node, exp.TimestampTrunc) else None
        if truncated is not None and truncated.type.name == "date":  # truncates the date as timestamptz
            return ColumnType(BY_NAME["timestamptz"])
        if isinstance(node, exp.Min | exp.Max) and _is_varchar(self.type_of(node.this)):
            return TEXT  # there is no max(varchar): its argument is read as text
        if isinstance(node, _SAME_AS_ARG):
            same = self._resolved(self.type_of(node.this))
            return ColumnType(same.type) if same is not None else None  # without the typmod
        if isinstance(node, exp.Trunc) and _named(self.type_of(node.this)) == "numeric":
            return NUMERIC  # trunc(numeric [, int]); of other numbers it is float8's
        if isinstance(node, _NUMERIC_OVERLOADED):  # numeric when an argument is, none a float
            kinds = {_named(self.type_of(a)) for a in (node.this, node.args.get("expression")) if a is not None}
            if "numeric" in kinds and kinds <= {"int2", "int4", "int8", "numeric"}:
                return NUMERIC
        if isinstance(node, AGGREGATE_CLASSES):
            arg = self._resolved(self.type_of(node.this))
            result = aggregate_result(node, arg.type.name) if arg is not None else None
            if result is not None:
                return ColumnType(BY_NAME[result])
            return NUMERIC if arg is None else arg
        if isinstance(node, exp.CurrentTimestamp):
            return ColumnType(BY_NAME["timestamptz"])
        if isinstance(node, exp.CurrentDate):
            return ColumnType(BY_NAME["date"])
        if isinstance(node, exp.Uuid):  # gen_random_uuid()
            return ColumnType(BY_NAME["uuid"])
        if isinstance(node, exp.Localtimestamp):
            return ColumnType(BY_NAME["timestamp"])
        if isinstance(node, exp.Explode | exp.Unnest):
            inner = node.this if isinstance(node, exp.Explode) else node.expressions[0]
            return element_of(self.type_of(inner))
        if isinstance(node, exp.ExplodingGenerateSeries | exp.GenerateSeries):
            return self._series_type(node)
        if isinstance(node, exp.Extract):  # date_part() is float8
            return FLOAT8 if node.meta.get(WRITTEN_NAME) == "date_part" else NUMERIC
        if isinstance(node, exp.AtTimeZone):
            return at_time_zone_result(self.type_of(node.this))
        if isinstance(node, exp.Interval):
            return ColumnType(BY_NAME["interval"])
        if isinstance(node, exp.JSONExtract | exp.JSONBExtract):  # -> and #> keep json or jsonb
            return self._resolved(self.type_of(node.this))
        if isinstance(node, exp.JSONExtractScalar | exp.JSONBExtractScalar):
            return TEXT
        if isinstance(node, exp.StringToArray):
            return ColumnType(BY_NAME["_text"])
        if isinstance(node, exp.JSONArrayAgg | exp.JSONObject):
            return ColumnType(BY_NAME["json"])
        if isinstance(node, exp.JSONStripNulls):
            return ColumnType(BY_NAME["json"])
        name = scopes.function_name(node)
        if name is None:
            return None
        built = localtypes.constructor_type(name, [self.type_of(a) for a in scopes.function_args(node)])
        if built is not None:
            return built
        if name in FIXED_RESULTS:
            return ColumnType(BY_NAME[FIXED_RESULTS[name]])
        catalog = catalog_result(name, [self.type_of(a) for a in scopes.function_args(node)])
        if catalog in DUCKDB_TYPES or catalog in CATALOG_TYPED or catalog == "numeric" or catalog in SERVED_TYPES:  # pg_proc's prorettype of the chosen overload
            return ColumnType(BY_NAME[catalog])
        spec = REGISTRY.get(name)
        if spec is not None:
            args = scopes.function_args(node)
            return spec.result_type([self.type_of(a) for a in args])
        if name in PASSTHROUGH and PASSTHROUGH[name] in BY_NAME:
            return ColumnType(BY_NAME[PASSTHROUGH[name]])
        return None

    def _series_type(self, node: exp.Expr) -> ColumnType | None:
        bounds = [node.args.get("start"), node.args.get("end")]
        types = [self.type_of(b) for b in bounds if b is not None]
        result = INT4
        for bound in types:
            if bound is None:
                continue
            if bound.type.name in ("timestamp", "timestamptz", "date"):
                return ColumnType(BY_NAME["timestamptz" if bound.type.name != "timestamp" else "timestamp"])
            result = _promote(result, bound) or result
        return result

    def sources(self, select: exp.Select) -> dict[str, scopes.Source]:
        key = id(select)
        if key not in self._sources:
            self._keep.append(select)
            self._sources[key] = scopes.sources(select)
        return self._sources[key]

    def resolve(self, column: exp.Column) -> tuple[scopes.Source | None, exp.Expr | None]:
        """The FROM item a column comes from, or (None, projection) for an output alias."""
        name, table = column.name, column.table
        for select in scopes.enclosing_selects(column):
            found = self.sources(select)
            if table:
                if table in found:
                    return found[table], None
                continue
            for source in found.values():
                columns = self.source_columns(source)
                if columns and any(c.name == name for c in columns):
                    return source, None
            for source in found.values():
                if source.relation is not None and source.relation.system_column(name):
                    return source, None
                if self._opaque_column(source, column):
                    return source, None
            for projection in select.expressions:
                inside = any(c is column for c in projection.find_all(exp.Column))
                if isinstance(projection, exp.Alias) and projection.alias == name and not inside:
                    return None, projection.this
        return None, None

    def _opaque_column(self, source: scopes.Source, column: exp.Column) -> bool:
        """Whether a FROM item whose columns this Typer cannot list (a user table) has it."""
        return False

    def projection_for(self, column: exp.Column) -> exp.Expr | None:
        """The select-list expression behind a column of a subquery/CTE (unaliased)."""
        source, projection = self.resolve(column)
        if projection is not None:
            return projection
        if source is None or source.query is None:
            return None
        query = source.query
        while isinstance(query, exp.SetOperation):
            query = query.left
        if not isinstance(query, exp.Select):
            return None
        for candidate in query.expressions:
            if candidate.alias_or_name == column.name:
                return candidate.this if isinstance(candidate, exp.Alias) else candidate
        return None

    def projections_for(self, column: exp.Column) -> list[exp.Expr]:
        """Every select-list expression behind a column of a subquery/CTE (unaliased): one per
        branch of a set operation (by position), none when a branch has ``*``."""
        source, projection = self.resolve(column)
        if projection is not None:
            return [projection]
        if source is None or source.query is None:
            return []
        branches, pending = [], [source.query]
        while pending:
            query = pending.pop(0)
            if isinstance(query, exp.SetOperation):
                pending[:0] = [query.left, query.right]
            elif isinstance(query, exp.Select) and not any(isinstance(p, exp.Star) for p in query.expressions):
                branches.append(query)
            else:
                return []
        names = [p.alias_or_name for p in branches[0].expressions]
        if column.name not in names:
            return []
        index = names.index(column.name)
        return [b.expressions[index].unalias() for b in branches if len(b.expressions) > index]

    def _column(self, column: exp.Column) -> ColumnType | None:
        source, projection = self.resolve(column)
        if projection is not None:
            return self.type_of(projection)
        if source is None:
            if not column.table and not column.this.quoted and column.name in scopes.KEYWORD_COLUMNS:
                return NAME
            return None
        for output in self.source_columns(source) or []:
            if output.name == column.name:
                return output.type
        system = source.relation.system_column(column.name) if source.relation else None
        return ColumnType(system.pg_type) if system is not None else None

    def _function_columns(self, source: scopes.Source) -> list[OutputColumn] | None:
        function = source.function
        aliased = source.node.alias if isinstance(source.node, exp.Table | exp.Unnest) else ""
        if isinstance(function, exp.Unnest):
            types = [element_of(self.type_of(e)) for e in function.expressions]
            return [OutputColumn(aliased or "unnest", t) for t in types]
        if isinstance(function, exp.ExplodingGenerateSeries | exp.GenerateSeries):
            return [OutputColumn(aliased or "generate_series", self._series_type(function))]
        name = scopes.function_name(function) if function is not None else None
        args = scopes.function_args(function) if function is not None else []
        if name == "_pg_expandarray":
            array_type = self.type_of(args[0]) if args else None
            return [
                OutputColumn("x", expandarray_field_type(array_type, "x")),
                OutputColumn("n", INT4),
            ]
        if name == "pg_get_keywords":
            char = ColumnType(BY_NAME["char"])
            return [OutputColumn("word", TEXT), OutputColumn("catcode", char),
                    OutputColumn("barelabel", BOOL), OutputColumn("catdesc", TEXT),
                    OutputColumn("baredesc", TEXT)]
        if name in TABLE_FUNCTIONS:
            return [OutputColumn(column, ColumnType(BY_NAME[kind]))
                    for column, kind in TABLE_FUNCTIONS[name]]
        spec = REGISTRY.get(name) if name else None
        if spec is None:
            if isinstance(function, exp.Func):
                return [OutputColumn(aliased or output_name(function), self.type_of(function))]
            return None
        result = spec.result_type([self.type_of(a) for a in args])
        return [OutputColumn(aliased or name or "?column?", result)]

    def _subscript(self, node: exp.Bracket) -> ColumnType | None:
        base = self.type_of(node.this)
        if len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
            return base
        return element_of(base)

    def _dot(self, node: exp.Dot) -> ColumnType | None:
        field = node.expression.name if isinstance(node.expression, exp.Identifier) else ""
        call = scopes.expandarray_call(node.this)
        inner = node.this.this if isinstance(node.this, exp.Paren) else None
        if call is None and isinstance(inner, exp.Column):
            call = scopes.expandarray_call(self.projection_for(inner))
        if call is not None:
            return expandarray_field_type(self.type_of(call.expressions[0]), field)
        if isinstance(node.expression, exp.Anonymous):
            return self._function(node)
        return None

    def _parameter(self, node: exp.Expr) -> ColumnType | None:
        number = scopes.parameter_number(node)
        if number in self.param_hints:
            self.params[number] = self.param_hints[number]
            return self.param_hints[number]
        inferred = context_type(self, node)
        if inferred is not None and inferred.type.name in REG_TYPES:
            # ``CAST($1 AS regclass)``: PostgreSQL describes $1 as regclass, but the value is a
            # name clients send as text; describing it as text keeps every decoder on the
            # name (the cast then looks it up).
            inferred = TEXT
        if number not in self.params or self.params[number].type.name in ("text", "unknown"):
            self.params[number] = inferred or TEXT
        return self.params[number]

    def _first_known(self, nodes: list[exp.Expr | None]) -> ColumnType | None:
        """The common type of CASE branches / COALESCE arguments (select_common_type)."""
        types = [self.type_of(n) for n in nodes if n is not None]
        return common_type(types)

    @staticmethod
    def _resolved(column_type: ColumnType | None) -> ColumnType | None:
        if column_type is not None and column_type.type.name == "unknown":
            return TEXT
        return column_type


def _named(column_type: ColumnType | None) -> str | None:
    return column_type.type.name if column_type is not None else None


def _is_varchar(column_type: ColumnType | None) -> bool:
    return column_type is not None and column_type.type.name == "varchar"


def _known(column_type: ColumnType | None) -> bool:
    return column_type is not None and column_type.type.name != "unknown"


def _number_type(text: str) -> ColumnType:
    if text.lstrip("-").isdigit():
        value = int(text)
        return INT4 if -(2**31) <= value < 2**31 else INT8 if -(2**63) <= value < 2**63 else NUMERIC
    return NUMERIC


def _promote(left: ColumnType | None, right: ColumnType | None) -> ColumnType | None:
    candidates = [t for t in (left, right) if t is not None and t.type.name in _RANK]
    if not candidates:
        return left or right
    best = max(candidates, key=lambda t: _RANK[t.type.name])
    if best.type.name == "float4" and any(t.type.name != "float4" for t in candidates) and len(candidates) > 1:
        return ColumnType(BY_NAME["float8"])  # no float4 operator takes the other type: float8's does
    return INT8 if best.type.name == "oid" else best


def _is_regex_operator(node: exp.Expr) -> bool:
    return isinstance(node, exp.Operator) and str(node.args.get("operator", "")).split(".")[-1] in (
        "~", "!~", "~*", "!~*", "=", "<>", "!=", "<", ">", "<=", ">=", "~~", "!~~", "~~*", "!~~*",
    )


class TableTyper(Typer):
    """A Typer that also knows the columns of user tables: ``resolve`` gives the type of a
    column that no catalog relation, subquery or CTE of the statement provides."""

    def __init__(self, resolve: Callable[[exp.Column], ColumnType | None]) -> None:
        super().__init__()
        self._resolve_table_column = resolve

    def _opaque_column(self, source: scopes.Source, column: exp.Column) -> bool:
        opaque = source.relation is None and source.query is None and source.function is None
        return opaque and self._resolve_table_column(column) is not None

    def _column(self, column: exp.Column) -> ColumnType | None:
        source, projection = self.resolve(column)
        if source is None and projection is not None and column.find_ancestor(exp.AggFunc) is not None:
            projection = None  # an aggregate's argument is an input column, never an output alias
        if projection is None and (source is None or (source.relation is None and source.query is None
                                   and source.function is None)):
            return self._resolve_table_column(column)
        return super()._column(column)
