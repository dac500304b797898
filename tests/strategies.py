"""Hypothesis strategies derived from the vocabulary's own type information.

``events_of(cls)`` builds arbitrary valid instances of any event or object
class by walking ``msgspec.inspect`` type info, so every field of every event
is covered without writing a strategy per class.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

from rtcore.events import UNSET

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _strategy(t: mi.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.StructType):
        return _struct_strategy(t.cls)
    if isinstance(t, mi.UnionType):
        return st.one_of([_strategy(m) for m in t.types])
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.StrType):
        return st.text(max_size=30)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.IntType):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if isinstance(t, mi.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.BytesType):
        return st.binary(max_size=64)
    if isinstance(t, (mi.VarTupleType, mi.ListType)):
        return st.lists(_strategy(t.item_type), max_size=3).map(tuple)
    if isinstance(t, mi.DictType):
        return st.dictionaries(st.text(max_size=8), _strategy(t.value_type), max_size=3)
    if isinstance(t, mi.AnyType):
        return JSON_VALUES
    raise NotImplementedError(repr(t))


@cache
def _struct_strategy(cls: type) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for field in info.fields:
        value = st.deferred(lambda t=field.type: _strategy(t))
        kwargs[field.name] = value if field.required else st.one_of(st.just(UNSET), value)
    return st.builds(cls, **kwargs)


def events_of(cls: type) -> st.SearchStrategy[Any]:
    """Arbitrary valid instances of an event (or object) class."""
    return _struct_strategy(cls)
