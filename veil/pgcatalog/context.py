"""Per-statement session facts the local engine compiles into its SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlglot import exp

from veil import __version__
from veil.pgcatalog import sqlbuild
from veil.pgcatalog.data.settings import DISPLAY, PG_SETTINGS
from veil.pgcatalog.objects import CatalogObjects

DEFAULT_SERVER_VERSION = "15.20"

# current_setting() of every setting in pg_settings, as SHOW prints it.
SETTING_DEFAULTS: dict[str, str] = {
    str(row[0]).lower(): DISPLAY.get(str(row[0]), str(row[1])) for row in PG_SETTINGS
}
SETTING_DEFAULTS.update(
    {
        "is_superuser": "off",
        "session_authorization": "",
        "in_hot_standby": "off",
        "server_encoding": "UTF8",
        "client_encoding": "UTF8",
        "server_version": DEFAULT_SERVER_VERSION,
        "server_version_num": "150020",
        "jit": "on",
        "search_path": '"$user", public',
        "timezone": "UTC",
        "datestyle": "ISO, MDY",
        "application_name": "",
    }
)


@dataclass(frozen=True)
class LocalContext:
    """What the session knows when a statement runs."""

    user: str
    database: str
    search_path: tuple[str, ...]
    settings: Mapping[str, str] = field(default_factory=dict)
    backend_pid: int = 0
    is_superuser: bool = False
    tls: tuple[str, str, int] | None = None  # (version, cipher, bits) of an encrypted session

    def setting(self, name: str) -> str | None:
        """current_setting(name): the session's value, else PostgreSQL's default."""
        lowered = name.lower()
        for key, value in self.settings.items():
            if key.lower() == lowered:
                return value
        if lowered == "session_authorization":
            return self.user
        if lowered == "is_superuser":
            return "on" if self.is_superuser else "off"
        return SETTING_DEFAULTS.get(lowered)

    @property
    def server_version(self) -> str:
        return self.setting("server_version") or DEFAULT_SERVER_VERSION

    @property
    def version_string(self) -> str:
        return (
            f"PostgreSQL {self.server_version} (Veil {__version__}) on x86_64-pc-linux-gnu, "
            "compiled by gcc, 64-bit"
        )


@dataclass
class CompileEnv:
    """Context for one compilation: the session, the catalog and the effective search path."""

    ctx: LocalContext
    objects: CatalogObjects
    started: datetime
    #: The TimeZone the statement's timestamptz literals are read in, when not the session's
    #: (a prepared statement compiled again after SET TimeZone: PostgreSQL read them at PREPARE).
    literal_timezone: str | None = None

    def __post_init__(self) -> None:
        self.path = self.objects.search_path(self.ctx.search_path, self.ctx.user)

    def path_literal(self) -> exp.Expr:
        return sqlbuild.string_list(self.path)

    @property
    def current_schemas(self) -> list[str]:
        """current_schemas(false): the existing schemas of search_path, without implicit ones."""
        explicit = [s for s in self.path if s != "pg_catalog" or "pg_catalog" in self._named()]
        return explicit

    def _named(self) -> set[str]:
        return {self.ctx.user if s == "$user" else s for s in self.ctx.search_path}

    def settings_overrides(self) -> dict[str, str]:
        """Session settings plus the values derived from the session (lower-cased names)."""
        values = {k.lower(): v for k, v in self.ctx.settings.items()}
        values.setdefault("session_authorization", self.ctx.user)
        values.setdefault("is_superuser", "on" if self.ctx.is_superuser else "off")
        return values
