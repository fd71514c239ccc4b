"""Built-in objects as PostgreSQL 15 has them: their descriptions (pg_description), their owner
(the bootstrap superuser ``postgres``, OID 10) and ``regprocedure`` output; what Veil serves
stays owned by ``veil``, and no Veil user is a superuser."""

from __future__ import annotations

import pytest

from tests.pgcatalog.pgcat_support import ORDERS, Runner


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("obj_description('abs(integer)'::regprocedure, 'pg_proc')", "absolute value"),
        ("obj_description('int4'::regtype, 'pg_type')", "-2 billion to 2 billion integer, 4-byte storage"),
        ("obj_description('pg_catalog'::regnamespace, 'pg_namespace')", "system catalog schema"),
        ("obj_description('public'::regnamespace, 'pg_namespace')", "standard public schema"),
        ("obj_description('+(integer,integer)'::regoperator, 'pg_operator')", "add"),
        ("obj_description(403, 'pg_am')", "b-tree index access method"),
        ("obj_description('english'::regconfig, 'pg_ts_config')", "configuration for english language"),
        (
            "(SELECT obj_description(oid, 'pg_language') FROM pg_language WHERE lanname = 'plpgsql')",
            "PL/pgSQL procedural language",
        ),
        (
            "(SELECT d.description FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid"
            " WHERE p.proname = 'version' AND d.classoid = 'pg_proc'::regclass)",
            "PostgreSQL version string",
        ),
    ],
)
def test_builtin_descriptions(run: Runner, sql: str, expected: str) -> None:
    assert run.value(f"select {sql}") == expected


def test_descriptions_keep_their_catalog(run: Runner) -> None:
    """An OID described in one catalog is not described in another (int4's OID is no proc's)."""
    assert run.value("select obj_description('int4'::regtype, 'pg_proc')") is None
    assert run.value(f"select obj_description({ORDERS.oid}, 'pg_proc')") is None


def test_builtins_are_owned_by_the_bootstrap_superuser(run: Runner) -> None:
    rows = run.rows(
        "select pg_get_userbyid(p.proowner), pg_get_userbyid(t.typowner), pg_get_userbyid(n.nspowner), "
        "pg_get_userbyid(c.relowner) from pg_proc p, pg_type t, pg_namespace n, pg_class c "
        "where p.oid = 'abs(integer)'::regprocedure and t.oid = 'int4'::regtype "
        "and n.nspname = 'pg_catalog' and c.oid = 'pg_class'::regclass"
    )
    assert rows == [("postgres", "postgres", "postgres", "postgres")]


def test_served_objects_stay_owned_by_veil(run: Runner) -> None:
    rows = run.rows(
        "select pg_get_userbyid(c.relowner), pg_get_userbyid(t.typowner), pg_get_userbyid(n.nspowner), "
        "pg_get_userbyid(d.datdba) from pg_class c, pg_type t, pg_namespace n, pg_database d "
        f"where c.oid = {ORDERS.oid} and t.oid = c.reltype and n.nspname = 'sales'"
    )
    assert rows == [("veil", "veil", "veil", "veil")]
    assert run.rows("select tableowner from pg_tables where tablename = 'orders'") == [("veil",)]
    assert run.rows("select schema_owner from information_schema.schemata where schema_name = 'public'") == [
        ("pg_database_owner",)
    ]


def test_roles(run: Runner) -> None:
    rows = run.rows("select oid, rolname, rolsuper, rolcanlogin from pg_roles where rolname !~ '^pg_' order by rolname")
    assert rows[2:] == [(10, "postgres", True, False), (rows[3][0], "veil", False, False)]
    assert [(name, superuser, login) for _, name, superuser, login in rows[:2]] == [
        ("alice", False, True),
        ("bob", False, True),
    ]
    # The connected user is never a superuser, nor a member of one.
    assert run.value("select rolsuper from pg_roles where rolname = current_user") is False
    assert run.rows("select usename from pg_user where usesuper") == []
    assert run.value("select count(*) from pg_auth_members where roleid = 10 or member = 10") == 0


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("'abs(integer)'::regprocedure::text", "abs(integer)"),
        (
            "'date_trunc(text, timestamp with time zone, text)'::regprocedure::text",
            "date_trunc(text,timestamp with time zone,text)",
        ),
        (
            "(SELECT lanplcallfoid::regprocedure::text FROM pg_language WHERE lanname = 'plpgsql')",
            "plpgsql_call_handler()",
        ),
        (
            "(SELECT min(oid::regprocedure::text) FROM pg_proc WHERE proname = 'array_in')",
            "array_in(cstring,oid,integer)",
        ),
        ("pg_describe_object('pg_proc'::regclass, 'version()'::regprocedure, 0)", "function version()"),
        ("0::regprocedure::text", "-"),
        # regproc output qualifies an overloaded name, as regprocout does; regtype quotes "any".
        ("'abs(integer)'::regprocedure::regproc::text", "pg_catalog.abs"),
        (
            "(SELECT min(oprcode::text) FROM pg_operator WHERE oprname = '+' AND oprleft = 'aclitem[]'::regtype)",
            "aclinsert",
        ),
        ("'version()'::regprocedure::regproc::text", "version"),
        ("'any'::regtype::text", '"any"'),
        ("format_type('any'::regtype, NULL)", '"any"'),
    ],
)
def test_regprocedure_output(run: Runner, sql: str, expected: str) -> None:
    """As format_procedure prints it: argument types comma-separated without spaces."""
    assert run.value(f"select {sql}") == expected


def test_extension_members(run: Runner) -> None:
    """psql's ``\\dx+ plpgsql``: the objects the extension owns, described as PostgreSQL does."""
    rows = run.rows(
        "SELECT pg_catalog.pg_describe_object(classid, objid, 0) FROM pg_catalog.pg_depend "
        "WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass "
        "AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'plpgsql') AND deptype = 'e' ORDER BY 1"
    )
    assert rows == [
        ("function plpgsql_call_handler()",),
        ("function plpgsql_inline_handler(internal)",),
        ("function plpgsql_validator(oid)",),
        ("language plpgsql",),
    ]


# Every built-in catalog Veil fills from PostgreSQL's rows, with its owner column (None: no owner).
BUILTIN_CATALOGS = {
    "pg_proc": "proowner",
    "pg_type": "typowner",
    "pg_operator": "oprowner",
    "pg_am": None,
    "pg_namespace": "nspowner",
    "pg_language": "lanowner",
    "pg_extension": "extowner",
    "pg_ts_config": "cfgowner",
    "pg_ts_dict": "dictowner",
    "pg_ts_parser": None,
    "pg_ts_template": None,
    "pg_collation": "collowner",
    "pg_opclass": "opcowner",
    "pg_opfamily": "opfowner",
    "pg_cast": None,
    "pg_tablespace": "spcowner",
    "pg_conversion": "conowner",
}


@pytest.mark.parametrize(("catalog", "owner"), BUILTIN_CATALOGS.items())
def test_every_builtin_object_has_postgres_description_and_owner(
    run: Runner, postgres_dsn: str, catalog: str, owner: str | None
) -> None:
    """Each built-in object Veil shows has exactly PostgreSQL 15's description and owner (a
    server whose bootstrap superuser is ``postgres``, initdb's usual user); no object is left out."""
    psycopg = pytest.importorskip("psycopg")
    owned = f"pg_get_userbyid({owner})" if owner else "NULL"
    sql = f"SELECT oid, {owned}, obj_description(oid, '{catalog}') FROM pg_catalog.{catalog} WHERE oid < 16384"
    mine = {row[0]: row[1:] for row in run.rows(sql)}
    assert mine
    try:
        connection = psycopg.connect(postgres_dsn)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable: {error}")
    with connection:
        rows = connection.execute(f"{sql} AND oid = ANY(%s)", (list(mine),)).fetchall()
    theirs = {row[0]: row[1:] for row in rows}
    assert mine == theirs


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("pg_encoding_to_char(6)", "UTF8"),
        ("pg_encoding_to_char(25)", "ISO_8859_5"),
        ("pg_encoding_to_char(99)", ""),
        ("pg_char_to_encoding('utf-8')", 6),
        ("pg_char_to_encoding('ISO_8859_5')", 25),
        ("pg_char_to_encoding('nope')", -1),
        (
            "(SELECT pg_encoding_to_char(conforencoding) || '>' || pg_encoding_to_char(contoencoding)"
            " FROM pg_conversion WHERE conname = 'big5_to_utf8')",
            "BIG5>UTF8",
        ),
        (
            "(SELECT conproc::regprocedure::text FROM pg_conversion WHERE conname = 'big5_to_utf8')",
            "big5_to_utf8(integer,integer,cstring,internal,integer,boolean)",
        ),
    ],
)
def test_encodings_and_conversions(run: Runner, sql: str, expected: object) -> None:
    """Every encoding PostgreSQL 15 has, by number and by name (psql's \\l and \\dc)."""
    assert run.value(f"select {sql}") == expected


def test_domain_check_constraints(run: Runner) -> None:
    """information_schema's domains keep PostgreSQL's CHECK constraints (psql's \\dD)."""
    rows = run.rows(
        "SELECT t.typname, pg_get_constraintdef(c.oid), pg_get_constraintdef(c.oid, true), pg_get_expr(c.conbin, 0)"
        " FROM pg_constraint c JOIN pg_type t ON t.oid = c.contypid WHERE t.typname = 'cardinal_number'"
    )
    assert rows == [("cardinal_number", "CHECK ((VALUE >= 0))", "CHECK (VALUE >= 0)", "(VALUE >= 0)")]


def test_catalog_relations_keep_postgres_privileges(run: Runner) -> None:
    """Catalog relations carry PostgreSQL's ACL (psql's \\dp); the sources' tables have none."""
    acl = run.value("SELECT relacl::text FROM pg_class WHERE oid = 'pg_catalog.pg_class'::regclass")
    assert acl == "{postgres=arwdDxt/postgres,=r/postgres}"
    assert run.value(f"SELECT relacl FROM pg_class WHERE oid = {ORDERS.oid}") is None
