"""Two PostgreSQL databases using one OID for different types (#13): the second database is a
copy of the first (``CREATE DATABASE ... TEMPLATE``, so its types keep their OIDs) whose enum got
other labels and whose composite type another field. Through one Veil each database's columns
must be served as their own type, under OIDs no other type has, which clients caching types by
OID per connection (psycopg, asyncpg) decode correctly on one connection; a type only one database
has keeps its source OID, and the OIDs Veil assigns do not change across a restart.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.catalog.sources.test_postgres_types import _asyncpg_params, _raw
from tests.catalog.support import compile_java, ddl, private_database
from tests.config.support import everyone_reads, user
from tests.conftest import VeilServer, postgres_connection, start_server, stop_server
from veil.pgfields import FIRST_REMAPPED_OID

SQL = "SELECT id, m, ms, p, ps, solo FROM s.t ORDER BY id"


@dataclass
class TwoDatabases:
    first: str
    second: str
    directory: Path
    config: dict[str, object]
    server: VeilServer | None = None

    def veil_dsn(self) -> str:
        assert self.server is not None
        return self.server.dsn("alice")


def _copy(dsn: str, name: str) -> str:
    params = conninfo_to_dict(dsn)
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{params["dbname"]}"')
    return make_conninfo(**{**params, "dbname": name})


@pytest.fixture(scope="module")
def two(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoDatabases]:
    directory = tmp_path_factory.mktemp("type_oids")
    with (
        private_database(postgres_dsn, "veil_type_oids_a") as first,
        private_database(postgres_dsn, "veil_type_oids_b") as placeholder,
    ):
        ddl(
            first,
            "CREATE TYPE mood AS ENUM ('sad', 'happy')",
            "CREATE TYPE pair AS (a int, b text)",
            "CREATE SCHEMA s",
            "CREATE TABLE s.t (id int PRIMARY KEY, m mood, ms mood[], p pair, ps pair[])",
            "INSERT INTO s.t VALUES (1, 'happy', '{sad,happy}', '(1,x)', ARRAY[ROW(2, 'y')::pair])",
        )
        second = _copy(first, conninfo_to_dict(placeholder)["dbname"] + "_copy")
        try:
            ddl(
                second,
                "ALTER TYPE mood RENAME VALUE 'sad' TO 'glum'",
                "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'glum'",
                "ALTER TYPE pair ADD ATTRIBUTE c date CASCADE",
                "UPDATE s.t SET m = 'meh', ms = '{meh,glum,happy}', p = '(3,z,2024-01-02)', "
                "ps = ARRAY[ROW(4, 'w', '2000-01-01')::pair]",
            )
            # a type only the second database has
            ddl(first, "ALTER TABLE s.t ADD COLUMN solo int")
            ddl(
                second,
                "CREATE TYPE solo AS ENUM ('only')",
                "ALTER TABLE s.t ADD COLUMN solo solo",
                "UPDATE s.t SET solo = 'only'",
            )
            config = {
                "server": {"host": "127.0.0.1", "port": 0},
                "connections": {
                    "one": postgres_connection(first, naming={"schema": "one"}),
                    "two": postgres_connection(second, naming={"schema": "two"}),
                    "two_arrow": postgres_connection(second, naming={"schema": "two_arrow"}, passthrough=False),
                },
                "users": {"alice": user("alice")},
                "policies": [everyone_reads()],
            }
            setup = TwoDatabases(first, second, directory, config)
            process, setup.server = start_server(directory, config)
            try:
                yield setup
            finally:
                stop_server(process)
        finally:
            ddl(postgres_dsn, f'DROP DATABASE IF EXISTS "{conninfo_to_dict(second)["dbname"]}" WITH (FORCE)')


def _served(two: TwoDatabases, schema: str, fmt: int) -> tuple[list[tuple[bytes, int, int]], list[list[bytes | None]]]:
    return _raw(two.veil_dsn(), SQL.replace("s.t", f"{schema}.t"), fmt)


def test_the_databases_really_share_the_oids(two: TwoDatabases) -> None:
    one, _ = _raw(two.first, SQL, 0)
    other, _ = _raw(two.second, SQL, 0)
    assert [c[1] for c in one][1:5] == [c[1] for c in other][1:5]
    assert min(c[1] for c in one[1:5]) >= 16384


@pytest.mark.parametrize("fmt", [0, 1], ids=["text", "binary"])
def test_each_database_is_served_its_own_types_under_distinct_oids(two: TwoDatabases, fmt: int) -> None:
    served = {schema: _served(two, schema, fmt) for schema in ("one", "two", "two_arrow")}
    direct = {"one": _raw(two.first, SQL, fmt), "two": _raw(two.second, SQL, fmt)}
    one, other = [c[1] for c in served["one"][0]], [c[1] for c in served["two"][0]]
    # the contested types (mood, pair and their arrays) get four OIDs each side, all distinct,
    # in Veil's reserved range; the type only the second database has keeps its own OID
    assert len(set(one[1:5]) | set(other[1:5])) == 8
    assert all(oid >= FIRST_REMAPPED_OID for oid in one[1:5] + other[1:5])
    assert other[5] == direct["two"][0][5][1] and one[5] == 23
    assert [c[1] for c in served["two_arrow"][0]] == other
    # the values: text is PostgreSQL's; binary arrays name their element type by Veil's OID
    for schema, database in (("one", "one"), ("two", "two"), ("two_arrow", "two")):
        cells, want = served[schema][1], direct[database][1]
        if fmt == 0:
            assert cells == want
        else:
            assert [row[:2] + row[3:4] for row in cells] == [row[:2] + row[3:4] for row in want]
            elements = [int.from_bytes(row[2][8:12], "big") for row in cells]
            assert elements == [[c[1] for c in served[schema][0]][1]]


def test_the_catalog_lists_both_types_with_their_labels(two: TwoDatabases) -> None:
    query = (
        "SELECT t.oid::bigint, t.typname, t.typarray::bigint, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) "
        "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = 'mood' GROUP BY 1, 2, 3 ORDER BY 4"
    )
    with psycopg.connect(two.veil_dsn()) as connection:
        rows = connection.execute(query).fetchall()
        served = {schema: _served(two, schema, 0)[0] for schema in ("one", "two")}
    assert [r[3] for r in rows] == [["meh", "glum", "happy"], ["sad", "happy"]]
    assert {r[0] for r in rows} == {served["one"][1][1], served["two"][1][1]}
    assert {r[2] for r in rows} == {served["one"][2][1], served["two"][2][1]}


def test_asyncpg_decodes_both_databases_on_one_connection(two: TwoDatabases) -> None:
    async def fetch(dsn: str, schemas: tuple[str, ...]) -> list[list[tuple[object, ...]]]:
        connection = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            return [[tuple(r) for r in await connection.fetch(SQL.replace("s.t", f"{schema}.t"))] for schema in schemas]
        finally:
            await connection.close()

    served = asyncio.run(fetch(two.veil_dsn(), ("one", "two", "two_arrow", "one")))
    first = asyncio.run(fetch(two.first, ("s",)))[0]
    second = asyncio.run(fetch(two.second, ("s",)))[0]

    def shown(rows: list[tuple[object, ...]]) -> list[str]:
        return [repr(tuple(tuple(v) if isinstance(v, asyncpg.Record) else v for v in row)) for row in rows]

    assert [shown(rows) for rows in served] == [shown(first), shown(second), shown(second), shown(first)]
    assert "'meh'" in shown(served[1])[0] and "datetime.date(2024, 1, 2)" in shown(served[1])[0]


def test_psycopg_decodes_both_databases_on_one_connection(two: TwoDatabases) -> None:
    from psycopg.types.composite import CompositeInfo, register_composite

    with psycopg.connect(two.veil_dsn()) as connection:
        pairs = {}
        for schema in ("one", "two"):
            oid = _served(two, schema, 0)[0][3][1]
            info = CompositeInfo.fetch(connection, str(oid))  # by OID: both are named pair
            assert info is not None and info.oid == oid
            register_composite(info, connection)
            pairs[schema] = [
                tuple(value)
                for binary in (False, True)
                for value in connection.cursor(binary=binary).execute(f"SELECT p FROM {schema}.t").fetchone() or ()
            ]
    assert pairs == {"one": [(1, "x"), (1, "x")], "two": [(3, "z", __import__("datetime").date(2024, 1, 2))] * 2}


def test_assigned_oids_are_the_same_after_a_restart(two: TwoDatabases) -> None:
    before = {schema: [c[1] for c in _served(two, schema, 0)[0]] for schema in ("one", "two")}
    directory = two.directory / "again"
    directory.mkdir()
    process, server = start_server(directory, two.config)
    try:
        after = {
            schema: [c[1] for c in _raw(server.dsn("alice"), SQL.replace("s.t", f"{schema}.t"), 0)[0]]
            for schema in ("one", "two")
        }
    finally:
        stop_server(process)
    assert after == before


def _jdbc(build: tuple[str, Path, Path], dsn: str, schema: str) -> list[str]:
    java, jar, classes = build
    params = conninfo_to_dict(dsn)
    url = f"jdbc:postgresql://{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{params['dbname']}?sslmode=disable"
    ran = subprocess.run(
        [
            java,
            "-cp",
            f"{jar}{os.pathsep}{classes}",
            "VeilJdbcTypes",
            url,
            str(params.get("user", "postgres")),
            str(params.get("password", "")),
            schema,
            "t",
            SQL.replace("s.t", f"{schema}.t"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.splitlines()


def test_pgjdbc_reads_both_databases_as_postgresql_does(two: TwoDatabases, tmp_path: Path) -> None:
    build = compile_java(Path(__file__).parents[2] / "clients" / "java" / "VeilJdbcTypes.java", tmp_path)
    for schema, dsn in (("one", two.first), ("two", two.second)):
        served = _jdbc(build, two.veil_dsn(), schema)
        assert served == _jdbc(build, dsn, "s"), schema
        assert (
            'text row\t1\tmeh\t{meh,glum,happy}\t(3,z,2024-01-02)\t{"(4,w,2000-01-01)"}\tonly' in served
            or schema == "one"
        )
