"""Hypothesis strategies for single events, derived from the vocabulary's own type information.

``events_of(cls)`` builds arbitrary valid instances of any event or object
class by walking ``msgspec.inspect`` type info, so every field of every event
is covered without writing a strategy per class; ``ga_server_events()`` and
``ga_client_events()`` do so for the GA vocabulary. ``json_objects(types)``
and ``mutations(messages)`` give invalid input: random objects with real field
names, and valid messages with random edits.
"""

from __future__ import annotations

__all__ = [
    "JSON_VALUES",
    "any_event",
    "events_of",
    "ga_client_events",
    "ga_server_events",
    "json_objects",
    "mutations",
]

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

from ..events import UNSET, ga
from ..events.beta import CLIENT_EVENT_TYPES, SERVER_EVENT_TYPES

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


def _deferred(t: mi.Type) -> st.SearchStrategy[Any]:
    """``t``'s strategy, built when first drawn (the vocabulary's types refer to each other)."""
    return st.deferred(lambda: _strategy(t))


@cache
def _struct_strategy(cls: type) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for field in info.fields:
        value = _deferred(field.type)
        kwargs[field.name] = value if field.required else st.one_of(st.just(UNSET), value)
    return st.builds(cls, **kwargs)


def events_of(cls: type) -> st.SearchStrategy[Any]:
    """Arbitrary valid instances of an event (or object) class."""
    return _struct_strategy(cls)


def any_event(classes: Iterable[type]) -> st.SearchStrategy[Any]:
    """Arbitrary valid instances of any of ``classes`` (in wire-type order, so shrinking is stable)."""
    ordered = sorted(classes, key=lambda c: (getattr(c, "type", ""), c.__module__))
    return st.one_of([events_of(c) for c in ordered])


def ga_server_events() -> st.SearchStrategy[Any]:
    """Any event the GA server decoder reads: the 46 GA events and the tolerated beta names."""
    return any_event(ga.SERVER_EVENT_TYPES + ga.TOLERATED_EVENT_TYPES)


def ga_client_events() -> st.SearchStrategy[Any]:
    """Any of the 11 GA client events."""
    return any_event(ga.CLIENT_EVENT_TYPES)


@cache
def _field_names() -> tuple[str, ...]:
    """Every JSON field name the vocabulary of both dialects uses, for plausible random objects."""
    names: set[str] = set()
    pending: list[mi.Type] = [
        mi.type_info(c)
        for c in ga.CLIENT_EVENT_TYPES
        + ga.SERVER_EVENT_TYPES
        + CLIENT_EVENT_TYPES
        + SERVER_EVENT_TYPES
    ]
    seen: set[type] = set()
    while pending:
        t = pending.pop()
        if isinstance(t, mi.StructType):
            if t.cls in seen:
                continue
            seen.add(t.cls)
            names.update(f.encode_name for f in t.fields)
            pending.extend(f.type for f in t.fields)
        elif isinstance(t, mi.UnionType):
            pending.extend(t.types)
        elif isinstance(t, (mi.VarTupleType, mi.ListType)):
            pending.append(t.item_type)
        elif isinstance(t, mi.DictType):
            pending.append(t.value_type)
    return tuple(sorted(names))


def json_objects(types: Iterable[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Random JSON objects whose ``type`` is one of ``types`` (or anything), with plausible fields.

    The keys are mostly real field names of the vocabulary and the values
    arbitrary JSON, so a decoder meets valid and invalid shapes at every depth.
    """
    keys = st.one_of(st.sampled_from(_field_names()), st.text(max_size=8))
    values = st.recursive(
        JSON_SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)
        ),
        max_leaves=16,
    )
    kind = st.one_of(st.sampled_from(sorted(types)), JSON_SCALARS)
    return st.builds(
        lambda t, rest: {"type": t, **rest}, kind, st.dictionaries(keys, values, max_size=6)
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, prefix + (i,)))
    return out


@st.composite
def mutations(draw: st.DrawFn, messages: list[dict[str, Any]]) -> Any:
    """One of ``messages`` with one to three random edits: a value replaced, a key removed or added."""
    message = json.loads(json.dumps(draw(st.sampled_from(messages))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(message)))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            message = draw(JSON_VALUES) if action == "replace" else message
        else:
            parent = message
            for seg in path[:-1]:
                parent = parent[seg]
            if action == "replace":
                parent[path[-1]] = draw(JSON_VALUES)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        if not isinstance(message, (dict, list)):
            break
    return message
