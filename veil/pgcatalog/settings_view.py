"""pg_settings as one session sees it: the static rows with the session's values laid over."""

from __future__ import annotations

from sqlglot import exp

from veil.pgcatalog import sqlbuild
from veil.pgcatalog.context import CompileEnv
from veil.pgcatalog.schema import RELATIONS

_RELATION = RELATIONS[("pg_catalog", "pg_settings")]


def ssl_subquery(env: CompileEnv) -> exp.Subquery:
    """pg_stat_ssl: one row, this session's (Veil shows no other backends)."""
    tls = env.ctx.tls
    values: dict[str, exp.Expr] = {
        "pid": sqlbuild.typed_literal(env.ctx.backend_pid, "INTEGER"),
        "ssl": sqlbuild.typed_literal(tls is not None, "BOOLEAN"),
        "version": sqlbuild.typed_literal(tls[0] if tls else None, "VARCHAR"),
        "cipher": sqlbuild.typed_literal(tls[1] if tls else None, "VARCHAR"),
        "bits": sqlbuild.typed_literal(tls[2] if tls else None, "INTEGER"),
    }
    projections = [
        exp.alias_(values.get(column.name, sqlbuild.null(column.storage)), column.name)
        for column in RELATIONS[("pg_catalog", "pg_stat_ssl")].columns
    ]
    return exp.select(*projections).subquery()


def settings_subquery(env: CompileEnv) -> exp.Subquery:
    overrides = env.settings_overrides()
    overrides.setdefault("search_path", ", ".join(env.ctx.search_path))
    values = exp.Values(
        expressions=[
            exp.Tuple(expressions=[sqlbuild.string(k), sqlbuild.string(v)])
            for k, v in overrides.items()
        ],
        alias=exp.TableAlias(
            this=exp.to_identifier("o"),
            columns=[exp.to_identifier("name"), exp.to_identifier("value")],
        ),
    )
    overridden = exp.Not(this=exp.Is(this=exp.column("value", "o"), expression=exp.Null()))
    projections: list[exp.Expr] = []
    for column in _RELATION.columns:
        source = exp.column(column.name, "s")
        if column.name == "setting":
            value: exp.Expr = exp.Coalesce(
                this=exp.column("value", "o"), expressions=[source]
            )
        elif column.name == "source":
            value = exp.Case(ifs=[exp.If(this=overridden, true=sqlbuild.string("session"))],
                             default=source)
        else:
            value = source
        projections.append(exp.alias_(value, column.name))
    condition = exp.EQ(
        this=exp.Lower(this=exp.column("name", "s")), expression=exp.column("name", "o")
    )
    select = (
        exp.select(*projections)
        .from_(exp.Table(this=exp.to_identifier("pg_settings"),
                         db=exp.to_identifier("veil_pg_catalog"),
                         alias=exp.TableAlias(this=exp.to_identifier("s"))))
        .join(values, on=condition, join_type="left")
    )
    return select.subquery()
