"""Session settings (GUCs): SET, RESET, SHOW and the ParameterStatus reports drivers rely on.

Values are kept as PostgreSQL prints them. Settings are answered locally and never reach a
source; the few that change how Veil behaves (TimeZone, search_path, application_name) are read
by the engine and the wire front end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil import errcodes, timezones
from veil.errors import InvalidParameterValue

SERVER_VERSION = "15.8"
SERVER_VERSION_NUM = "150008"

# Canonical spelling of every setting Veil knows, with PostgreSQL 15's default value.
DEFAULTS: dict[str, str] = {
    "application_name": "",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
    "client_min_messages": "notice",
    "DateStyle": "ISO, MDY",
    "default_transaction_isolation": "read committed",
    "default_transaction_read_only": "off",
    "extra_float_digits": "1",
    "idle_in_transaction_session_timeout": "0",
    "in_hot_standby": "off",
    "integer_datetimes": "on",
    "IntervalStyle": "postgres",
    "is_superuser": "off",
    "jit": "off",
    "lc_collate": "C.UTF-8",
    "lc_ctype": "C.UTF-8",
    "lc_messages": "C.UTF-8",
    "lc_monetary": "C.UTF-8",
    "lc_numeric": "C.UTF-8",
    "lc_time": "C.UTF-8",
    "lock_timeout": "0",
    "max_identifier_length": "63",
    "max_index_keys": "32",
    "row_security": "on",
    "search_path": '"$user", public',
    "server_encoding": "UTF8",
    "server_version": SERVER_VERSION,
    "server_version_num": SERVER_VERSION_NUM,
    "session_authorization": "",
    "standard_conforming_strings": "on",
    "statement_timeout": "0",
    "synchronous_commit": "on",
    "TimeZone": "UTC",
    "transaction_isolation": "read committed",
    "transaction_read_only": "off",
    "transaction_deferrable": "off",
    "xmloption": "content",
}

# Sent to the client as ParameterStatus at startup and whenever they change (PostgreSQL 15 list).
REPORTED = (
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
)

READ_ONLY = {
    "server_version",
    "server_version_num",
    "server_encoding",
    "integer_datetimes",
    "max_identifier_length",
    "max_index_keys",
    "lc_collate",
    "lc_ctype",
    "in_hot_standby",
    "is_superuser",
    "session_authorization",
    "transaction_isolation",
    "transaction_read_only",
}

_CANONICAL = {name.lower(): name for name in DEFAULTS}
_ALIASES = {"timezone": "TimeZone", "datestyle": "DateStyle", "intervalstyle": "IntervalStyle"}


def canonical_name(name: str) -> str | None:
    lowered = name.lower()
    return _ALIASES.get(lowered) or _CANONICAL.get(lowered)


def _normalize(name: str, value: str) -> str:
    if name == "client_encoding":
        if value.upper().replace("-", "") not in ("UTF8", "UNICODE"):
            raise errcodes.InvalidParameterValue(f'Veil only supports client_encoding UTF8, not "{value}"')
        return "UTF8"
    if name == "TimeZone":
        return timezones.normalize(value)
    if name == "DateStyle":
        upper = value.upper()
        if "ISO" not in upper:
            raise InvalidParameterValue(f'Veil only supports DateStyle ISO, not "{value}"')
        order = "DMY" if "DMY" in upper else "YMD" if "YMD" in upper else "MDY"
        return f"ISO, {order}"
    if name == "IntervalStyle" and value.lower() != "postgres":
        raise InvalidParameterValue(f'Veil only supports IntervalStyle postgres, not "{value}"')
    if name == "standard_conforming_strings" and value.lower() not in ("on", "true", "1"):
        raise InvalidParameterValue("standard_conforming_strings cannot be turned off in Veil")
    return value


@dataclass
class Settings:
    """One session's settings, with SET LOCAL values undone at transaction end."""

    values: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    session_defaults: dict[str, str] = field(default_factory=dict)
    _transaction_undo: dict[str, str] = field(default_factory=dict)
    _changed_reported: set[str] = field(default_factory=set)

    @classmethod
    def for_session(cls, user: str, startup: dict[str, str], overrides: dict[str, str]) -> Settings:
        settings = cls()
        settings.values["session_authorization"] = user
        for name, value in {**overrides, **startup}.items():
            canonical = canonical_name(name)
            if canonical is not None and canonical not in READ_ONLY:
                settings.values[canonical] = _normalize(canonical, value)
            elif "." in name:
                settings.values[name.lower()] = value
        settings.session_defaults = dict(settings.values)
        settings._changed_reported.clear()
        return settings

    def get(self, name: str) -> str:
        if name.lower() == "all":
            raise InvalidParameterValue("SHOW ALL is answered by show_all()")
        canonical = canonical_name(name) or name.lower()
        if canonical not in self.values:
            raise errcodes.UndefinedObject(f'unrecognized configuration parameter "{name}"')
        return self.values[canonical]

    def get_or_none(self, name: str) -> str | None:
        canonical = canonical_name(name) or name.lower()
        return self.values.get(canonical)

    def set(self, name: str, value: str | None, *, local: bool = False) -> None:
        canonical = canonical_name(name)
        if canonical is None:
            if "." not in name:
                raise errcodes.UndefinedObject(f'unrecognized configuration parameter "{name}"')
            canonical = name.lower()
        if canonical in READ_ONLY:
            raise errcodes.CantChangeRuntimeParam(f'parameter "{canonical}" cannot be changed')
        new = self.session_defaults.get(canonical, DEFAULTS.get(canonical, "")) if value is None else _normalize(canonical, value)
        if local and canonical not in self._transaction_undo:
            self._transaction_undo[canonical] = self.values.get(canonical, "")
        self._assign(canonical, new)

    def reset_all(self) -> None:
        for name, value in self.session_defaults.items():
            if self.values.get(name) != value:
                self._assign(name, value)
        for name in [n for n in self.values if n not in self.session_defaults]:
            del self.values[name]

    def end_transaction(self) -> None:
        for name, value in self._transaction_undo.items():
            self._assign(name, value)
        self._transaction_undo.clear()

    def _assign(self, name: str, value: str) -> None:
        if self.values.get(name) != value and name in REPORTED:
            self._changed_reported.add(name)
        self.values[name] = value

    def take_reported_changes(self) -> dict[str, str]:
        changed = {name: self.values[name] for name in sorted(self._changed_reported)}
        self._changed_reported.clear()
        return changed

    def show_all(self) -> list[tuple[str, str, str]]:
        return [(name, value, "") for name, value in sorted(self.values.items(), key=lambda i: i[0].lower())]

    def search_path(self, user: str) -> tuple[str, ...]:
        schemas = []
        for part in self.values["search_path"].split(","):
            name = part.strip().strip('"')
            if name == "$user":
                name = user
            if name:
                schemas.append(name)
        return tuple(schemas)
