"""Known classes of differences between Veil and PostgreSQL found by the differential fuzzer, each
with a minimal reproduction (tests/stress/FUZZ_FINDINGS.md describes them).

A class matches a mismatch narrowly: its signature (the kind of difference and the SQLSTATEs or
type OIDs involved, see fuzz_runner.differences) and the constructs the statement must contain.
A mismatch no class matches is new and fails tests/stress/test_query_fuzz.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from tests.stress.fuzz_nodes import Raw, Statement
from tests.stress.fuzz_runner import Mismatch

ALL_MODES = ("text", "binary", "prepared")


@dataclass(frozen=True)
class KnownClass:
    name: str
    signature: tuple[str, ...]  # a prefix of the mismatch's signature
    tags: frozenset[str]  # constructs the statement contains (all of them)
    repro: str
    params: tuple[tuple[str, int], ...] = ()  # the reproduction's parameters (mode "prepared")
    modes: tuple[str, ...] = ALL_MODES  # modes it matches; the first is the reproduction's
    typed: bool = True  # the reproduction's parameters are sent with their types

    def matches(self, mismatch: Mismatch) -> bool:
        return (
            mismatch.mode in self.modes
            and signature_matches(self.signature, mismatch.signature)
            and all(any(fnmatchcase(tag, wanted) for tag in mismatch.statement.tags()) for wanted in self.tags)
        )


def signature_matches(pattern: tuple[str, ...], signature: tuple[str, ...]) -> bool:
    """``pattern`` is a prefix of ``signature``, element by element (``42*`` is any 42 SQLSTATE)."""
    return len(signature) >= len(pattern) and all(fnmatchcase(s, p) for p, s in zip(pattern, signature, strict=False))


def repro_statement(sql: str, params: tuple[tuple[str, int], ...] = ()) -> Statement:
    return Statement(Raw(sql, params), ordered=False)


def known(name: str, signature: tuple[str, ...], tags: set[str], repro: str, **extra: object) -> KnownClass:
    return KnownClass(name, signature, frozenset(tags), repro, **extra)  # type: ignore[arg-type]


P = "prepared"
KNOWN: tuple[KnownClass, ...] = (
    # --- types of results computed on DuckDB (a DuckDB source, federation, the local engine)
    known("case-of-constant-branch-loses-typmod", ("typmod", "1700"), {"case", "from:d"},
          "SELECT CASE WHEN FALSE THEN 0.0 ELSE a.n END AS c1 FROM d.t2 a"),
    known("round-of-real-typed-real", ("type", "701", "700"), {"fn:round", "cast:num->real"},
          "SELECT round(CAST(0.0 AS real)) AS c0 FROM d.t2"),
    known("avg-numeric-scale-through-cte", ("value",), {"agg:avg-num", "cte"},
          "WITH w AS (SELECT avg(0.0) AS c0 FROM d.t1) SELECT c0 FROM w"),
    known("bpchar-column-in-federated-union-all", ("value",), {"col:ch", "from:d", "from:p", "setop:union all"},
          "(SELECT 'abc' AS c0 FROM d.t1) UNION ALL (SELECT ch AS c0 FROM p.t1)"),
    known("char-n-padding-lost-on-local-engine", ("value",), {"col:ch", "federated"},
          "SELECT max(a.ch) AS m FROM p.t1 a JOIN d.t1 c ON a.id = c.id"),
    known("char-n-cast-not-truncated", ("value",), {"cast:*->char"},
          "SELECT CAST(TIMESTAMP '2000-01-01 00:00:00' AS char(2)) AS c"),
    known("float-cast-to-text", ("value",), {"cast:float->text"}, "SELECT CAST(f8 AS text) AS t FROM d.t2"),
    known("bytea-cast-to-text", ("value",), {"cast:bytea->*"},
          "SELECT CAST(CAST('\\x00ff' AS bytea) AS text) AS t FROM d.t2"),
    known("split-part-empty-delimiter", ("value",), {"fn:split_part"},
          "SELECT split_part('abc', '', 2) AS s FROM p.t2 a JOIN d.t1 b ON a.k = b.i4"),
    known("bool-cast-to-int2-int8-accepted", ("veil-answers", "42846"), set(),
          "SELECT CAST(b AS bigint) AS i FROM d.t1"),
    known("numeric-constant-in-federated-union-as-float8", ("type", "1700", "701"), {"setop:union*", "from:d", "from:p"},
          "(SELECT 0.0 AS c FROM p.t1 a JOIN p.t2 b ON FALSE) UNION (SELECT 0.0 AS c FROM d.t2)"),
    known("cast-overflow-in-rows-veil-never-evaluates", ("veil-answers", "22003"), {"federated", "cast:*->decimal"},
          "SELECT 1 FROM p.t1 a JOIN d.t1 b ON a.ch = b.tx WHERE (0.0 BETWEEN SYMMETRIC CAST(a.i8 AS decimal(18,4))"
          " AND b.n)"),
    # --- Veil fails where PostgreSQL answers
    known("text-to-bytea-non-ascii-code", ("veil-errors", "22P02"), {"cast:text->bytea"},
          "SELECT CAST('Zoë' AS bytea) AS b FROM d.t1"),
    known("error-in-rows-postgres-never-evaluates", ("veil-errors", "22*"), set(),
          "SELECT DATE '1970-01-01' AS d FROM p.t1 WHERE FALSE GROUP BY (SELECT avg(CAST(1 AS numeric) / a.i4)"
          " FROM d.t1 a)"),
    known("federated-union-with-scalar-subquery-xx000", ("veil-errors", "XX000"), {"setop:union*"},
          "(SELECT DATE '1970-01-01' AS c1, 'abc' AS c2 FROM d.t1) UNION (SELECT (SELECT DATE '1970-01-01' FROM p.t1"
          " WHERE FALSE), 'abc' AS c2 FROM p.t2) ORDER BY 2, 1"),
    known("federated-union-with-scalar-subquery-message", ("unclean-message",), {"setop:union*"},
          "(SELECT DATE '1970-01-01' AS c1, 'abc' AS c2 FROM d.t1) UNION (SELECT (SELECT DATE '1970-01-01' FROM p.t1"
          " WHERE FALSE), 'abc' AS c2 FROM p.t2) ORDER BY 2, 1"),
    known("compile-error-becomes-xx000", ("sqlstate", "42*", "XX000"), set(),
          "(SELECT (SELECT count(*) > 1 FROM d.t2 c WHERE FALSE ORDER BY c.id LIMIT 1), 'abc' AS c1 FROM d.t2)"
          " UNION (SELECT FALSE AS c0, 'abc' AS c1 FROM p.t2)"),
    known("date-input-formats", ("veil-errors", "22007"), {"cast:text->date"},
          "SELECT min(CAST('20240101' AS date)) AS d FROM d.t1"),
    known("float-overflow-in-federated-aggregate", ("veil-errors", "22003"), {"agg:avg-float"},
          "SELECT (SELECT avg(a.f8) FROM p.t1 a WHERE a.b) AS c0 FROM d.t1 WHERE FALSE"),
    known("extract-unit-not-supported-for-date-accepted", ("veil-answers", "0A000"), {"fn:extract-date"},
          "SELECT EXTRACT(HOUR FROM d) AS h FROM d.t1"),
    known("outer-aggregate-in-federated-derived-table", ("veil-errors", "21000"), set(),
          "SELECT s.c1 FROM (SELECT CAST((SELECT min(TIMESTAMPTZ '2024-02-29 13:14:15+00' - a.iv) FROM p.t2 x"
          " WHERE x.b) AS char(2)) AS c0, (EXISTS (SELECT 1 FROM p.t2 y WHERE starts_with(y.tx, y.tx))) AS c1"
          " FROM d.t2 b RIGHT JOIN d.t1 a ON b.k = a.i4 RIGHT JOIN d.t2 c ON b.i8 = c.id"
          " WHERE TIMESTAMPTZ '2000-01-01 00:00:00-05' >= a.tz - a.iv AND a.b IS FALSE) s WHERE s.c1 IS FALSE"),
    # --- both fail, with another SQLSTATE: the first error met differs (PostgreSQL does not
    # promise an evaluation order), or Veil's allow-list refuses before PostgreSQL's check
    known("different-runtime-error-first", ("sqlstate", "2*", "2*"), set(),
          "SELECT CAST(CAST(a.i8 AS integer) AS numeric(5,1)) / (a.i4 - a.i4) AS x FROM d.t1 a"),
    known("allow-list-refusal-before-unsupported-unit", ("sqlstate", "0A000", "42501"), set(),
          "SELECT EXTRACT(MILLISECONDS FROM DATE '1970-01-01') AS m, every(TRUE) AS e FROM d.t1"),
    known("allow-list-refusal-before-compile-error", ("sqlstate", "42*", "42501"), set(),
          "SELECT every(FALSE) AS e, a.tx FROM d.t1 a"),
    # --- parameters
    known("undeclared-parameter-types", ("sqlstate", "42*"), set(), "SELECT date_part('month', $1) AS m",
          params=(("2000-01-01", 0),), modes=(P,), typed=False),
    known("undeclared-parameter-accepted", ("veil-answers", "42*"), set(), "SELECT $1 AS c, ($2 IS NOT NULL) AS n",
          params=(("1", 0), ("x", 0)), modes=(P,), typed=False),
    known("parameter-date-input-sqlstate", ("sqlstate", "22007", "22P02"), set(),
          "SELECT $1 - d AS x FROM p.t1", params=(("-3 days", 0),), modes=(P,), typed=False),
    known("undeclared-parameter-typed-text", ("type", "*", "25"), set(), "SELECT NULLIF($1, CAST($2 AS timestamp)) AS n",
          params=(("2000-01-01 00:00:00", 0), ("1970-01-01", 0)), modes=(P,), typed=False),
)


def classify(mismatch: Mismatch) -> str | None:
    for entry in KNOWN:
        if entry.matches(mismatch):
            return entry.name
    return None
