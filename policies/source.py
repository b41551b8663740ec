"""Read a policy YAML file into plain JSON values, remembering the line of every field.

Policy files are read with a restricted YAML loader:

- dates stay strings (`2025-01-01`), so what is signed is exactly the text the officer wrote and
  the document is plain JSON (RFC 8785 canonicalisation needs that);
- duplicate keys are an error (PyYAML would silently keep the last one, so a reader and the
  matcher could see different policies);
- mapping keys must be strings; merge keys (`<<`) and custom tags are refused;
- plain scalars that YAML 1.1 (PyYAML) and YAML 1.2 read differently are refused with their
  line and the fix: `060`, `1:30`, `0x3C`, `1_000`, `yes`/`no`/`on`/`off`, fractions
  (`policies.yaml_scalars`). What is left reads the same under both versions;
- more than 10,000 values with aliases written out (billion laughs), a recursive alias, nesting
  deeper than 32 and documents over 1 MiB are refused (`domain.safe_yaml`, ADR 0028).

This is the officers' YAML reader: the CLI, the matcher and the gateways all read policies
through `parse_yaml`, so every party sees the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from domain.safe_yaml import MAX_YAML_BYTES, SafeLoader
from domain.text_files import TextInputError, read_utf8
from policies.errors import PolicySyntaxError
from policies.yaml_scalars import plain_scalar_problem

Path_ = tuple[str | int, ...]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _PolicyLoader(SafeLoader):
    """The limited SafeLoader (domain.safe_yaml) without the implicit timestamp resolver."""

    max_nodes = 10_000  # a policy holds a few hundred values; the line table walks them all


_PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


@dataclass(frozen=True)
class SourceDocument:
    """A parsed policy file: the document as JSON values, and the 1-based line of each path."""

    document: dict[str, Any]
    lines: Mapping[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def parse_yaml(text: str) -> SourceDocument:
    """Parse policy YAML text. Raises `PolicySyntaxError` with the line of the problem."""
    try:
        loader = _PolicyLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicySyntaxError(f"not valid YAML: {exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise PolicySyntaxError(f"not valid YAML: {exc}") from exc
    if node is None:
        raise PolicySyntaxError("the file is empty; start from `samenloop policy new`", 1)
    if not isinstance(node, yaml.MappingNode):
        raise PolicySyntaxError(
            "a policy is a YAML mapping of fields (id:, version:, ...)", node.start_mark.line + 1
        )
    lines: dict[Path_, int] = {}
    try:
        document = _build(node, (), lines, _PolicyLoader(""))
    except yaml.MarkedYAMLError as exc:  # a value that does not fit its tag (`!!int zwei`)
        mark = exc.problem_mark or exc.context_mark
        raise PolicySyntaxError(f"not valid YAML: {exc.problem or exc}",
                                mark.line + 1 if mark is not None else None) from None
    assert isinstance(document, dict)
    return SourceDocument(document=document, lines=lines)


def read_policy_file(path: str | Path) -> SourceDocument:
    """Read and parse a policy file (UTF-8, at most 1 MiB)."""
    p = Path(path)
    try:
        text = read_utf8(p, max_bytes=MAX_YAML_BYTES)
    except FileNotFoundError as exc:
        raise PolicySyntaxError(f"{p}: no such file") from exc
    except TextInputError as exc:
        raise PolicySyntaxError(f"{p}: {exc}", exc.line) from None
    except OSError as exc:
        raise PolicySyntaxError(f"{p}: cannot read the file ({exc.strerror})") from None
    return parse_yaml(text)


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int], ctor: yaml.SafeLoader) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            _check_plain(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise PolicySyntaxError("merge keys (<<) are not allowed in a policy", line)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise PolicySyntaxError(
                    f"field names must be plain text, found {key_node.tag.rsplit(':', 1)[-1]}", line
                )
            key = str(key_node.value)
            if key in out:
                first = lines.get((*path, key))
                raise PolicySyntaxError(
                    f"field {key!r} appears twice (first on line {first}); keep one", line
                )
            lines[(*path, key)] = line
            out[key] = _build(value_node, (*path, key), lines, ctor)
            lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, ctor) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    _check_plain(node)
    if node.tag not in _SCALAR_TAGS:
        raise PolicySyntaxError(
            f"YAML tag {node.tag!r} is not allowed in a policy", node.start_mark.line + 1
        )
    return ctor.construct_object(node, deep=True)


def _check_plain(node: yaml.Node) -> None:
    """Refuse a plain scalar that YAML 1.1 and 1.2 read differently (see the module doc)."""
    if isinstance(node, yaml.ScalarNode) and node.style is None:
        problem = plain_scalar_problem(str(node.value))
        if problem is not None:
            raise PolicySyntaxError(problem, node.start_mark.line + 1)
