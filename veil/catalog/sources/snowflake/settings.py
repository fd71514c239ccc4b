"""The keys of a snowflake connection in ``veil.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from veil.catalog.sources.base import SourceSettings


class SnowflakeSettings(SourceSettings):
    account: str | None = None
    user: str | None = None
    password: str | None = None  # with private_key_file: the key's passphrase
    private_key_file: Path | None = None
    warehouse: str | None = None
    database: str | None = None
    role: str | None = None
    # only for a local emulator
    host: str | None = None
    port: int | None = None
    protocol: Literal["http", "https"] | None = None

    @model_validator(mode="after")
    def _required(self) -> SnowflakeSettings:
        if not (self.account and self.user):
            raise ValueError("a snowflake connection needs `account` and `user`")
        if not (self.password or self.private_key_file):
            raise ValueError("a snowflake connection needs `password` or `private_key_file`")
        return self
