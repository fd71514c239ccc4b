"""SQL names for source objects: naming formats with macros, lower-cased, sanitised; column
names as the source's identifier folding calls for."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache

_INVALID = re.compile(r"[^a-z0-9_]")


def sanitize(name: str) -> str:
    """Lower-case and replace characters that would need quoting with ``_``."""
    cleaned = _INVALID.sub("_", name.lower())
    if not cleaned or cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned


def apply_format(fmt: str, *, connection: str, database: str | None, schema: str, table: str) -> str:
    """Expand ``<connection> <database> <schema> <tablename>`` in a naming format."""
    expanded = (
        fmt.replace("<connection>", connection)
        .replace("<database>", database or "")
        .replace("<schema>", schema)
        .replace("<tablename>", table)
    )
    return sanitize(expanded)


# An identifier a source stored folded: written unquoted in its DDL, so its users never spell it.
_FOLDED_UPPER = re.compile(r"[A-Z_][A-Z0-9_$]*")


@cache
def folds_to_upper(dialect: str) -> bool:
    """Whether the source folds unquoted identifiers to upper case (Snowflake), as sqlglot's
    dialect says: its columns then come back as ``EMAIL`` where PostgreSQL users expect ``email``."""
    from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

    return Dialect.get_or_raise(dialect).normalization_strategy is NormalizationStrategy.UPPERCASE


def served_column_names(names: Sequence[str], dialect: str) -> list[str]:
    """The names clients see for a table's columns, in order.

    On a source that folds to upper case, a plain upper-case name (``EMAIL``, ``ORDER_ID``) is
    served lower-cased, as PostgreSQL would have folded it; a name created quoted (``MixedCase``,
    ``first name``) keeps its spelling. When lower-casing would make two columns share a name
    (``NAME`` and ``name``), both keep the source's spelling: no column shadows another."""
    if not folds_to_upper(dialect):
        return list(names)
    wanted = [n.lower() if _FOLDED_UPPER.fullmatch(n) else n for n in names]
    taken = Counter(wanted)
    return [w if w == n or taken[w] == 1 else n for n, w in zip(names, wanted, strict=True)]
