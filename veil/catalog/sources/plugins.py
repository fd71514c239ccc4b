"""The registry of source types: every :class:`SourcePlugin` Veil can open connections of.

Source types are plugins. A Python package adds one by naming its plugin object in the
``veil.sources`` entry-point group of its ``pyproject.toml``::

    [project.entry-points."veil.sources"]
    mytype = "my_package.plugin:PLUGIN"

after which ``connections.<name>.type: mytype`` opens connections through it; nothing in Veil
changes. Veil's own types (duckdb, postgres, snowflake, databricks) are declared the same way in
Veil's ``pyproject.toml``, and are also registered directly, so they are there even when Veil's
entry points are not installed (a source checkout on ``PYTHONPATH``). :func:`register` adds a
plugin from code (tests, embedding applications).

A plugin that fails to load is logged and left out; connections of its type then fail with the
reason. Two plugins claiming one type name: the first registered keeps it.

What depends on the SQL dialect rather than on the source (how SHA-256 is spelled, whether
``regexp_replace`` replaces every match, three-part names) is asked of :func:`for_dialect`: the
first plugin registered for a dialect speaks for it, so Veil's local engine (DuckDB) is answered
by the duckdb plugin.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from veil import errcodes
from veil.catalog.sources.base import Source, SourcePlugin
from veil.catalog.sources.databricks.plugin import PLUGIN as DATABRICKS
from veil.catalog.sources.duckdb.plugin import PLUGIN as DUCKDB
from veil.catalog.sources.postgres.plugin import PLUGIN as POSTGRES
from veil.catalog.sources.snowflake.plugin import PLUGIN as SNOWFLAKE
from veil.config.models import ConnectionConfig, VeilConfig
from veil.errors import ConfigError, FeatureNotSupported

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "veil.sources"
BUILT_IN: tuple[SourcePlugin[Any], ...] = (DUCKDB, POSTGRES, SNOWFLAKE, DATABRICKS)

_lock = threading.Lock()
_plugins: dict[str, SourcePlugin[Any]] = {}
_by_dialect: dict[str, SourcePlugin[Any]] = {}  # the first plugin registered for each dialect
_broken: dict[str, str] = {}  # type name -> why its plugin did not load
_discovered = False


def register(plugin: SourcePlugin[Any]) -> None:
    """Add a source type (a no-op for the plugin already registered under its name)."""
    with _lock:
        _add(plugin, "register()")


def unregister(name: str) -> None:
    """Remove a source type registered with :func:`register` (tests)."""
    with _lock:
        plugin = _plugins.pop(name, None)
        if plugin is not None and _by_dialect.get(plugin.dialect) is plugin:
            del _by_dialect[plugin.dialect]
            for other in _plugins.values():
                _by_dialect.setdefault(other.dialect, other)


def _add(plugin: object, origin: str) -> None:
    if not isinstance(plugin, SourcePlugin):
        raise TypeError(f"{origin}: {plugin!r} is not a SourcePlugin")
    held = _plugins.setdefault(plugin.name, plugin)
    _by_dialect.setdefault(held.dialect, held)
    if held is not plugin:
        log.error("source type %s from %s ignored: %s already registers it", plugin.name, origin, type(held).__name__)


def _discover() -> None:
    """Built-ins first, then the ``veil.sources`` entry points (once per process)."""
    global _discovered
    if _discovered:
        return
    with _lock:
        if _discovered:
            return
        for plugin in BUILT_IN:
            _add(plugin, "veil")
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = point.load()
                _add(loaded, f"entry point {point.value}")
            except Exception as exc:  # noqa: BLE001 - a broken third-party plugin must not stop Veil
                log.error("source type %s: cannot load plugin %s: %s", point.name, point.value, exc)
                _broken[point.name] = f"its plugin {point.value} did not load ({exc})"
        _discovered = True


def source_types() -> dict[str, SourcePlugin[Any]]:
    """Every registered source type by name."""
    _discover()
    with _lock:
        return dict(_plugins)


def find(type_name: str) -> SourcePlugin[Any] | None:
    _discover()
    return _plugins.get(type_name)


def _unknown(type_name: str) -> str:
    why = _broken.get(type_name)
    if why is not None:
        return f"source type {type_name!r} is not available: {why}"
    return f"unknown source type {type_name!r} (installed: {', '.join(sorted(source_types()))})"


def for_dialect(dialect: str) -> SourcePlugin[Any]:
    """The plugin speaking for SQL ``dialect`` (the first registered with it)."""
    _discover()
    plugin = _by_dialect.get(dialect)
    if plugin is not None:
        return plugin
    raise FeatureNotSupported(f"no source type writes SQL in the {dialect} dialect")


def connection_problems(name: str, connection: ConnectionConfig) -> list[tuple[str, str]]:
    """What is wrong with ``connections.<name>`` for its type, as (YAML path, message)."""
    where = f"connections.{name}"
    plugin = find(connection.type)
    if plugin is None:
        return [(f"{where}.type", _unknown(connection.type))]
    accepted = plugin.settings_model.model_fields
    foreign = sorted(key for key in connection.options if key not in accepted)
    if foreign:
        return [(where, f"{', '.join(f'`{k}`' for k in foreign)} {'is' if len(foreign) == 1 else 'are'} not a "
                        f"setting of a {plugin.name} connection (it takes {', '.join(sorted(accepted))})")]
    try:
        plugin.settings(connection)
    except ValidationError as exc:
        return [(".".join([where, *(str(p) for p in error["loc"])]), error["msg"].removeprefix("Value error, "))
                for error in exc.errors()]
    return []


def check_connections(config: VeilConfig) -> VeilConfig:
    """``config`` when every connection's type is installed and its keys are valid for it; else
    :class:`ConfigError` listing every problem with its YAML path."""
    problems = [p for name, conn in config.connections.items() for p in connection_problems(name, conn)]
    if problems:
        raise ConfigError(problems)
    return config


def open_source(name: str, connection: ConnectionConfig) -> Source:
    """Open connection ``name`` through its type's plugin (F0000 when its config is not valid
    for it: :func:`check_connections` reports the same problems when the config is loaded)."""
    plugin = find(connection.type)
    problems = connection_problems(name, connection)
    if plugin is None or problems:
        raise errcodes.ConfigFileError(f'connection "{name}": ' + "; ".join(f"{w}: {m}" for w, m in problems))
    return plugin.open(name, connection, plugin.settings(connection))


def fingerprint(connection: ConnectionConfig) -> str:
    """Where a connection points: its identity in the metadata store, together with its name.
    A connection whose type is not installed gets one that no installed type produces."""
    plugin = find(connection.type)
    try:
        return plugin.fingerprint(plugin.settings(connection)) if plugin is not None else f"{connection.type}:?"
    except ValidationError:
        return f"{connection.type}:?"


def dialect_of(connection: ConnectionConfig) -> str | None:
    """The SQL dialect of the connection's type; None when the type is not installed."""
    plugin = find(connection.type)
    return None if plugin is None else plugin.dialect
