"""DuckDB errors from the local engine, as PostgreSQL errors a client can act on."""

from __future__ import annotations

import duckdb

from veil.catalog.sources.duckdb.error_map import translate_duckdb_error
from veil.errors import VeilError
from veil.pgcatalog.schema import DUCK_SCHEMAS, FUNCTION_SCHEMA


def _public_names(message: str) -> str:
    """Veil's internal schema names, as the PostgreSQL names they emulate."""
    for pg_name, duck_name in DUCK_SCHEMAS.items():
        message = message.replace(f"{duck_name}.", f"{pg_name}.").replace(duck_name, pg_name)
    return message.replace(f"{FUNCTION_SCHEMA}.", "")


def translate(error: duckdb.Error) -> VeilError:
    return translate_duckdb_error(error, _public_names)
