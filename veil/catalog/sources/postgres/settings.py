"""The keys of a postgres connection in ``veil.yaml``."""

from __future__ import annotations

from pydantic import model_validator

from veil.catalog.sources.base import SourceSettings


class PostgresSettings(SourceSettings):
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None
    sslmode: str | None = None
    #: Statements pushed down whole are forwarded as PostgreSQL's own DataRows (false: Arrow).
    passthrough: bool = True

    @model_validator(mode="after")
    def _required(self) -> PostgresSettings:
        if not (self.host and self.database):
            raise ValueError("a postgres connection needs `host` and `database`")
        return self
