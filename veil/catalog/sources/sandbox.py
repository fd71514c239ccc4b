"""The one factory of locked-down DuckDB connections.

Every DuckDB Veil opens (a DuckDB source's file, the local engine joining fragments, the
emulated ``pg_catalog``, the admin views, the JSON renderer of Databricks results) comes from
:func:`sandboxed_duckdb`: extensions are never installed or loaded on demand, Python variables are
never read by name, and before any SQL runs external access is switched off (no files, URLs or
other databases beyond the database opened here) and the configuration is locked, so no
statement can switch either back on. The one setting that differs between the sessions of a
long-lived database is its ``TimeZone`` (DuckDB reads, prints, truncates and adds to
``timestamptz`` in it, as PostgreSQL does in the session's): a per-statement database is opened
in the session's zone before the lock; a long-lived one (``zoned_cursors``) starts in UTC and
keeps ``TimeZone`` alone changeable (DuckDB's ``allowed_configs``), which :func:`set_zone` sets
on each cursor Veil hands a session. No client statement reaches DuckDB as a ``SET``: the local
engine and the planner emit queries only. Veil's own Python functions
(:mod:`~veil.catalog.sources.pgvariance`) are registered on it. Its macros
(:mod:`~veil.catalog.sources.pgdivision`) are defined before the lock where asked (in the
database), else by :func:`with_macros` on a connection that calls one (for that connection
only: a database opened read-only takes no new entries; a locked configuration still lets a
connection define temporary macros).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import duckdb

from veil import errcodes, timezones
from veil.catalog.sources import pgdivision, pgvariance

DuckDBSetting = str | bool | int | float | list[str]
T = TypeVar("T")

#: Settings every sandboxed DuckDB opens with (callers add their own).
HARDENED: Mapping[str, DuckDBSetting] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
}
#: The only setting a long-lived database shared by sessions keeps changeable after the lock.
ZONED: Mapping[str, DuckDBSetting] = {"allowed_configs": ["TimeZone"]}
# Applied after the connection opens: DuckDB refuses a temp_directory once external access is off.
LOCKDOWN = ("SET enable_external_access = false", "SET lock_configuration = true")


def sandboxed_duckdb(
    database: str = ":memory:",
    *,
    read_only: bool = False,
    config: Mapping[str, DuckDBSetting] | None = None,
    prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    macros: bool = False,
    timezone: str = "UTC",
    zoned_cursors: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to ``database`` with ``config`` on top of :data:`HARDENED`; ``prepare``
    (building the emulated catalog, say) runs before external access is switched off and the
    configuration locked. ``macros``: define Veil's macros in the (writable, long-lived) database
    now, for all its cursors; else :func:`with_macros` defines them on a connection that calls
    one (a definition costs 4 ms, and most connections are opened per statement and need none).
    ``timezone``: the session TimeZone (PostgreSQL's spelling) the database computes in;
    ``zoned_cursors``: its cursors may each be given another (:func:`set_zone`)."""
    settings = {**HARDENED, **(config or {}), **(ZONED if zoned_cursors else {})}
    connection = duckdb.connect(database, read_only=read_only, config=settings)
    try:
        pgvariance.register(connection)
        if macros:  # in the database: every cursor sees them
            pgdivision.register(connection, temporary=False)
        if prepare is not None:
            prepare(connection)
        if not _locked_down(connection):
            connection.execute(f"SET GLOBAL TimeZone = {_zone_literal(timezone)}")
            for statement in LOCKDOWN:
                connection.execute(statement)
    except BaseException:
        connection.close()
        raise
    return connection


def set_zone(cursor: duckdb.DuckDBPyConnection, timezone: str) -> duckdb.DuckDBPyConnection:
    """Make ``cursor`` (of a database opened with ``zoned_cursors``, a new cursor computing in
    UTC) compute in ``timezone``, a TimeZone setting as PostgreSQL spells it, and return it; a
    cursor that cannot be set is closed."""
    if timezone == "UTC":
        return cursor
    try:
        cursor.execute(f"SET SESSION TimeZone = {_zone_literal(timezone)}")
    except duckdb.NotImplementedException:  # a zone Python's tzdata has and ICU's lacks
        cursor.close()
        raise errcodes.InvalidParameterValue(f'time zone "{timezone}" not recognized') from None
    except BaseException:
        cursor.close()
        raise
    return cursor


def _zone_literal(timezone: str) -> str:
    name = timezones.zone(timezone).duckdb
    return "'" + name.replace("'", "''") + "'"


def with_macros(connection: duckdb.DuckDBPyConnection, run: Callable[[], T]) -> T:
    """``run()`` on ``connection``; if it calls one of Veil's macros the connection lacks (a
    cursor of a file database: temporary macros belong to one connection), the macros are
    defined and ``run`` called again. Only cursors that need them pay for them (4 ms: the
    definition is long); a locked configuration still lets a connection define temporary macros."""
    try:
        return run()
    except duckdb.CatalogException as exc:
        if pgdivision.MACRO not in str(exc):
            raise
    pgdivision.register(connection, temporary=True)
    return run()


def _locked_down(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database is already locked down: DuckDB shares one database instance among the
    connections a process opens to the same file, so a second source on it finds the lock taken
    (and may not set anything again)."""
    row = connection.execute(
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"
    ).fetchone()
    assert row is not None
    locked, external_access = row
    if locked and external_access:
        raise duckdb.PermissionException("a DuckDB database locked with external access on cannot be sandboxed")
    return bool(locked)
