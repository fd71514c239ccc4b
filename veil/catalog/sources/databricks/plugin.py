"""The databricks source type: a Databricks SQL warehouse (or a local emulator), read as Arrow."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from veil.catalog.sources.base import Source, SourcePlugin, SourceSettings
from veil.catalog.sources.databricks.settings import DatabricksSettings
from veil.catalog.sources.snowflake.plugin import sha2_hex
from veil.config.models import ConnectionConfig


class DatabricksPlugin(SourcePlugin[DatabricksSettings]):
    name: ClassVar[str] = "databricks"
    dialect: ClassVar[str] = "databricks"
    settings_model: ClassVar[type[SourceSettings]] = DatabricksSettings
    three_part_names: ClassVar[bool] = True
    regex_replaces_all: ClassVar[bool] = True

    def open(self, name: str, connection: ConnectionConfig, settings: DatabricksSettings) -> Source:
        from veil.catalog.sources.databricks.source import DatabricksSource

        return DatabricksSource(name, connection, settings)

    def fingerprint(self, settings: DatabricksSettings) -> str:
        s = settings
        return f"databricks://{s.server_hostname}:{s.port or ''}{s.http_path}/{s.catalog or ''}"

    def sha256_hex(self, text: exp.Expr) -> exp.Expr:
        return sha2_hex(text)


PLUGIN = DatabricksPlugin()
