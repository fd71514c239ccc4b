"""Read ``veil.yaml``: YAML → ``${ENV}`` expansion → validated :class:`VeilConfig`.

Every problem is reported with its YAML path (``users.alice.password``) and all problems are
reported at once; nothing is half-applied.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from veil.config.models import VeilConfig, is_file_option
from veil.errors import ConfigError

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string, recursively."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            problems.append((path or "<root>", f"environment variable {name} is not set"))
            return ""

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def _yaml_path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text or "<root>"


def parse_config(data: Any, base_dir: Path | None = None) -> VeilConfig:
    """Validate an already-parsed YAML document."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([("<root>", "the configuration must be a mapping")])
    problems: list[tuple[str, str]] = []
    expanded = _expand(data, "", problems)
    if problems:
        raise ConfigError(problems)
    try:
        config = VeilConfig.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(
            [(_yaml_path(error["loc"]), error["msg"].removeprefix("Value error, ")) for error in exc.errors()]
        ) from None
    return _resolve_paths(config, base_dir) if base_dir else config


def _resolve_paths(config: VeilConfig, base_dir: Path) -> VeilConfig:
    """Relative file paths in the config are relative to the config file, not the cwd."""

    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else (base_dir / path).resolve()

    connections = {
        name: conn.model_copy(
            update={
                key: resolve(Path(value))
                for key, value in conn.options.items()
                if is_file_option(key) and isinstance(value, str | Path)
            }
        )
        for name, conn in config.connections.items()
    }
    server = config.server
    if server.tls:
        server = server.model_copy(
            update={"tls": server.tls.model_copy(update={"cert": resolve(server.tls.cert), "key": resolve(server.tls.key)})}
        )
    state_dir = resolve(config.state_dir)
    audit = config.audit.model_copy(
        update={"path": resolve(config.audit.path) if config.audit.path else state_dir / "audit.jsonl"}
    )
    engine = config.engine
    if engine.temp_directory is not None:
        engine = engine.model_copy(update={"temp_directory": resolve(engine.temp_directory)})
    return config.model_copy(
        update={
            "connections": connections,
            "server": server,
            "engine": engine,
            "audit": audit,
            "state_dir": state_dir,
        }
    )


def load_config(path: str | Path) -> VeilConfig:
    """Load and validate a config file."""
    file = Path(path)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise ConfigError([("<file>", f"cannot read {file}: {exc.strerror}")]) from None
    return load_config_bytes(content, file)


def load_config_bytes(content: bytes, file: Path) -> VeilConfig:
    """Validate the content of a config file as read once (hot reload parses exactly the bytes
    it saw stay unchanged). An empty file, or one with only comments, is invalid: applying it
    would serve nobody's policies."""
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([("<file>", f"{file} is not UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        raise ConfigError([(where, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if data is None:
        raise ConfigError([("<file>", "the file is empty: a configuration needs at least its users and connections")])
    return parse_config(data, file.resolve().parent)
