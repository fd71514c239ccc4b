"""The postgres source type: a PostgreSQL server, read over ADBC (and libpq for passthrough)."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from veil.catalog.sources.base import Source, SourcePlugin, SourceSettings
from veil.catalog.sources.postgres.settings import PostgresSettings
from veil.config.models import ConnectionConfig


class PostgresPlugin(SourcePlugin[PostgresSettings]):
    name: ClassVar[str] = "postgres"
    dialect: ClassVar[str] = "postgres"
    settings_model: ClassVar[type[SourceSettings]] = PostgresSettings

    def open(self, name: str, connection: ConnectionConfig, settings: PostgresSettings) -> Source:
        from veil.catalog.sources.postgres.source import PostgresSource

        return PostgresSource(name, connection, settings)

    def fingerprint(self, settings: PostgresSettings) -> str:
        return f"postgres://{settings.host or ''}:{settings.port or ''}/{settings.database or ''}"

    def sha256_hex(self, text: exp.Expr) -> exp.Expr:
        utf8 = exp.Anonymous(this="convert_to", expressions=[text, exp.Literal.string("UTF8")])
        digest = exp.Anonymous(this="sha256", expressions=[utf8])
        return exp.Anonymous(this="encode", expressions=[digest, exp.Literal.string("hex")])


PLUGIN = PostgresPlugin()
