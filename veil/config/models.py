"""The shape of ``veil.yaml`` as pydantic models.

Only this package knows YAML; everything else receives these validated, typed objects.
Durations (``1h``, ``10m``, ``90d``) and sizes (``1GiB``) are parsed here once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$", re.IGNORECASE)
_SIZE_BYTES = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "tib": 1024**4,
}


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"500ms"``, ``"10m"``, ``"1h"``, ``"90d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10m, 1h or 90d")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"invalid duration {value!r}: expected a number with unit ms, s, m, h, d or w")
    return float(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def parse_size(value: Any) -> int:
    """Bytes from ``1024``, ``"512MiB"``, ``"1GiB"``."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512MiB or 1GiB")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"invalid size {value!r}: expected a number with unit B, KiB, MiB or GiB")
    unit = (match.group(2) or "b").lower()
    return int(float(match.group(1)) * _SIZE_BYTES[unit])


def _listify(value: Any) -> Any:
    """``{country: US}`` is shorthand for ``{country: [US]}``."""
    if isinstance(value, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Attributes = Annotated[dict[str, list[str]], BeforeValidator(_listify)]
Size = Annotated[int, BeforeValidator(parse_size)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently disable a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(Strict):
    cert: Path
    key: Path


AuthMethod = Literal["scram-sha-256", "md5", "password", "trust"]


class AuthThrottleConfig(Strict):
    """Exponential back-off after failed logins, per user name and per client address: after
    ``free_failures`` failures in a row, each further attempt waits ``base_delay`` doubled per
    failure, at most ``max_delay``; attempts during the wait are refused without looking at the
    password. A successful login, or ``forget_after`` without failures, resets the count."""

    enabled: bool = True
    free_failures: int = Field(default=5, ge=0)
    base_delay: Duration = 1.0
    max_delay: Duration = 30.0
    forget_after: Duration = 900.0


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=6432, ge=0, le=65535)  # 0 = any free port
    database: str = "veil"
    search_path: str = '"$user", public'
    tls: TlsConfig | None = None
    auth: AuthMethod = "scram-sha-256"
    max_message_bytes: Size = 64 * 1024 * 1024
    #: What in-flight results and large incoming messages may hold together; default a
    #: quarter of the machine's RAM. Beyond it statements wait up to ``memory_wait``, then
    #: fail with SQLSTATE 53200.
    max_memory: Size | None = Field(default=None, gt=0)
    memory_wait: Duration = Field(default=10.0, ge=0)
    auth_throttle: AuthThrottleConfig = AuthThrottleConfig()
    max_statement_bytes: Size = Field(default=1024 * 1024, gt=0)  # longer SQL text: 54000, not parsed


class CacheConfig(Strict):
    max_bytes: Size = 1024**3
    default_latency: Duration = 3600.0
    backend: str = "memory"  # or redis://[:password@]host:port/db (rediss:// for TLS, unix:// for a socket)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("cache backend must be `memory` or a redis://, rediss:// or unix:// URL")
        return value


class EngineConfig(Strict):
    """Veil's local DuckDB, which joins the fragments of a cross-source statement. Each such
    statement gets its own, bounded by ``memory_limit``; beyond it, joins, aggregates and sorts
    spill to a private directory under ``temp_directory`` (default ``<state_dir>/spill``)."""

    memory_limit: Size = 1024**3
    temp_directory: Path | None = None


class AuditConfig(Strict):
    path: Path | None = None


class SecretsConfig(Strict):
    """``hash_key`` keys every hash mask. During a rotation ``hash_key_previous`` holds the key
    being retired: Veil never hashes with it, keeps it out of every log, error and audit record
    like the current key, and ``veil check`` warns until it is removed."""

    hash_key: str | None = None
    hash_key_previous: str | None = None

    @model_validator(mode="after")
    def _rotation(self) -> SecretsConfig:
        if self.hash_key_previous is not None and self.hash_key is None:
            raise ValueError("secrets.hash_key_previous needs secrets.hash_key (the new key)")
        if self.hash_key_previous is not None and self.hash_key_previous == self.hash_key:
            raise ValueError("secrets.hash_key_previous must differ from secrets.hash_key")
        return self

    def values(self) -> tuple[str, ...]:
        """Every configured secret (to scrub from anything Veil writes or returns)."""
        return tuple(v for v in (self.hash_key, self.hash_key_previous) if v)


class PopulationTables(Strict):
    tables: list[str]


class PopulationSchemas(Strict):
    schemas: list[str]


class NamingConfig(Strict):
    schema_: str = Field(default="<schema>", alias="schema")
    table: str = "<tablename>"


class SyncConfig(Strict):
    interval: Duration = 86400.0
    activate_new: bool = True


#: The keys that say where and how to reach a source, per source type (population, naming,
#: latency and sync apply to every type).
_SOURCE_KEYS_BY_TYPE: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"path"}),
    "postgres": frozenset({"host", "port", "database", "user", "password", "sslmode", "passthrough"}),
    "snowflake": frozenset(
        {"account", "user", "password", "private_key_file", "warehouse", "database", "role", "host", "port", "protocol"}
    ),
    "databricks": frozenset({"server_hostname", "http_path", "access_token", "catalog", "port", "protocol"}),
}
_SOURCE_KEYS = frozenset().union(*_SOURCE_KEYS_BY_TYPE.values())


class ConnectionConfig(Strict):
    """A source system. Only the keys of its ``type`` may be given (a misplaced key is an error)."""

    type: Literal["duckdb", "postgres", "snowflake", "databricks"]
    path: Path | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None
    sslmode: str | None = None
    # postgres: statements pushed down whole are forwarded as PostgreSQL's own DataRows (false: Arrow)
    passthrough: bool = True
    # snowflake
    account: str | None = None
    private_key_file: Path | None = None
    warehouse: str | None = None
    role: str | None = None
    # databricks
    server_hostname: str | None = None
    http_path: str | None = None
    access_token: str | None = None
    catalog: str | None = None
    # snowflake and databricks: only for a local emulator
    protocol: Literal["http", "https"] | None = None
    population: Literal["all"] | PopulationSchemas | PopulationTables = "all"
    naming: NamingConfig = NamingConfig()
    latency: Duration | None = None
    sync: SyncConfig = SyncConfig()
    # every source call is bounded: opening a connection (08006 beyond it) and one statement,
    # from sending it to its last row (57014 beyond it; also sync's catalog reads)
    connect_timeout: Duration = Field(default=10.0, gt=0)
    statement_timeout: Duration = Field(default=300.0, gt=0)
    #: Statements running on this source at once; more wait in the source's own queue, so a
    #: slow or locked source cannot take every worker thread.
    max_concurrency: int = Field(default=16, ge=1, le=64)

    @model_validator(mode="after")
    def _required_keys(self) -> ConnectionConfig:
        foreign = sorted(
            key for key in self.model_fields_set
            if key in _SOURCE_KEYS and key not in _SOURCE_KEYS_BY_TYPE[self.type]
        )
        if foreign:
            raise ValueError(
                f"{', '.join(f'`{k}`' for k in foreign)} {'is' if len(foreign) == 1 else 'are'} not a setting "
                f"of a {self.type} connection (it takes {', '.join(sorted(_SOURCE_KEYS_BY_TYPE[self.type]))})"
            )
        if self.type == "duckdb" and self.path is None:
            raise ValueError("a duckdb connection needs `path` (the database file)")
        if self.type == "postgres" and not (self.host and self.database):
            raise ValueError("a postgres connection needs `host` and `database`")
        if self.type == "snowflake" and not (self.account and self.user):
            raise ValueError("a snowflake connection needs `account` and `user`")
        if self.type == "snowflake" and not (self.password or self.private_key_file):
            raise ValueError("a snowflake connection needs `password` or `private_key_file`")
        if self.type == "databricks" and not (
            self.server_hostname and self.http_path and self.access_token
        ):
            raise ValueError(
                "a databricks connection needs `server_hostname`, `http_path` and `access_token`"
            )
        return self


class TableConfig(Strict):
    latency: Duration | None = None
    event_time: str | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)
    table_tags: list[str] = Field(default_factory=list)


class DiscoveryConfig(Strict):
    """Sensitive data discovery: a column is tagged when at least ``threshold`` of its sampled
    non-null values are hits; each table is sampled with at most ``sample_rows`` rows."""

    threshold: float = Field(default=0.9, gt=0, le=1)
    sample_rows: int = Field(default=10_000, ge=10, le=1_000_000)
    on_sync: bool = True  # discover the tables and columns each object sync finds


class UserConfig(Strict):
    password: str | None = None
    groups: list[str] = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)
    admin: bool = False

    @field_validator("password")
    @classmethod
    def _verifier_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("SCRAM-SHA-256$") or (value.startswith("md5") and len(value) == 35):
            return value
        raise ValueError(
            "password must be a SCRAM-SHA-256 verifier (run `veil passwd`) or an md5 hash, "
            "never plain text"
        )


class Principals(Strict):
    """Selects users by name, group or attribute (any match selects)."""

    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)


class Subscription(Strict):
    """Grants the tables matching ``tables`` globs or carrying one of ``table_tags``. Without
    either it grants every table; ``table_tags`` alone grants only the tagged tables (fail
    closed: the ``tables`` default must not silently grant the rest)."""

    tables: list[str] = Field(default_factory=lambda: ["*"])
    table_tags: list[str] = Field(default_factory=list)
    allow: Principals | Literal["everyone"] = "everyone"

    @model_validator(mode="before")
    @classmethod
    def _tags_alone_select_by_tag(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("table_tags") and "tables" not in data:
            return {**data, "tables": []}
        return data


MaskMethod = Literal[
    "hash", "null", "constant", "regex", "round", "year", "show_first", "show_last",
    "email_domain", "custom",
]


class PolicyTarget(Strict):
    """Which tables a policy covers: globs on ``connection.schema.table`` or ``schema.table``,
    and/or table tags. Empty means every table."""

    tables: list[str] = Field(default_factory=list)
    table_tags: list[str] = Field(default_factory=list)


class Audience(Strict):
    """``for:`` (only these users) and ``except:`` (everyone but these users)."""

    for_: Principals | None = Field(default=None, alias="for")
    except_: Principals | None = Field(default=None, alias="except")


class MaskPolicy(PolicyTarget, Audience):
    column_tags: list[str] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list)
    with_: MaskMethod = Field(alias="with")
    value: str | None = None
    pattern: str | None = None
    replacement: str = ""
    digits: int = 0
    unit: Literal["year", "month", "week", "day", "hour", "minute"] | None = None
    n: int = Field(default=4, ge=0)
    sql: str | None = None
    where: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> MaskPolicy:
        if not (self.column_tags or self.columns):
            raise ValueError("a mask needs `column_tags` or `columns`")
        if self.with_ == "constant" and self.value is None:
            raise ValueError("`with: constant` needs `value`")
        if self.with_ == "regex" and self.pattern is None:
            raise ValueError("`with: regex` needs `pattern` (and optionally `replacement`)")
        if self.with_ == "custom" and not self.sql:
            raise ValueError("`with: custom` needs `sql`, an expression over the column `@column`")
        return self


class RowFilterPolicy(PolicyTarget, Audience):
    where: str


class TimeWindowPolicy(PolicyTarget, Audience):
    last: Duration


class MinimizePolicy(PolicyTarget, Audience):
    """Only a deterministic ``percent`` of rows, chosen by a keyed hash of the ``key`` columns
    (all columns when empty), so every query sees the same rows."""

    percent: float = Field(gt=0, le=100)
    key: list[str] = Field(default_factory=list)


class PolicyConfig(Strict):
    """One policy: exactly one of subscription, mask, row_filter, time_window, minimize."""

    name: str
    subscription: Subscription | None = None
    mask: MaskPolicy | None = None
    row_filter: RowFilterPolicy | None = None
    time_window: TimeWindowPolicy | None = None
    minimize: MinimizePolicy | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PolicyConfig:
        kinds = [
            k
            for k in ("subscription", "mask", "row_filter", "time_window", "minimize")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a policy needs exactly one of subscription, mask, row_filter, time_window, minimize"
            )
        return self


class VeilConfig(Strict):
    server: ServerConfig = ServerConfig()
    state_dir: Path = Path(".veil")
    cache: CacheConfig = CacheConfig()
    engine: EngineConfig = EngineConfig()
    audit: AuditConfig = AuditConfig()
    secrets: SecretsConfig = SecretsConfig()
    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)
    tables: dict[str, TableConfig] = Field(default_factory=dict)
    discovery: DiscoveryConfig = DiscoveryConfig()
    users: dict[str, UserConfig] = Field(default_factory=dict)
    policies: list[PolicyConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hash_key_for_hash_masks(self) -> VeilConfig:
        if self.secrets.hash_key is None and any(p.mask and p.mask.with_ == "hash" for p in self.policies):
            raise ValueError("secrets.hash_key is required by hash masks (set it, e.g. from ${VEIL_HASH_KEY})")
        return self

    @field_validator("connections")
    @classmethod
    def _connection_names(cls, value: dict[str, ConnectionConfig]) -> dict[str, ConnectionConfig]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"connection name {name!r} must be an identifier")
        return value
