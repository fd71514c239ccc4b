"""The keys of a duckdb connection in ``veil.yaml``."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from veil.catalog.sources.base import SourceSettings


class DuckDBSettings(SourceSettings):
    path: Path | None = None

    @model_validator(mode="after")
    def _required(self) -> DuckDBSettings:
        if self.path is None:
            raise ValueError("a duckdb connection needs `path` (the database file)")
        return self
