"""Reading a service's YAML configuration file, remembering the line of every setting.

The typed models live in `services.common.settings`; this module only turns the file into plain
values (and the line each key is on, so an error can say `matcher.yaml:7`). Duplicate keys are
an error: PyYAML would silently keep the last one, and the operator would run on a value they
did not mean. Alias expansion bombs, recursive aliases, nesting deeper than 32 and files over
1 MiB are refused (`domain.safe_yaml`, ADR 0028).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from domain.safe_yaml import MAX_YAML_BYTES, SafeLoader
from domain.text_files import TextInputError, read_utf8

KeyPath = tuple[str, ...]


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message says where and what
    to do (one line per problem)."""


@dataclass(frozen=True)
class ConfigFile:
    """A parsed configuration file: its settings and the 1-based line of each key path."""

    path: Path
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key: KeyPath) -> int | None:
        """The line of `key`, or of its closest ancestor that has one."""
        for end in range(len(key), 0, -1):
            line = self.lines.get(key[:end])
            if line is not None:
                return line
        return None


def read_config_file(path: Path) -> ConfigFile:
    """Parse `path` as a YAML mapping. Raises `ConfigError` naming the file (and line)."""
    path = Path(path)
    try:
        text = read_utf8(path, max_bytes=MAX_YAML_BYTES)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such configuration file; write one (`samenloop pki dev-setup` writes "
            "examples) or fix the --config path") from None
    except TextInputError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise ConfigError(f"{path}{where}: cannot read the configuration ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    try:
        loader = SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({exc.problem or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if node is None:
        raise ConfigError(f"{path}: the file is empty; it needs a mapping of settings")
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: expected a mapping of settings "
                          "(key: value) at the top level")
    lines: dict[KeyPath, int] = {}
    scalars = SafeLoader("")
    try:
        data = _to_python(scalars, node, (), lines, path)
    except yaml.MarkedYAMLError as exc:  # a value its tag cannot construct (`!!int x`)
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({exc.problem or exc})") from None
    finally:
        scalars.dispose()
    assert isinstance(data, dict)
    return ConfigFile(path, data, lines)


def _to_python(scalars: SafeLoader, node: yaml.Node, where: KeyPath,
               lines: dict[KeyPath, int], path: Path) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(f"{path}:{line}: merge keys (<<) are not supported; write "
                                  "the settings out")
            key = scalars.construct_object(key_node) \
                if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise ConfigError(f"{path}:{line}: setting names are text")
            name = str(key)
            if name in out:
                dotted = ".".join((*where, name))
                raise ConfigError(f"{path}:{line}: `{dotted}` is set twice; keep one")
            lines[(*where, name)] = line
            out[name] = _to_python(scalars, value_node, (*where, name), lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(scalars, item, (*where, str(i)), lines, path)
                for i, item in enumerate(node.value)]
    return scalars.construct_object(node, deep=True)


def load_yaml_config(path: Path) -> dict[str, Any]:
    """The settings of a YAML configuration file as plain values."""
    return read_config_file(path).data


def resolve_path(value: str | Path, source: Path) -> Path:
    """Paths in a config file are relative to the file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (Path(source).parent / path).resolve()
