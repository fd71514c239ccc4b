"""References in ``veil.yaml`` that need the catalog to resolve: ``tables:`` keys, the columns
their ``tags`` and ``event_time`` name, mask ``columns`` and policy ``tables`` patterns.

Checked against the tables object sync found (served or not). A connection whose tables could
not be listed is skipped: its names are unknown, not wrong.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Sequence

from veil.catalog.model import Column, Table, tags_of
from veil.config.models import MaskPolicy, VeilConfig
from veil.config.references import POLICY_KINDS, ConfigProblem, closest


def _names(table: Table) -> tuple[str, ...]:
    return (table.source_key, table.qualified_name)


def _column_names(tables: Sequence[Table]) -> set[str]:
    return {n for t in tables for c in t.columns for n in (c.name, c.raw_name)}


def _table_problems(config: VeilConfig, tables: Sequence[Table], unknown: Collection[str]) -> list[ConfigProblem]:
    by_key = {t.source_key: t for t in tables}
    problems: list[ConfigProblem] = []
    for key, settings in config.tables.items():
        if key.split(".", 1)[0] in unknown:
            continue
        path = f"tables.{key}"
        table = by_key.get(key)
        if table is None:
            problems.append(ConfigProblem(path, f"no table {key} exists", closest(key, by_key)))
            continue
        columns = _column_names([table])
        for column in settings.tags:
            if table.find_column(column) is None:
                problems.append(ConfigProblem(
                    f"{path}.tags.{column}",
                    f"{key} has no column {column} (the tag applies once the column appears)",
                    closest(column, columns),
                ))
        if settings.event_time is not None and table.find_column(settings.event_time) is None:
            problems.append(ConfigProblem(
                f"{path}.event_time", f"{key} has no column {settings.event_time}",
                closest(settings.event_time, columns),
            ))
    return problems


def _covered(rule: object, tables: Sequence[Table], config: VeilConfig) -> list[Table]:
    patterns: list[str] = getattr(rule, "tables", [])
    tags: list[str] = getattr(rule, "table_tags", [])
    if not patterns and not tags:
        return list(tables)
    covered = []
    for table in tables:
        configured = config.tables.get(table.source_key)
        table_tags = configured.table_tags if configured else []
        if any(fnmatch.fnmatchcase(n, p) for p in patterns for n in _names(table)) or any(
            t == tag or t.startswith(tag + ".") for tag in tags for t in table_tags
        ):
            covered.append(table)
    return covered


_NUMBERS = frozenset({"int2", "int4", "int8", "float4", "float8", "numeric"})
_DATES = frozenset({"date", "timestamp", "timestamptz"})
_TEXT = frozenset({"text", "varchar", "bpchar", "name"})


def _mask_fits(mask: MaskPolicy, column: Column) -> str | None:
    """Why ``mask`` cannot mask ``column`` for its type (None when it can): a mask whose SQL
    fails or means nothing for the type (``round`` on text, ``year`` on a number ...)."""
    type_name = column.pg_type.type.name
    if mask.with_ == "round" and mask.unit and type_name not in _DATES:
        return f"`round` with `unit` truncates dates and timestamps, not {column.pg_type.format()}"
    if mask.with_ == "round" and not mask.unit and type_name not in _NUMBERS:
        return f"`round` with `digits` rounds numbers, not {column.pg_type.format()}"
    if mask.with_ == "year" and type_name not in _DATES:
        return f"`year` takes the year of dates and timestamps, not {column.pg_type.format()}"
    if mask.with_ == "email_domain" and type_name not in _TEXT:
        return f"`email_domain` masks text, not {column.pg_type.format()}"
    return None


def _masked_columns(mask: MaskPolicy, table: Table, config: VeilConfig) -> list[Column]:
    configured = config.tables.get(table.source_key)
    tags = configured.tags if configured else {}
    return [
        c for c in table.columns
        if any(fnmatch.fnmatchcase(n, p) for p in mask.columns for n in (c.name, c.raw_name))
        or any(t == tag or t.startswith(tag + ".") for tag in mask.column_tags for t in tags_of(tags, c))
    ]


def _type_problems(base: str, mask: MaskPolicy, covered: Sequence[Table], config: VeilConfig) -> list[ConfigProblem]:
    problems = []
    for table in covered:
        for column in _masked_columns(mask, table, config):
            reason = _mask_fits(mask, column)
            if reason is not None:
                problems.append(ConfigProblem(
                    f"{base}.with", f"cannot mask {table.source_key}.{column.raw_name}: {reason}"
                ))
    return problems


def _policy_problems(config: VeilConfig, tables: Sequence[Table]) -> list[ConfigProblem]:
    names = [n for t in tables for n in _names(t)]
    problems: list[ConfigProblem] = []
    for index, policy in enumerate(config.policies):
        kind = next(k for k in POLICY_KINDS if getattr(policy, k) is not None)
        rule = getattr(policy, kind)
        base = f"policies[{index}].{kind}"
        for i, pattern in enumerate(rule.tables):
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                problems.append(ConfigProblem(f"{base}.tables[{i}]", f"no table matches {pattern}", closest(pattern, names)))
        if kind == "mask":
            covered = _covered(rule, tables, config)
            problems += _type_problems(base, rule, covered, config)
            columns = _column_names(covered)
            for i, pattern in enumerate(rule.columns):
                if covered and not any(fnmatch.fnmatchcase(c, pattern) for c in columns):
                    problems.append(ConfigProblem(
                        f"{base}.columns[{i}]", f"no column of the tables it covers matches {pattern}",
                        closest(pattern, columns),
                    ))
    return problems


def catalog_problems(config: VeilConfig, tables: Sequence[Table], unknown: Collection[str] = ()) -> list[ConfigProblem]:
    """Every catalog reference of ``config`` that names nothing among ``tables``. ``unknown``
    lists connections whose tables could not be read: references into them are not judged, and
    policy patterns are not judged at all while one is unknown."""
    problems = _table_problems(config, tables, unknown)
    if not unknown and tables:
        problems += _policy_problems(config, tables)
    return problems
