"""The one YAML loader for files people hand samenloop: policies, configurations, mappings,
trust files, the catalogue and the code lists (ADR 0028).

PyYAML's SafeLoader constructs no objects, but it expands aliases: nine lines of
`&a [*b, *b, ...]` ("billion laughs") name 10^9 values, and every walk over the document (the
policy reader's line table, RFC 8785 canonicalisation, JSON Schema validation) runs out of
memory; an alias inside its own anchor (`&a [*a]`) never ends. PyYAML also composes nodes
recursively, so `[[[[...` ten thousand deep ends in a RecursionError traceback.

Anchors and aliases are ordinary YAML (PyYAML's own dumper writes them for a value used twice,
and a configuration may share one quota between organisations), so they are allowed, within
limits. `SafeLoader` here counts, while it composes, how large and how deep the document would
be with every alias written out, and refuses:

- more than `MAX_NODES` values after expansion (billion laughs);
- an alias that refers to a node containing it (a recursive document);
- nesting deeper than `MAX_DEPTH` mappings and lists, counted through aliases;
- documents larger than `MAX_YAML_BYTES` (a policy is a few kB; a hundred-megabyte "policy"
  only keeps a pure-Python parser busy for minutes);
- control characters, with their line (PyYAML says "position 4711" over two lines);
- a value that does not fit its tag (`!!int zwei`, a date `2026-13-45`), with its line, where
  PyYAML raised a bare ValueError.

Each refusal is a `yaml.MarkedYAMLError` with the line where it is known, so every reader's
existing handling of YAML errors names the file and the line.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_YAML_BYTES", "SafeLoader", "YamlRefused",
           "check_size", "compose", "safe_load"]

MAX_YAML_BYTES = 1024 * 1024
"""The largest YAML document read (characters of text, or bytes)."""

MAX_DEPTH = 32
"""Mappings and lists nested deeper than this are refused (a policy nests five deep)."""

MAX_NODES = 100_000
"""The most values (scalars, lists, mappings) a document may hold with its aliases expanded
(a trust file of 7,000 officers; a policy reader lowers it with `SafeLoader.max_nodes`)."""


class YamlRefused(yaml.composer.ComposerError):
    """The document is too large, too deep, recursive (with its aliases expanded), or holds a
    character YAML does not allow."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class SafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` within the limits of this module (see the module doc)."""

    max_nodes = MAX_NODES

    def __init__(self, stream: str) -> None:
        check_size(stream)
        _check_characters(stream)
        super().__init__(stream)
        self._depth = 0
        self._expanded: dict[int, tuple[int, int]] = {}
        """id(node) -> (values, height) with aliases expanded, once the node is complete."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            facts = self._expanded.get(id(node))
            if facts is None:
                raise YamlRefused(
                    f"the alias *{event.anchor} refers to a value that contains it; a "
                    "document cannot contain itself", event.start_mark)
            if self._depth + facts[1] > MAX_DEPTH:
                raise YamlRefused(
                    f"with the alias *{event.anchor} written out, mappings and lists are "
                    f"nested more than {MAX_DEPTH} deep", event.start_mark)
            return node
        nested = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if nested:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise YamlRefused(
                    f"mappings and lists are nested more than {MAX_DEPTH} deep",
                    event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1
        assert node is not None  # composing an event that is not an alias gives a node
        self._expanded[id(node)] = facts = self._count(node)
        if facts[0] > self.max_nodes:
            raise YamlRefused(
                f"with its aliases written out the document holds more than {self.max_nodes:,} "
                "values (an alias expansion bomb?); write the values out or use fewer aliases",
                node.start_mark)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's constructors raise ValueError, KeyError, TypeError, AttributeError... on a
        value that does not fit its tag (`!!int zwei`, `!!bool maybe`, an empty `!!timestamp`,
        the implicit date `2026-13-45`): a traceback in every reader (found by fuzzing). Here
        it is a `YamlRefused` with the value's line."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception:  # whatever a constructor raises on a value it cannot build
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise YamlRefused(f"the value cannot be read as {kind}; quote it to keep it as text",
                              node.start_mark) from None

    def _count(self, node: yaml.Node) -> tuple[int, int]:
        if isinstance(node, yaml.MappingNode):
            children = [c for pair in node.value for c in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return 1, 0
        values, height = 1, 0
        for child in children:
            child_values, child_height = self._expanded[id(child)]
            values += child_values
            height = max(height, child_height)
        return values, height + 1


def _check_characters(text: str) -> None:
    """PyYAML's own refusal of a control character is a two-line message with an offset; this
    one names the line and the character."""
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if found is None:
        return
    index = found.start()
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    raise YamlRefused(
        f"the character U+{ord(text[index]):04X} (a control character) is not allowed in YAML; "
        "remove it", yaml.Mark("<text>", index, line, column, None, None))  # type: ignore[arg-type]


def check_size(stream: str | bytes) -> None:
    """Raise `YamlRefused` if `stream` is larger than `MAX_YAML_BYTES`."""
    if len(stream) > MAX_YAML_BYTES:
        raise YamlRefused(
            f"the document is larger than {MAX_YAML_BYTES // 1024} KiB; a policy, mapping or "
            "configuration is a few kB")


def compose(stream: str) -> yaml.Node | None:
    """The document's node tree (None for an empty document)."""
    loader = SafeLoader(stream)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def safe_load(stream: str) -> Any:
    """Like `yaml.safe_load`, with the limits of this module."""
    loader = SafeLoader(stream)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
