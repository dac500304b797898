"""How deep a decoded value's JSON can nest, read from its type, and which values to measure.

The codec refuses a message nested deeper than ``MAX_NESTING_DEPTH``
(``rtcore.events.explain``). msgspec builds a typed event only as deep as its
class's schema allows, so a message whose class bounds its depth within the
limit needs no measuring after a successful typed decode (``_schema_depth``).
A class holding free-form JSON (``Any``, a dict of it: tool parameters, an MCP
tool's ``input_schema``) does not bound it; but one decoded event of it holds
such a value only when the field is there, and the test of that
(``_holds_free_form``) is a few attribute reads: a GA item event carrying a
message, not an ``mcp_list_tools`` item, is then bounded by its schema without
the free-form fields (``_schema_depth(..., free_form_absent=True)``), like any
other event. The codec measures the message whenever the test is true.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

import msgspec.inspect as mi

from ._base import UNSET
from .explain import MAX_NESTING_DEPTH

_SCALARS: Final = (
    mi.NoneType,
    mi.BoolType,
    mi.IntType,
    mi.FloatType,
    mi.StrType,
    mi.BytesType,
    mi.ByteArrayType,
    mi.MemoryViewType,
    mi.LiteralType,
    mi.EnumType,
)


def _schema_depth(
    info: mi.Type, seen: frozenset[int] = frozenset(), *, free_form_absent: bool = False
) -> int | None:
    """How deep a JSON value of this type can nest, or ``None`` when without bound.

    Free-form values (``Any``, a dict of them), types that refer to themselves,
    structs that accept (and skip) unknown fields, and any type not listed here
    are unbounded: the decoder may accept a value nested arbitrarily deep. With
    ``free_form_absent``, the depth of the values that hold no free-form value
    (``_holds_free_form`` false): a struct field whose type is free-form counts as
    absent, everything else as above.
    """
    if isinstance(info, _SCALARS):
        return 0
    if isinstance(info, mi.Metadata):
        return _schema_depth(info.type, seen, free_form_absent=free_form_absent)
    if isinstance(info, mi.UnionType):
        depths = [_schema_depth(t, seen, free_form_absent=free_form_absent) for t in info.types]
        return None if None in depths else max(d for d in depths if d is not None)
    if isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        inner = _schema_depth(info.item_type, seen, free_form_absent=free_form_absent)
        return None if inner is None else inner + 1
    if isinstance(info, mi.TupleType):
        depths = [
            _schema_depth(t, seen, free_form_absent=free_form_absent) for t in info.item_types
        ]
        return None if None in depths else 1 + max((d for d in depths if d is not None), default=0)
    if isinstance(info, mi.DictType):
        inner = _schema_depth(info.value_type, seen, free_form_absent=free_form_absent)
        return None if inner is None else inner + 1
    if isinstance(info, mi.StructType):
        if not info.forbid_unknown_fields or id(info.cls) in seen:
            return None
        inside = seen | {id(info.cls)}
        depths = []
        for f in info.fields:
            depth = _schema_depth(f.type, inside, free_form_absent=free_form_absent)
            if depth is None and free_form_absent and _holds_free_form(f.type) is _PRESENT:
                depth = 0  # a free-form field: when the test is false, it is not there
            depths.append(depth)
        if None in depths:
            return None
        deepest = 1 + max((d for d in depths if d is not None), default=0)
        return deepest if deepest <= MAX_NESTING_DEPTH else None
    return None


def _present(value: Any) -> bool:
    """A free-form field's value was decoded: measure the message (``null`` nests nothing)."""
    return value is not None and value is not UNSET


_PRESENT: Final = _present


def _always(event: Any) -> bool:
    return True


_ALWAYS: Final = _always


def _holds_free_form(
    info: mi.Type, seen: frozenset[type] = frozenset()
) -> Callable[[Any], bool] | None:
    """A test of a decoded value of this type: does it hold a free-form value (one whose
    nesting its type does not bound)? ``None`` when no value of the type can.

    The test follows the type: a struct's fields, a union's member by the value's class,
    a sequence's elements; a value of a free-form type (``Any``, a dict of them, a struct
    that skips unknown fields or refers to itself) that is present (neither unset nor
    ``null``) holds one. ``_schema_depth(..., free_form_absent=True)`` bounds the rest.
    """
    if _schema_depth(info) is not None:
        return None
    if isinstance(info, mi.Metadata):
        return _holds_free_form(info.type, seen)
    if isinstance(info, mi.UnionType):
        tests: dict[type, Callable[[Any], bool] | None] = {}
        fallback: Callable[[Any], bool] | None = None
        for member in info.types:
            if isinstance(member, mi.StructType) and member.forbid_unknown_fields:
                tests[member.cls] = _holds_free_form(member, seen)
            elif _schema_depth(member) is None:
                fallback = _PRESENT  # a free-form member: any value not of a listed struct
        if not tests:
            return fallback

        def in_union(value: Any) -> bool:
            kind = type(value)
            if kind in tests:
                test = tests[kind]
                return test is not None and test(value)
            return fallback is not None and fallback(value)

        return in_union
    if isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        element = _holds_free_form(info.item_type, seen)
        if element is None or element is _PRESENT:
            return _PRESENT
        each = element

        def in_sequence(value: Any) -> bool:
            if value is None or value is UNSET:
                return False
            for x in value:
                if each(x):
                    return True
            return False

        return in_sequence
    if isinstance(info, mi.StructType) and info.forbid_unknown_fields and info.cls not in seen:
        inside = seen | {info.cls}
        fields = [
            (attrgetter(f.name), test)
            for f in info.fields
            if (test := _holds_free_form(f.type, inside)) is not None
        ]
        if not fields:
            return _PRESENT  # too deep by itself: measured whenever one is there

        def in_fields(value: Any) -> bool:
            if value is None or value is UNSET:
                return False
            for get, test in fields:
                if test(get(value)):
                    return True
            return False

        return in_fields
    return _PRESENT
