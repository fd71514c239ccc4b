"""The duckdb source type: a DuckDB database file, opened read-only."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from veil.catalog.sources.base import Source, SourcePlugin, SourceSettings
from veil.catalog.sources.duckdb.settings import DuckDBSettings
from veil.config.models import ConnectionConfig


class DuckDBPlugin(SourcePlugin[DuckDBSettings]):
    name: ClassVar[str] = "duckdb"
    dialect: ClassVar[str] = "duckdb"
    settings_model: ClassVar[type[SourceSettings]] = DuckDBSettings

    def open(self, name: str, connection: ConnectionConfig, settings: DuckDBSettings) -> Source:
        from veil.catalog.sources.duckdb.source import DuckDBSource

        assert settings.path is not None
        return DuckDBSource(name, settings.path)

    def fingerprint(self, settings: DuckDBSettings) -> str:
        return f"duckdb:{Path(settings.path or '').resolve()}"


PLUGIN = DuckDBPlugin()
