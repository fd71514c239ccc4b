"""Re-read the live engines' functions into the reviewed lists; new names are flagged.

    python -m veil.policy.allowlist.generate --postgres postgresql://postgres@127.0.0.1/postgres

DuckDB's list comes from ``duckdb_functions()`` of the installed duckdb, PostgreSQL's from
``pg_proc`` of the server the DSN names (PostgreSQL 15 is what Veil emulates). Entries already
in a list keep their verdict, category and status; a name the list lacks is added with the
verdict :mod:`veil.policy.allowlist.rules` proposes and status ``new`` (refused until a reviewer
sets it to ``reviewed``). Names the engine no longer has stay listed. Snowflake's and Databricks'
lists are curated from their documentation and not touched here.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc_pg
import duckdb

from veil.policy.allowlist import FunctionEntry, read_list
from veil.policy.allowlist.rules import propose_duckdb, propose_postgres

DIRECTORY = Path(__file__).parent
FIELDS = ("name", "kind", "verdict", "category", "status")


def duckdb_functions() -> dict[str, str]:
    """name -> its function types (``scalar|macro``) in a fresh in-memory DuckDB."""
    with duckdb.connect() as connection:
        rows = connection.execute(
            "SELECT lower(function_name), string_agg(DISTINCT function_type, '|' ORDER BY function_type) "
            "FROM duckdb_functions() GROUP BY 1"
        ).fetchall()
    return dict(rows)


PG_PROC = """
SELECT lower(p.proname), p.prokind::text,
       has_function_privilege('public', p.oid, 'EXECUTE'),
       EXISTS (SELECT 1 FROM pg_type t WHERE p.oid IN (t.typinput, t.typoutput, t.typreceive,
               t.typsend, t.typmodin, t.typmodout, t.typanalyze, t.typsubscript)),
       array_to_string(ARRAY(SELECT format_type(x, NULL) FROM unnest(p.proargtypes::oid[] || p.prorettype) x), ',')
FROM pg_proc p
"""


def postgres_functions(dsn: str) -> dict[str, tuple[str, frozenset[str], bool, bool]]:
    """name -> (kinds, argument and result types, PUBLIC may execute all, is type I/O)."""
    kinds: dict[str, set[str]] = defaultdict(set)
    types: dict[str, set[str]] = defaultdict(set)
    public: dict[str, bool] = defaultdict(lambda: True)
    type_io: dict[str, bool] = defaultdict(bool)
    with adbc_pg.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(PG_PROC)
        for name, kind, executable, io, signature in cursor.fetchall():
            kinds[name].add(kind)
            types[name].update(signature.split(","))
            public[name] = public[name] and executable
            type_io[name] = type_io[name] or io
    return {n: ("|".join(sorted(kinds[n])), frozenset(types[n]), public[n], type_io[n]) for n in kinds}


def merge(existing: dict[str, FunctionEntry], proposed: dict[str, FunctionEntry]) -> tuple[list[FunctionEntry], list[str]]:
    rows = dict(existing)
    added = []
    for name, entry in proposed.items():
        if name in rows:
            rows[name] = replace(rows[name], kind=entry.kind)
        else:
            rows[name] = entry
            added.append(name)
    return sorted(rows.values(), key=lambda e: e.name), sorted(added)


def write_list(path: Path, rows: list[FunctionEntry]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({f: getattr(row, f) for f in FIELDS})


def update(engine: str, proposed: dict[str, FunctionEntry], mark_reviewed: bool) -> None:
    path = DIRECTORY / f"{engine}.csv"
    existing = read_list(path) if path.exists() else {}
    rows, added = merge(existing, proposed)
    if mark_reviewed:
        rows = [replace(r, status="reviewed") for r in rows]
    write_list(path, rows)
    for name in added:
        entry = next(r for r in rows if r.name == name)
        print(f"{engine}: new {entry.verdict:6} {entry.category:15} {name}")
    print(f"{engine}: {len(rows)} names, {len(added)} new")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="DSN of a PostgreSQL 15 server to read pg_proc from")
    parser.add_argument("--mark-reviewed", action="store_true", help="after a review: mark every entry reviewed")
    args = parser.parse_args()
    proposed = {}
    for name, kind in duckdb_functions().items():
        verdict = propose_duckdb(name, _main_kind(kind))
        proposed[name] = FunctionEntry(name, kind, verdict.verdict, verdict.category, "new")
    update("duckdb", proposed, args.mark_reviewed)
    if args.postgres:
        proposed = {}
        for name, (kind, types, public, io) in postgres_functions(args.postgres).items():
            verdict = propose_postgres(name, types, public, io)
            proposed[name] = FunctionEntry(name, kind, verdict.verdict, verdict.category, "new")
        update("postgres", proposed, args.mark_reviewed)


def _main_kind(kinds: str) -> str:
    """The riskiest of a name's DuckDB function types (a table function outranks a scalar)."""
    order = ("pragma", "table", "table_macro", "macro", "aggregate", "window", "scalar")
    return next(k for k in order if k in kinds.split("|"))


if __name__ == "__main__":
    main()
