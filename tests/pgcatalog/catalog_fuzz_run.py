"""Runs :mod:`catalog_fuzz`'s statements on PostgreSQL and through Veil (extended protocol, text
and binary results), compares RowDescription (names, type OIDs) and rows (in order where the
statement fixes it, else as multisets) and names each mismatch's class.

Long runs by hand (a running PostgreSQL 15 and Veil, e.g. ``python -m veil serve``)::

    python -m tests.pgcatalog.catalog_fuzz_run PG_DSN VEIL_DSN [SEEDS] [PER_SEED]
"""

from __future__ import annotations

import collections
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from tests.pgcatalog.catalog_fuzz import Query, generate, shrink

#: Words of the engines behind Veil: a PostgreSQL client must never see them.
LEAK = re.compile(r"duckdb|sqlglot|binder error|catalog error|parser error|conversion error|"
                  r"invalid input error|not implemented error|_duckdb|pyarrow|traceback", re.IGNORECASE)


@dataclass(frozen=True)
class Result:
    fields: tuple[tuple[str, int], ...]
    rows: tuple[tuple[bytes | None, ...], ...]


@dataclass(frozen=True)
class Failure:
    sqlstate: str
    message: str


Outcome = Result | Failure


def execute(conn: psycopg.Connection, sql: str, binary: bool) -> Outcome:
    """One statement through the extended protocol, its raw result values."""
    res = conn.pgconn.exec_params(sql.encode(), [], result_format=1 if binary else 0)
    if res.status not in (1, 2):  # COMMAND_OK, TUPLES_OK
        state = res.error_field(ord("C")) or b""
        message = res.error_field(ord("M")) or res.error_message or b""
        return Failure(state.decode(), message.decode(errors="replace"))
    fields = tuple(((res.fname(i) or b"").decode(), res.ftype(i)) for i in range(res.nfields))
    rows = tuple(tuple(res.get_value(r, c) for c in range(res.nfields)) for r in range(res.ntuples))
    return Result(fields, rows)


def _tag(name: str) -> str:
    match = re.match(r"c\d+_(.*)$", name)
    return match.group(1) if match else name


def _shape(message: str) -> str:
    """An error message with its specifics (quoted names, numbers) masked."""
    return re.sub(r'"[^"]*"|\b\d+\b', "…", message.splitlines()[0] if message else "")[:90]


def classify(
    expected: Outcome, actual: Outcome, ordered: bool, fmt: str, source: str = ""
) -> tuple[str, ...] | None:
    """The mismatch's class (``None``: Veil answered as PostgreSQL did)."""
    if isinstance(actual, Failure) and LEAK.search(actual.message):
        return ("leak", fmt, _shape(actual.message))
    if isinstance(expected, Failure) or isinstance(actual, Failure):
        if isinstance(expected, Failure) and isinstance(actual, Failure):
            return None if expected.sqlstate == actual.sqlstate else (
                "sqlstate", expected.sqlstate, actual.sqlstate, _shape(actual.message))
        if isinstance(actual, Failure):
            return ("refused", actual.sqlstate, _shape(actual.message))
        assert isinstance(expected, Failure)
        return ("accepted", expected.sqlstate, _shape(expected.message))
    for (name, oid), (their_name, their_oid) in zip(expected.fields, actual.fields, strict=False):
        if name != their_name:
            return ("column-name", name, their_name)
        if oid != their_oid:
            return ("type-oid", _tag(name), str(oid), str(their_oid))
    if len(expected.fields) != len(actual.fields):
        return ("column-count",)
    if len(expected.rows) != len(actual.rows):
        return ("row-count", source)
    if ordered:
        for a, b in zip(expected.rows, actual.rows, strict=True):
            for (name, _), x, y in zip(expected.fields, a, b, strict=True):
                if x != y:
                    return ("value", fmt, source, _tag(name))
        return None
    if collections.Counter(expected.rows) == collections.Counter(actual.rows):
        return None
    # Unordered: the first column whose values differ as a multiset names the class.
    for index, (name, _) in enumerate(expected.fields):
        if collections.Counter(r[index] for r in expected.rows) != collections.Counter(r[index] for r in actual.rows):
            return ("value", fmt, source, _tag(name))
    return ("value", fmt, source, "row-combination")


@dataclass
class Mismatch:
    sql: str
    klass: tuple[str, ...]
    expected: str
    actual: str


@dataclass
class Report:
    statements: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def classes(self) -> collections.Counter[tuple[str, ...]]:
        return collections.Counter(m.klass for m in self.mismatches)


def _describe(outcome: Outcome, other: Outcome) -> str:
    """The outcome, with its first row that the other outcome lacks."""
    if isinstance(outcome, Failure):
        return f"ERROR {outcome.sqlstate}: {outcome.message[:200]}"
    theirs = collections.Counter(other.rows) if isinstance(other, Result) else collections.Counter()
    extra = [list(row) for row in outcome.rows if not theirs[row]][:2]
    return f"{list(outcome.fields)} {len(outcome.rows)} rows, e.g. {extra}"[:600]


class Differ:
    """PostgreSQL and Veil connections, compared statement by statement."""

    def __init__(self, postgres: psycopg.Connection, veil: psycopg.Connection) -> None:
        self.postgres = postgres
        self.veil = veil

    def check(self, sql: str, ordered: bool, source: str = "") -> list[Mismatch]:
        out = []
        for binary in (False, True):
            fmt = "binary" if binary else "text"
            expected, actual = execute(self.postgres, sql, binary), execute(self.veil, sql, binary)
            klass = classify(expected, actual, ordered, fmt, source)
            if klass is not None:
                out.append(Mismatch(sql, klass, _describe(expected, actual), _describe(actual, expected)))
                break  # the text format's class explains the binary one
        return out

    def run(self, statements: Iterable[Query | str], do_shrink: bool = True) -> Report:
        report = Report()
        seen: set[tuple[str, ...]] = set()
        for statement in statements:
            sql = statement if isinstance(statement, str) else statement.render()
            ordered = not isinstance(statement, str) and statement.ordered
            if isinstance(statement, str):
                ordered = "ORDER BY" in sql and "LIMIT" not in sql
            source = statement.split()[0].lower() if isinstance(statement, str) else statement.source.name
            report.statements += 1
            for mismatch in self.check(sql, ordered, source):
                if do_shrink and isinstance(statement, Query) and mismatch.klass not in seen:
                    mismatch = self._shrunk(statement, mismatch)
                seen.add(mismatch.klass)
                report.mismatches.append(mismatch)
        return report

    def _shrunk(self, query: Query, mismatch: Mismatch) -> Mismatch:
        def same(candidate: Query) -> bool:
            found = self.check(candidate.render(), candidate.ordered, candidate.source.name)
            return any(m.klass == mismatch.klass for m in found)

        small = shrink(query, same)
        found = [m for m in self.check(small.render(), small.ordered, small.source.name) if m.klass == mismatch.klass]
        return found[0] if found else mismatch


def connect(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute('SET search_path = "$user", public')
    return conn


def main(argv: list[str]) -> None:
    pg_dsn, veil_dsn = argv[0], argv[1]
    seeds = int(argv[2]) if len(argv) > 2 else 20
    per_seed = int(argv[3]) if len(argv) > 3 else 200
    differ = Differ(connect(pg_dsn), connect(veil_dsn))
    total = Report()
    for seed in range(seeds):
        report = differ.run(generate(seed, per_seed))
        total.statements += report.statements
        total.mismatches += report.mismatches
    print(f"{total.statements} statements, {len(total.mismatches)} mismatches")
    examples: dict[tuple[str, ...], Mismatch] = {}
    for mismatch in total.mismatches:
        best = examples.get(mismatch.klass)
        if best is None or len(mismatch.sql) < len(best.sql):
            examples[mismatch.klass] = mismatch
    for klass, count in total.classes().most_common():
        example = examples[klass]
        print(f"\n## {count}x {klass}\n{example.sql}\n  PG:   {example.expected}\n  Veil: {example.actual}")


if __name__ == "__main__":
    main(sys.argv[1:])
