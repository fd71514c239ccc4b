"""PostgreSQL's ``select_common_type``: the type values of several types take where they meet
(CASE branches, COALESCE arguments, UNION columns, VALUES rows, IN lists)."""

from __future__ import annotations

from veil.pgtypes import BY_NAME, ColumnType

TEXT = ColumnType(BY_NAME["text"])


_COMMON_RANK = {"int2": 1, "int4": 2, "oid": 2.5, "int8": 3, "numeric": 4, "float4": 5,
                "float8": 6, "name": 1, "varchar": 1, "bpchar": 1, "text": 2}


def common_type(types: list[ColumnType | None]) -> ColumnType | None:
    """PostgreSQL's choice for values of several types meeting: the first known type, replaced
    by a later one of the same family it implicitly casts to (int4 → oid → int8, name → text);
    only unknown literals → text."""
    chosen: ColumnType | None = None
    saw_unknown = False
    for candidate in types:
        if candidate is None:
            continue
        if candidate.type.name == "unknown":
            saw_unknown = True
            continue
        if chosen is None:
            chosen = candidate
            continue
        mine, theirs = _COMMON_RANK.get(chosen.type.name), _COMMON_RANK.get(candidate.type.name)
        same_family = (chosen.type.category == candidate.type.category) or (
            {chosen.type.name, candidate.type.name} <= {"oid", "int2", "int4", "int8"}
        )
        if mine is not None and theirs is not None and same_family and theirs > mine:
            chosen = candidate
    if chosen is None and saw_unknown:
        return TEXT
    return chosen
