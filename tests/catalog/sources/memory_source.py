"""A tiny in-memory source type, written as a third-party package would write one.

Its connections hold their rows in ``veil.yaml`` itself::

    connections:
      mem:
        type: memory
        tables:
          crm.people: {name: [Ada, Linus], email: [ada@example.com, linus@example.com]}

It runs the SQL Veil sends (policies applied, in the DuckDB dialect) on a private in-memory DuckDB
from Veil's sandbox factory, reusing the DuckDB plugin's cursor and error mapping. Nothing in
``veil/`` knows it: the tests register it through ``veil.catalog.sources.plugins.register`` or
through a ``veil.sources`` entry point, as ``pip install`` of a package declaring it would.
"""

from __future__ import annotations

from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from veil.catalog.model import Column
from veil.catalog.sources.base import Source, SourcePlugin, SourceSettings, SourceTable, check_source
from veil.catalog.sources.duckdb.error_map import translate_duckdb_error
from veil.catalog.sources.duckdb.source import DuckDBCursor
from veil.catalog.sources.sandbox import sandboxed_duckdb
from veil.config.models import ConnectionConfig
from veil.errors import VeilError


class MemorySettings(SourceSettings):
    #: ``schema.table`` -> column name -> the column's values.
    tables: dict[str, dict[str, list[Any]]]


class MemorySource:
    dialect = "duckdb"

    def __init__(self, name: str, settings: MemorySettings) -> None:
        self.name = name
        self._tables = {tuple(key.split(".", 1)): pa.table(columns) for key, columns in settings.tables.items()}
        self._database = sandboxed_duckdb(prepare=self._load)

    def _load(self, connection: duckdb.DuckDBPyConnection) -> None:
        for (schema, table), rows in self._tables.items():
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.register("veil_rows", rows)
            connection.execute(f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM veil_rows')
            connection.unregister("veil_rows")

    @property
    def connection_key(self) -> tuple[object, ...]:
        return ("memory", id(self))  # each connection is a database of its own

    def list_tables(self) -> list[SourceTable]:
        return [
            SourceTable(None, schema, table, tuple(Column(f.name, f.type, f.nullable) for f in rows.schema))
            for (schema, table), rows in self._tables.items()
        ]

    def cursor(self) -> DuckDBCursor:
        return DuckDBCursor(self._database.cursor())

    def describe(self, sql: str, param_count: int) -> pa.Schema:
        cursor = self.cursor()
        try:
            return cursor.execute(f"SELECT * FROM ({sql}) AS veil_describe LIMIT 0", [None] * param_count).schema
        except duckdb.Error as exc:
            raise self.map_error(exc) from None
        finally:
            cursor.close()

    def map_error(self, exc: BaseException) -> VeilError:
        return translate_duckdb_error(exc)

    def check(self) -> None:
        check_source(self)

    def close(self) -> None:
        self._database.close()


class MemoryPlugin(SourcePlugin[MemorySettings]):
    name: ClassVar[str] = "memory"
    dialect: ClassVar[str] = "duckdb"
    settings_model: ClassVar[type[SourceSettings]] = MemorySettings

    def open(self, name: str, connection: ConnectionConfig, settings: MemorySettings) -> Source:
        return MemorySource(name, settings)

    def fingerprint(self, settings: MemorySettings) -> str:
        return "memory:" + ",".join(sorted(settings.tables))


PLUGIN = MemoryPlugin()
