"""Rewrite a PostgreSQL catalog query (sqlglot AST) into DuckDB SQL over the emulated catalog.

The walk is post-order: children are rewritten first, then the node. Types are inferred on
the untouched tree beforehand (:class:`.infer.Typer`); a replaced node carries its original
type in ``meta`` so parents still see PostgreSQL types (an OID stays an OID even after it has
become a DuckDB ``UINTEGER`` literal).
"""

from __future__ import annotations

from sqlglot import exp

from veil import errcodes
from veil.errors import FeatureNotSupported, UndefinedTable
from veil.pgcatalog import calls, localtypes, scopes, sqlbuild
from veil.pgcatalog.casts import (
    coerce,
    coerce_literal,
    duck_type,
    each_reg_output,
    is_reg,
)
from veil.pgcatalog.context import CompileEnv
from veil.pgcatalog.fn_arrays import expandarray_field
from veil.pgcatalog.functions import array_of
from veil.pgcatalog.infer import Typer
from veil.pgcatalog.naming import output_name
from veil.pgcatalog.schema import (
    DUCK_SCHEMAS,
    REG_TYPES,
    RELATIONS,
    ZERO_BASED_ARRAYS,
    CatalogRelation,
)
from veil.pgcatalog.settings_view import settings_subquery, ssl_subquery
from veil.pgcatalog.typemap import column_type_of
from veil.pgtypes import BY_OID, ColumnType

_TYPE_KEY = "pg_type"
_MISSING = object()
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ)
_OPERATORS = {
    "~": lambda a, b: exp.RegexpLike(this=a, expression=b),
    "!~": lambda a, b: exp.Not(this=exp.RegexpLike(this=a, expression=b)),
    "~*": lambda a, b: exp.RegexpILike(this=a, expression=b),
    "!~*": lambda a, b: exp.Not(this=exp.RegexpILike(this=a, expression=b)),
    "~~": lambda a, b: exp.Like(this=a, expression=b),
    "!~~": lambda a, b: exp.Not(this=exp.Like(this=a, expression=b)),
    "~~*": lambda a, b: exp.ILike(this=a, expression=b),
    "!~~*": lambda a, b: exp.Not(this=exp.ILike(this=a, expression=b)),
    "=": lambda a, b: exp.EQ(this=a, expression=b),
    "<>": lambda a, b: exp.NEQ(this=a, expression=b),
    "!=": lambda a, b: exp.NEQ(this=a, expression=b),
    "<": lambda a, b: exp.LT(this=a, expression=b),
    ">": lambda a, b: exp.GT(this=a, expression=b),
    "<=": lambda a, b: exp.LTE(this=a, expression=b),
    ">=": lambda a, b: exp.GTE(this=a, expression=b),
}


class Rewriter:
    def __init__(self, env: CompileEnv, typer: Typer) -> None:
        self.env = env
        self.typer = typer

    def type_of(self, node: exp.Expr) -> ColumnType | None:
        carried = node.meta.get(_TYPE_KEY, _MISSING) if node.meta else _MISSING
        if carried is not _MISSING:
            # meta[_TYPE_KEY] is only ever written below, with a ColumnType or None
            return carried  # type: ignore[return-value]
        return self.typer.type_of(node)

    def rewrite(self, node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.DataType | exp.Identifier):
            return node
        replaced = self._pre(node)
        if replaced is None:
            for child in list(node.iter_expressions()):
                new = self.rewrite(child)
                if new is not child:
                    child.replace(new)
            replaced = self._visit(node)
        if replaced is not node:
            replaced.meta[_TYPE_KEY] = self.type_of(node)
        return replaced

    def _rewrite_all(self, nodes: list[exp.Expr]) -> list[exp.Expr]:
        return [self.rewrite(n) for n in nodes]

    # --- nodes handled before their children ---------------------------------------------------

    def _pre(self, node: exp.Expr) -> exp.Expr | None:
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            function = node.this
            args = scopes.function_args(function)
            types = [self.type_of(a) for a in args]
            if isinstance(function, exp.ExplodingGenerateSeries | exp.GenerateSeries):
                for child in list(function.iter_expressions()):
                    child.replace(self.rewrite(child))
                return calls.from_function(self.env, node, [], types)
            if scopes.function_name(function) is None:
                name = output_name(function)
                return calls.scalar_in_from(node, self.rewrite(function), name)
            rewritten = self._rewrite_all(args)
            return calls.from_function(self.env, node, rewritten, types)
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
            call = scopes.expandarray_call(node.this)
            if call is not None:
                return expandarray_field(self.rewrite(call.expressions[0]), node.expression.name)
        return None

    # --- nodes handled after their children ----------------------------------------------------

    def _visit(self, node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table):
            return self._table(node)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Cast | exp.TryCast):
            return coerce(self.env, node.this, self.type_of(node.this), column_type_of(node.to))
        if isinstance(node, exp.Parameter):
            return self._parameter(node)
        if isinstance(node, exp.BitString):
            return localtypes.literal_value(node) or node
        if isinstance(node, exp.ByteString | exp.National):
            return sqlbuild.string(node.this)
        if isinstance(node, exp.Operator):
            return self._operator(node)
        if isinstance(node, exp.Collate):
            return node.this
        if isinstance(node, _COMPARISONS):
            return self._comparison(node)
        if isinstance(node, exp.In):
            target = self.type_of(node.this)
            for value in list(node.expressions):
                value.replace(coerce_literal(value, target))
            return node
        if isinstance(node, exp.Bracket):
            return self._subscript(node)
        if isinstance(node, exp.DPipe):
            return self._concat(node)
        if isinstance(node, exp.SimilarTo):
            return self._similar(node)
        if isinstance(node, exp.Like | exp.ILike) and not isinstance(node.parent, exp.Escape):
            # PostgreSQL's LIKE escapes with a backslash unless told otherwise; DuckDB's never does.
            return exp.Escape(this=node.copy(), expression=sqlbuild.string("\\"))
        if isinstance(node, exp.Div) and self._integers(node.this, node.expression):
            return exp.IntDiv(this=node.this, expression=node.expression)
        if isinstance(node, exp.Dot):
            return self._dot(node)
        if isinstance(node, exp.ArrayToString):
            self._reg_elements_named(node.this)
        if isinstance(node, exp.Anonymous):
            parent = node.parent
            if isinstance(parent, exp.Dot) and parent.expression is node:
                return node
            return self._call(node, list(node.expressions))
        if type(node) in scopes.TYPED_FUNCTIONS:
            return self._call(node, scopes.function_args(node))
        if isinstance(node, exp.Unnest) and isinstance(node.parent, exp.From | exp.Join):
            return calls.with_column_alias(node, "unnest")
        if isinstance(node, exp.Select):
            node.set("locks", None)
        return node

    def _call(self, node: exp.Expr, args: list[exp.Expr]) -> exp.Expr:
        types = [self.type_of(a) for a in args]
        built = localtypes.constructor(self.env, scopes.function_name(node), args, types)
        if built is not None:
            return built
        return calls.call_function(self.env, node, args, types)

    def _reg_elements_named(self, array: exp.Expr) -> None:
        """array_to_string(regtype[], ...) prints each element as its name, as its output function does."""
        source = self.type_of(array)
        element = BY_OID.get(source.type.element_oid) if source is not None else None
        if element is not None and element.name in REG_TYPES:
            array.replace(each_reg_output(self.env, element.name, array.copy()))

    def _table(self, table: exp.Table) -> exp.Expr:
        if scopes.find_cte(table) is not None:
            return table
        catalog = table.catalog
        if catalog and catalog != self.env.objects.database:
            raise FeatureNotSupported(
                f"cross-database references are not implemented: {table.sql(dialect='postgres')}"
            )
        relation = self._relation(table.db or None, table.name)
        alias = table.args.get("alias")
        alias = alias.copy() if alias is not None else exp.TableAlias(this=exp.to_identifier(table.name))
        if relation.schema == "pg_catalog" and relation.name in ("pg_settings", "pg_stat_ssl"):
            view = settings_subquery if relation.name == "pg_settings" else ssl_subquery
            subquery = view(self.env)
            subquery.set("alias", alias)
            if table.args.get("joins"):
                return exp.Table(this=subquery, alias=None, joins=table.args["joins"])
            return subquery
        # Mutated in place: a parenthesised join hangs its JOINs on the table node.
        table.set("this", exp.to_identifier(relation.name))
        table.set("db", exp.to_identifier(DUCK_SCHEMAS[relation.schema]))
        table.set("catalog", None)
        table.set("alias", alias)
        return table

    def _relation(self, schema: str | None, name: str) -> CatalogRelation:
        if schema is not None:
            relation = RELATIONS.get((schema, name))
        else:
            relation = next(
                (RELATIONS[(s, name)] for s in self.env.path if (s, name) in RELATIONS), None
            )
        if relation is None:
            raise UndefinedTable(f"{schema}.{name}" if schema else name)
        return relation

    def _column(self, column: exp.Column) -> exp.Expr:
        if column.args.get("db") is not None or column.args.get("catalog") is not None:
            column.set("db", None)
            column.set("catalog", None)
        if (
            not column.table
            and not column.this.quoted
            and column.name in scopes.KEYWORD_COLUMNS
            and self.typer.resolve(column) == (None, None)
        ):
            keyword = exp.Anonymous(this=column.name)
            return calls.call_function(self.env, keyword, [], [])
        source, _ = self.typer.resolve(column)
        relation = source.relation if source is not None else None
        if relation is not None and relation.system_column(column.name) is not None:
            return _system_value(relation, column.name)
        return column

    def _parameter(self, node: exp.Parameter) -> exp.Expr:
        param_type = self.typer.params.get(scopes.parameter_number(node))
        plain = exp.Parameter(this=node.this.copy())
        if param_type is None:
            return sqlbuild.cast(plain, "VARCHAR")
        return sqlbuild.cast(plain, duck_type(param_type))  # a reg* value is bound as its OID

    def _operator(self, node: exp.Operator) -> exp.Expr:
        operator = str(node.args.get("operator", "")).split(".")[-1].strip()
        build = _OPERATORS.get(operator)
        if build is None:
            raise FeatureNotSupported(f"operator {operator} is not supported")
        result = build(node.this, node.expression)
        return self._comparison(result) if isinstance(result, _COMPARISONS) else result

    def _comparison(self, node: exp.Expr) -> exp.Expr:
        left, right = node.this, node.expression
        if isinstance(right, exp.Any):
            right.set("this", coerce_literal(right.this, array_of(self.type_of(left))))
            return node
        if isinstance(right, exp.All):
            return self._all(node, left, coerce_literal(right.this, array_of(self.type_of(left))))
        left_type, right_type = self.type_of(left), self.type_of(right)
        if left_type is not None and is_reg(left_type) and _is_string_literal(right):
            node.set("expression", coerce(self.env, right, None, left_type))
        elif right_type is not None and is_reg(right_type) and _is_string_literal(left):
            node.set("this", coerce(self.env, left, None, right_type))
        else:
            node.set("expression", coerce_literal(right, left_type))
            node.set("this", coerce_literal(left, right_type))
        return node

    def _integers(self, *nodes: exp.Expr) -> bool:
        """PostgreSQL divides integers by integers in integers (DuckDB's ``/`` would not)."""
        types = [self.type_of(n) for n in nodes]
        return all(t is not None and t.type.name in ("int2", "int4", "int8") for t in types)

    def _concat(self, node: exp.DPipe) -> exp.Expr:
        """``||`` on arrays: PostgreSQL treats a NULL array as empty, DuckDB's ``||`` does not."""
        left, right = self.type_of(node.this), self.type_of(node.expression)
        left_array = left is not None and left.type.is_array
        right_array = right is not None and right.type.is_array
        if left_array and right_array:
            return sqlbuild.builtin("list_concat", node.this, node.expression)
        if left_array:
            return sqlbuild.builtin("list_append", node.this, node.expression)
        if right_array:
            return sqlbuild.builtin("list_prepend", node.this, node.expression)
        return node

    @staticmethod
    def _all(node: exp.Expr, left: exp.Expr, array: exp.Expr) -> exp.Expr:
        """``x op ALL (array)``: true when every element compares true (and for no element)."""
        compare = type(node)(this=left, expression=exp.column("vl__e"))
        each = sqlbuild.builtin(
            "list_transform", array, exp.Lambda(this=compare, expressions=[exp.to_identifier("vl__e")])
        )
        return exp.Coalesce(
            this=sqlbuild.builtin("list_bool_and", each), expressions=[sqlbuild.boolean(True)]
        )

    @staticmethod
    def _similar(node: exp.SimilarTo) -> exp.Expr:
        """SQL regular expressions (``%``, ``_``) as an anchored POSIX-style match."""
        pattern = node.expression
        if not _is_string_literal(pattern):
            raise FeatureNotSupported("SIMILAR TO needs a constant pattern")
        regex = "".join(
            ".*" if c == "%" else "." if c == "_" else c for c in str(pattern.this)
        )
        return sqlbuild.builtin("regexp_full_match", node.this, sqlbuild.string(regex))

    def _subscript(self, node: exp.Bracket) -> exp.Expr:
        base = self.type_of(node.this)
        if base is None or base.type.name not in ZERO_BASED_ARRAYS or len(node.expressions) != 1:
            return node
        index = node.expressions[0]
        if isinstance(index, exp.Literal) and index.is_int:
            shifted: exp.Expr = exp.Literal.number(int(index.this) + 1)
        else:
            shifted = exp.Add(this=exp.Paren(this=index), expression=sqlbuild.number(1))
        node.set("expressions", [shifted])
        return node

    def _dot(self, node: exp.Dot) -> exp.Expr:
        if isinstance(node.expression, exp.Anonymous):
            return self._call(node, list(node.expression.expressions))
        inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
        field = node.expression
        if isinstance(field, exp.Identifier):
            return sqlbuild.builtin("struct_extract", inner, sqlbuild.string(field.name))
        raise errcodes.FeatureNotSupported(f"unsupported expression {node.sql(dialect='postgres')}")


def _system_value(relation: CatalogRelation, name: str) -> exp.Expr:
    """A system column's value: the table's OID, the first tuple slot, the bootstrap
    transaction (the emulated catalog never changes under a snapshot)."""
    if name == "tableoid":
        return sqlbuild.typed_literal(relation.oid, "UINTEGER")
    if name == "ctid":
        return sqlbuild.string("(0,1)")
    return sqlbuild.typed_literal(1 if name == "xmin" else 0, "UINTEGER")


def _is_string_literal(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and node.is_string
