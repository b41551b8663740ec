"""The one YAML loader for files people hand samenloop: policies, configurations, mappings,
trust files, the catalogue and the code lists (ADR 0028).

PyYAML's SafeLoader constructs no objects, but it still expands aliases: nine lines of
`&a [*b, *b, ...]` ("billion laughs") name 10^9 values, and every walk over the document (the
policy reader's line table, RFC 8785 canonicalisation, JSON Schema validation) runs out of
memory. It also composes nodes recursively, so `[[[[...` ten thousand deep ends in a
RecursionError traceback. None of our files needs either, so `SafeLoader` here refuses:

- anchors (`&name`) and aliases (`*name`): write the value out;
- nesting deeper than `MAX_DEPTH` mappings and lists;
- documents larger than `MAX_YAML_BYTES` (a policy is a few kB; a hundred-megabyte "policy"
  only keeps a pure-Python parser busy for minutes).

Each refusal is a `yaml.MarkedYAMLError` with the line where it is known, so every reader's
existing handling of YAML errors names the file and the line.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_YAML_BYTES", "SafeLoader", "YamlLimitError", "check_size",
           "compose", "safe_load"]

MAX_YAML_BYTES = 1024 * 1024
"""The largest YAML document read (characters of text, or bytes)."""

MAX_DEPTH = 32
"""Mappings and lists nested deeper than this are refused (a policy nests five deep)."""


class YamlLimitError(yaml.composer.ComposerError):
    """The document uses an anchor or alias, nests too deep, or is too large."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class SafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` without anchors, aliases or deep nesting (see the module doc)."""

    def __init__(self, stream: str | bytes) -> None:
        check_size(stream)
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlLimitError(
                f"aliases (*{event.anchor}) are not allowed here; write the value out",
                event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlLimitError(
                f"anchors (&{anchor}) are not allowed here; write the value out",
                event.start_mark)
        nested = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if nested:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(
                    f"mappings and lists are nested more than {MAX_DEPTH} deep",
                    event.start_mark)
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            if nested:
                self._depth -= 1


def check_size(stream: str | bytes) -> None:
    """Raise `YamlLimitError` if `stream` is larger than `MAX_YAML_BYTES`."""
    if len(stream) > MAX_YAML_BYTES:
        raise YamlLimitError(
            f"the document is larger than {MAX_YAML_BYTES // 1024} KiB; a policy, mapping or "
            "configuration is a few kB")


def compose(stream: str | bytes) -> yaml.Node | None:
    """The document's node tree (None for an empty document)."""
    loader = SafeLoader(stream)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def safe_load(stream: str | bytes) -> Any:
    """Like `yaml.safe_load`, with the limits of this module."""
    loader = SafeLoader(stream)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
