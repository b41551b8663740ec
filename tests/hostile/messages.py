"""Hypothesis strategies for any protobuf request message, built from its descriptor: every
field filled (or not) with values of its type, among them the ones that reach deep into a
handler (the names of a real policy, alert and reveal request) and the ones that break naive
code (empty, huge, negative, NUL, non-ASCII, out-of-range timestamps, unknown enum numbers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

_INT32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 2**31 - 1]))
_INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1, -1, 10**12]))
_UINT32 = st.integers(0, 2**32 - 1)
_UINT64 = st.integers(0, 2**64 - 1)

SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_INT32: _INT32, FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32, FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64, FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT32: _UINT32, FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_UINT64: _UINT64, FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_DOUBLE: st.floats(), FieldDescriptor.TYPE_FLOAT: st.floats(width=32),
}

_ODD_TEXT = ["", " ", "\x00", "a" * 300, "../../etc/passwd", "2026-11-01", "0000-00-00",
             "9999-12-31", "2026-02-30", "\u202e", "🙂", "=cmd|' /C calc'!A0", "policies/",
             "alerts/", "revealRequests/", "policies/x/versions/1", "-1", "1e9", "%s%n",
             "voprf:0000000000000000", "huurachterstand", "wgs-vroegsignalering",
             "wams-gecoordineerde-aanpak", "resolved", "multiple_problems_suspected"]


def messages(message: type[Message], known: Sequence[str] = (), depth: int = 0
             ) -> st.SearchStrategy[Message]:
    """Messages of type `message`; `known` are strings worth trying (real resource names)."""
    descriptor: Descriptor = message.DESCRIPTOR
    fields = {f.name: _field(f, message, known, depth) for f in descriptor.fields}
    return st.fixed_dictionaries({}, optional=fields).map(lambda values: _build(message, values))


def _text(known: Sequence[str]) -> st.SearchStrategy[str]:
    choices = [st.text(max_size=40), st.sampled_from(_ODD_TEXT)]
    if known:
        choices.append(st.sampled_from(list(known)))
    return st.one_of(*choices)


def _field(field: FieldDescriptor, parent: type[Message], known: Sequence[str], depth: int
           ) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        return st.dictionaries(_text(known), _text(known), max_size=3)
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if depth >= 3:
            return st.nothing()
        child = _message_class(parent, field)
        one = messages(child, known, depth + 1)
    elif field.type == FieldDescriptor.TYPE_STRING:
        one = _text(known)
    elif field.type == FieldDescriptor.TYPE_BYTES:
        one = st.one_of(st.binary(max_size=80), st.binary(min_size=64, max_size=64),
                        st.binary(min_size=32, max_size=32))
    elif field.type == FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        one = st.one_of(st.sampled_from(numbers), st.integers(-3, max(numbers) + 5))
    else:
        one = SCALARS[field.type]
    if field.is_repeated:
        return st.lists(one, max_size=3)
    return one


def _message_class(parent: type[Message], field: FieldDescriptor) -> type[Message]:
    del parent
    return GetMessageClass(field.message_type)


def _build(message: type[Message], values: dict[str, Any]) -> Message:
    out = message()
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(out, name)
        if isinstance(value, dict):
            target.update(value)
        elif field.is_repeated:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            target.CopyFrom(value)
        else:
            setattr(out, name, value)
    return out
