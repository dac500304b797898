"""The echo's tool calls fit the tool (``rtcore_sim.arguments``).

The arguments ``arguments_for`` builds are checked with a real validator (``jsonschema``, which the
test extra installs) against schemas written by hand, schemas pydantic generates for typed tools
(the way the Agents SDK declares ``get_weather(city: str)``: ``$defs``, ``anyOf`` with
``null``, enums from ``Literal``), and random schemas of every supported feature; the same schema
gives the same arguments; a tool without parameters gets ``{}``; the work stays bounded for huge
or self-referential schemas; and the echo backend calls a typed tool with such arguments.
"""

from __future__ import annotations

import json
import time
from enum import Enum
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_backends import collect, request

from rtcore.server import FunctionCallChunk
from rtcore_sim import EchoBackend
from rtcore_sim.arguments import MAX_DEPTH, MAX_NODES, arguments_for

jsonschema = pytest.importorskip("jsonschema")
pydantic = pytest.importorskip("pydantic")


def check(schema: dict[str, Any], text: str = "weather in Paris") -> dict[str, Any]:
    arguments = arguments_for(schema, text)
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator.check_schema(schema)
    errors = list(validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(arguments))
    assert not errors, (schema, arguments, [e.message for e in errors])
    assert arguments_for(schema, text) == arguments  # deterministic
    assert json.loads(json.dumps(arguments)) == arguments
    return arguments


def test_a_typed_tool() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    assert check(schema) == {"city": "weather in Paris"}


@pytest.mark.parametrize("parameters", [None, {}, {"type": "object", "properties": {}}, "x"])
def test_no_parameters_give_an_empty_object(parameters: Any) -> None:
    assert arguments_for(parameters, "hello") == {}


HAND_WRITTEN: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "lat": {"type": "number", "exclusiveMinimum": -90, "exclusiveMaximum": 90},
            "detailed": {"type": "boolean"},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 3,
                "uniqueItems": True,
            },
            "where": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 30, "maxLength": 40},
                    "zip": {"type": ["string", "null"], "pattern": ".*"},
                },
                "required": ["city", "zip"],
            },
            "when": {"type": "string", "format": "date-time"},
            "mail": {"type": "string", "format": "email"},
            "id": {"type": "string", "format": "uuid"},
            "kind": {"const": "forecast"},
            "step": {"type": "integer", "multipleOf": 5, "exclusiveMinimum": 12},
            "neg": {"type": "number", "maximum": -3.5},
            "short": {"type": "string", "maxLength": 3},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            "ids": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 4,
                "uniqueItems": True,
            },
            "choice": {"oneOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]},
            "both": {
                "allOf": [
                    {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
                    {"required": ["b"]},
                ]
            },
            "free": {},
            "none": {"type": "array", "maxItems": 0},
        },
        "required": ["unit", "days", "where", "kind", "step", "neg", "both", "none"],
        "additionalProperties": False,
    },
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "definitions": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
        "properties": {
            "points": {"type": "array", "items": {"$ref": "#/definitions/point"}, "minItems": 2},
            "tuple": {"type": "array", "items": [{"type": "boolean"}, {"type": "null"}]},
            "low": {"type": "integer", "minimum": 10, "exclusiveMinimum": 10},
        },
        "required": ["points", "tuple", "low"],
    },
    {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "minimum": 0, "exclusiveMinimum": True}},
        "required": ["n"],
    },
    {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "minProperties": 1,
        "maxProperties": 1,
    },
]


@pytest.mark.parametrize("schema", HAND_WRITTEN)
def test_hand_written_schemas(schema: dict[str, Any]) -> None:
    check(schema)


class Unit(Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Place(pydantic.BaseModel):  # type: ignore[misc]
    city: str
    country: str | None = None


class Forecast(pydantic.BaseModel):  # type: ignore[misc]
    place: Place
    unit: Unit
    days: int = pydantic.Field(ge=1, le=14)
    hours: list[int] = pydantic.Field(min_length=2)
    mode: Literal["brief", "full"]
    alternatives: list[Place] | None = None
    score: float = pydantic.Field(gt=0, lt=1)


def test_schemas_pydantic_makes_for_typed_tools() -> None:
    schema = Forecast.model_json_schema()
    arguments = check(schema)
    Forecast.model_validate(arguments)  # what a tool runner does with them
    assert arguments["place"]["city"] == "weather in Paris"


# -- random schemas ---------------------------------------------------------------------------

LEAVES = st.one_of(
    st.just({"type": "string"}),
    st.builds(lambda n: {"type": "string", "minLength": n}, st.integers(0, 50)),
    st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(0, 50)),
    st.sampled_from(
        [{"type": "string", "format": f} for f in ("date", "email", "uri", "ipv4", "uuid")]
    ),
    st.builds(
        lambda lo, span, ex: {
            "type": "integer",
            "minimum" if not ex else "exclusiveMinimum": lo,
            "maximum": lo + span + 1,
        },
        st.integers(-1000, 1000),
        st.integers(0, 100),
        st.booleans(),
    ),
    st.builds(lambda hi: {"type": "number", "exclusiveMaximum": hi}, st.integers(-1000, 1000)),
    st.builds(
        lambda m, lo: {"type": "integer", "multipleOf": m, "minimum": lo},
        st.integers(1, 9),
        st.integers(-50, 50),
    ),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.builds(
        lambda e: {"enum": e},
        st.lists(st.one_of(st.text(max_size=5), st.integers()), min_size=1, max_size=4),
    ),
    st.builds(lambda c: {"const": c}, st.one_of(st.text(max_size=5), st.integers(), st.booleans())),
    st.just({}),
)


def _object(children: list[tuple[str, dict[str, Any], bool]]) -> dict[str, Any]:
    names = {}
    for name, schema, _ in children:
        names[name] = schema
    return {
        "type": "object",
        "properties": names,
        "required": sorted({n for n, _, needed in children if needed}),
        "additionalProperties": False,
    }


def _extend(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.lists(
            st.tuples(st.text("abcdef", min_size=1, max_size=4), inner, st.booleans()), max_size=5
        ).map(_object),
        st.builds(
            lambda items, n, unique: (
                {"type": "array", "items": items, "minItems": n}
                | ({"uniqueItems": True} if unique else {})
            ),
            inner,
            st.integers(0, 4),
            st.booleans(),
        ),
        st.builds(lambda a, b: {"anyOf": [{"type": "null"}, a, b]}, inner, inner),
        st.builds(
            lambda a: {**a, "type": [a["type"], "null"]},
            LEAVES.filter(lambda a: a.get("type") not in (None, "null")),
        ),
    )


SCHEMAS = st.recursive(LEAVES, _extend, max_leaves=25).map(
    lambda s: _object([("value", s, True)]) if s.get("type") != "object" else s
)


@settings(max_examples=300, deadline=None)
@given(SCHEMAS, st.text(max_size=20))
def test_random_schemas(schema: dict[str, Any], text: str) -> None:
    # uniqueItems over an enum or const of fewer members than minItems cannot be met: skipped.
    if _impossible(schema):
        return
    check(schema, text)


def _impossible(schema: Any) -> bool:
    """``uniqueItems`` over members that cannot all differ (only these leaves vary with the index)."""
    if isinstance(schema, dict):
        items = schema.get("items")
        if schema.get("uniqueItems") and not _varies(items):
            return True
        return any(_impossible(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_impossible(v) for v in schema)
    return False


def _varies(items: Any) -> bool:
    if not isinstance(items, dict):
        return False
    if items.get("type") == "string":
        return not ({"format", "maxLength"} & set(items))
    return items.get("type") == "integer" and "multipleOf" in items and "maximum" not in items


# -- bounds ---------------------------------------------------------------------------------------


def test_a_huge_array_gives_up_at_once() -> None:
    schema = _object(
        [("a", {"type": "array", "items": {"type": "string"}, "minItems": 10**9}, True)]
    )
    assert arguments_for(schema, "x") == {}


def test_a_cycle_every_level_requires_gives_up() -> None:
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/node"}},
                "required": ["next"],
            }
        },
        "$ref": "#/$defs/node",
    }
    assert arguments_for(schema, "x") == {}


def test_a_ref_to_itself_gives_up() -> None:
    assert arguments_for({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "x") == {}


def test_an_exponential_schema_costs_at_most_the_bounds() -> None:
    # Each level refers twice to the next: 2**40 values if built whole.
    defs = {
        f"l{i}": _object(
            [("a", {"$ref": f"#/$defs/l{i + 1}"}, True), ("b", {"$ref": f"#/$defs/l{i + 1}"}, True)]
        )
        for i in range(40)
    }
    defs["l40"] = {"type": "string"}
    schema = {"$defs": defs, "$ref": "#/$defs/l0"}
    started = time.perf_counter()
    assert arguments_for(schema, "x" * 4096) == {}
    assert time.perf_counter() - started < 1.0
    assert MAX_DEPTH < 40 and MAX_NODES < 2**20


def test_long_strings_everywhere_are_bounded() -> None:
    schema = _object([(f"p{i}", {"type": "string", "minLength": 100_000}, True) for i in range(3)])
    assert arguments_for(schema, "x") == {}


# -- the echo -------------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


async def test_the_echo_calls_a_typed_tool_with_fitting_arguments() -> None:
    req = request("get_weather in Paris", tools=[WEATHER])
    [call, *_] = await collect(EchoBackend(), req)
    assert isinstance(call, FunctionCallChunk)
    assert json.loads(call.arguments) == {"city": "get_weather in Paris", "unit": "c"}


async def test_the_echo_calls_a_tool_without_parameters_with_an_empty_object() -> None:
    req = request("please get_time now", tools=[{"type": "function", "name": "get_time"}])
    [call, *_] = await collect(EchoBackend(), req)
    assert isinstance(call, FunctionCallChunk) and call.arguments == "{}"
