"""The keys of a databricks connection in ``veil.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from veil.catalog.sources.base import SourceSettings


class DatabricksSettings(SourceSettings):
    server_hostname: str | None = None
    http_path: str | None = None
    access_token: str | None = None
    catalog: str | None = None
    # only for a local emulator
    port: int | None = None
    protocol: Literal["http", "https"] | None = None

    @model_validator(mode="after")
    def _required(self) -> DatabricksSettings:
        if not (self.server_hostname and self.http_path and self.access_token):
            raise ValueError("a databricks connection needs `server_hostname`, `http_path` and `access_token`")
        return self
