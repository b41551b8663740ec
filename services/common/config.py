"""Loading a service's YAML configuration with errors a human can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message says where."""


def load_yaml_config(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{path}{where}: not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def require(data: dict[str, Any], key: str, source: Path, kind: type = str) -> Any:
    """Fetch a required setting, naming the file and key when it is missing or mistyped."""
    if key not in data:
        raise ConfigError(f"{source}: missing required setting `{key}`")
    value = data[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{source}: setting `{key}` must be a {kind.__name__}")
    return value


def resolve_path(value: str, source: Path) -> Path:
    """Paths in a config file are relative to the file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (Path(source).parent / path).resolve()
