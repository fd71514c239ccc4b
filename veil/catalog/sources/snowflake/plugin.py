"""The snowflake source type: a Snowflake account (or a local emulator), read as Arrow."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from veil.catalog.sources.base import Source, SourcePlugin, SourceSettings
from veil.catalog.sources.snowflake.settings import SnowflakeSettings
from veil.config.models import ConnectionConfig


def sha2_hex(text: exp.Expr) -> exp.Expr:
    """Lower-case hex SHA-256 where ``sha2`` answers in upper case (Snowflake, Databricks)."""
    return exp.Lower(this=exp.Anonymous(this="sha2", expressions=[text, exp.Literal.number(256)]))


class SnowflakePlugin(SourcePlugin[SnowflakeSettings]):
    name: ClassVar[str] = "snowflake"
    dialect: ClassVar[str] = "snowflake"
    settings_model: ClassVar[type[SourceSettings]] = SnowflakeSettings
    three_part_names: ClassVar[bool] = True
    regex_replaces_all: ClassVar[bool] = True

    def open(self, name: str, connection: ConnectionConfig, settings: SnowflakeSettings) -> Source:
        from veil.catalog.sources.snowflake.source import SnowflakeSource

        return SnowflakeSource(name, connection, settings)

    def fingerprint(self, settings: SnowflakeSettings) -> str:
        return f"snowflake://{settings.host or settings.account}:{settings.port or ''}/{settings.database or ''}"

    def sha256_hex(self, text: exp.Expr) -> exp.Expr:
        return sha2_hex(text)


PLUGIN = SnowflakePlugin()
