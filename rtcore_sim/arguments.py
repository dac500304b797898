"""Arguments that fit a function tool's JSON Schema, for the echo's tool calls (sans-IO).

When the echo calls a session tool, its arguments must pass the tool runner of the client that
declared the tool (the Agents SDKs validate them against the tool's ``parameters`` before they
run it). ``arguments_for(parameters, text)`` builds such a value, deterministically: the same
schema and text give the same arguments.

What it builds, node by node:

* ``const``, else the first ``enum`` member of the schema's ``type``;
* a local ``$ref`` (``#/$defs/...``, ``#/definitions/...``, ``#``) is followed (pydantic puts
  nested models there); ``allOf`` members are merged; of ``anyOf`` / ``oneOf`` the first member
  that is not only ``null`` is built;
* by ``type`` (the first that is not ``"null"`` when it is a list; inferred from ``properties``
  or ``items`` when absent): an object gets its ``required`` properties and its optional ones
  (as many as ``maxProperties`` leaves room for), in declaration order, each built from its
  schema (or from ``additionalProperties`` for a required name it does not declare); an array ``minItems`` members, at least one unless ``maxItems`` is 0,
  members of a ``uniqueItems`` array made distinct, tuple forms (``prefixItems``, a list
  ``items``) member by member; a string the text the echo heard, cut to ``maxLength`` and padded
  to ``minLength``, or a fixed sample of its ``format`` (date, time, e-mail, URI, UUID, ...);
  numbers the smallest value within ``minimum`` / ``exclusiveMinimum`` / ``maximum`` /
  ``exclusiveMaximum`` (0 when unbounded) that is a ``multipleOf``; ``true``; ``null``;
* a schema that allows anything (``{}``, ``true``) gets the text.

A tool without parameters, or whose parameters are not an object schema with properties, gets
``{}``. ``pattern`` is not read (a string may not match it); nor are ``not``, ``if`` / ``then``,
``dependentRequired`` and the like.

**Bounded work** (a client's schema is untrusted input, possibly huge or self-referential): at
most ``MAX_DEPTH`` nested values, ``MAX_NODES`` values built and ``MAX_CHARS`` characters of
strings in all, so the work is bounded whatever the schema; a schema whose arguments need more
(``minItems: 1000000``, a ``$ref`` cycle that every level requires) gets ``{}`` - the tool call is
made, and its runner refuses the arguments as it would a model's.
"""

from __future__ import annotations

from typing import Any, Final, TypeGuard

__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_NODES", "SchemaTooLarge", "arguments_for"]

MAX_DEPTH: Final = 32
"""The deepest value built (objects and arrays nested)."""
MAX_NODES: Final = 4096
"""The most values (of any type) built for one call's arguments."""
MAX_CHARS: Final = 65536
"""The most characters of strings in one call's arguments."""

_FORMATS: Final = {
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "date-time": "2024-01-01T12:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri-reference": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
"""A valid sample of each string ``format`` a validator may check."""

_TYPES: Final = ("object", "array", "string", "integer", "number", "boolean", "null")


class SchemaTooLarge(Exception):
    """The arguments would take more than the bounds allow (see the module docstring)."""


def arguments_for(parameters: object, text: str) -> dict[str, Any]:
    """Arguments for a tool with these ``parameters`` (a JSON Schema), with ``text`` in strings.

    ``{}`` for a tool without parameters, or when the bounds are passed.
    """
    if not isinstance(parameters, dict) or not parameters:
        return {}
    try:
        value = _Builder(parameters, text).build(parameters, 0, 0)
    except SchemaTooLarge:
        return {}
    return value if isinstance(value, dict) else {}


class _Builder:
    __slots__ = ("_root", "_text", "_nodes", "_chars")

    def __init__(self, root: dict[str, Any], text: str) -> None:
        self._root = root
        self._text = text
        self._nodes = 0
        self._chars = 0

    def build(self, schema: object, depth: int, salt: int) -> Any:
        """A value of ``schema``; ``salt`` makes members of a ``uniqueItems`` array differ."""
        self._nodes += 1
        if self._nodes > MAX_NODES or depth > MAX_DEPTH:
            raise SchemaTooLarge
        if schema is True or not isinstance(schema, dict):
            return self._string({}, salt)
        schema = self._resolved(schema, depth)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            fitting = [m for m in enum if _of_type(m, schema.get("type"))] or enum
            return fitting[salt % len(fitting)]
        for combinator in ("anyOf", "oneOf"):
            members = schema.get(combinator)
            if isinstance(members, list) and members:
                rest = {k: v for k, v in schema.items() if k != combinator}
                return self.build(_merged([rest, _first_not_null(members)]), depth + 1, salt)
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, depth, salt)
        if kind == "array":
            return self._array(schema, depth, salt)
        if kind == "integer":
            return _number(schema, salt, integer=True)
        if kind == "number":
            return _number(schema, salt, integer=False)
        if kind == "boolean":
            return salt % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, salt)

    def _resolved(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """``schema`` with its ``$ref`` followed and its ``allOf`` merged (each at a cost)."""
        seen = 0
        while True:
            ref = schema.get("$ref")
            all_of = schema.get("allOf")
            if isinstance(ref, str):
                target = self._lookup(ref)
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = _merged([target, rest]) if rest else target
            elif isinstance(all_of, list) and all_of:
                rest = {k: v for k, v in schema.items() if k != "allOf"}
                members = [m for m in all_of if isinstance(m, dict)]
                schema = _merged([*members, rest])
            else:
                return schema
            seen += 1
            self._nodes += 1
            if seen > MAX_DEPTH or self._nodes > MAX_NODES:
                raise SchemaTooLarge

    def _lookup(self, ref: str) -> dict[str, Any]:
        """A local reference (``#`` or ``#/a/b``); anything else allows any value."""
        if not ref.startswith("#"):
            return {}
        node: object = self._root
        for step in ref[1:].split("/")[1:] if ref != "#" else ():
            step = step.replace("~1", "/").replace("~0", "~")
            node = node.get(step) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def _object(self, schema: dict[str, Any], depth: int, salt: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = schema.get("required")
        needed = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
        optional = [n for n in properties if n not in needed]
        most = schema.get("maxProperties")
        if isinstance(most, int):
            optional = optional[: max(0, most - len(needed))]
        chosen = set(needed) | set(optional)
        # Declaration order, then required names the properties do not declare.
        names = [n for n in properties if n in chosen]
        names += [n for n in dict.fromkeys(needed) if n not in properties]
        extra = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for name in names:
            member = properties.get(name, extra if isinstance(extra, dict) else {})
            out[name] = self.build(member, depth + 1, salt)
        return out

    def _array(self, schema: dict[str, Any], depth: int, salt: int) -> list[Any]:
        low = schema.get("minItems")
        high = schema.get("maxItems")
        count = max(low if isinstance(low, int) else 0, 1)
        if isinstance(high, int):
            count = min(count, max(high, 0))
        if count > MAX_NODES:
            raise SchemaTooLarge
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # the tuple form of drafts 4 to 2019-09
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        count = max(count, len(prefix)) if not isinstance(high, int) else count
        unique = schema.get("uniqueItems") is True
        out = []
        for i in range(count):
            member = prefix[i] if i < len(prefix) else items
            out.append(
                self.build(member if member is not None else {}, depth + 1, i if unique else 0)
            )
        return out

    def _string(self, schema: dict[str, Any], salt: int) -> str:
        sample = _FORMATS.get(schema.get("format", ""))
        if sample is not None:
            value = sample
        else:
            value = self._text or "text"
            if salt:
                value = f"{value} {salt}"
        high = schema.get("maxLength")
        low = schema.get("minLength")
        if isinstance(high, int) and len(value) > high:
            # Cut from the front when members must differ: their numbers stay apart.
            value = value[-max(high, 0) :] if salt and high > 0 else value[: max(high, 0)]
        if isinstance(low, int) and len(value) < low:
            value += "x" * (low - len(value))
        self._chars += len(value)
        if self._chars > MAX_CHARS:
            raise SchemaTooLarge
        return value


def _merged(schemas: list[Any]) -> dict[str, Any]:
    """Several schemas read as one (``allOf``, or a ``$ref`` with siblings): properties and
    ``required`` unite, bounds keep the last word (enough for the schemas tools declare)."""
    out: dict[str, Any] = {}
    for schema in schemas:
        if not isinstance(schema, dict):
            continue
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                out["required"] = [*out.get("required", []), *value]
            else:
                out[key] = value
    return out


def _of_type(value: object, kind: object) -> bool:
    """Whether ``value`` is of JSON type ``kind`` (a name or a list of names; none: any)."""
    if isinstance(kind, list):
        return any(_of_type(value, k) for k in kind)
    if not isinstance(kind, str):
        return True
    checks: dict[str, bool] = {
        "string": isinstance(value, str),
        "integer": _is_number(value) and value == int(value),
        "number": _is_number(value),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return checks.get(kind, True)


def _first_not_null(members: list[Any]) -> Any:
    for member in members:
        if not (isinstance(member, dict) and member.get("type") == "null"):
            return member
    return members[0]


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k in _TYPES]
        kind = next((k for k in kinds if k != "null"), kinds[0] if kinds else None)
    if isinstance(kind, str) and kind in _TYPES:
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _number(schema: dict[str, Any], salt: int, *, integer: bool) -> int | float:
    """The value nearest 0 within the bounds that is a ``multipleOf`` (then ``salt`` steps on)."""
    step = schema.get("multipleOf")
    unit: int | float = step if _is_number(step) and step > 0 else 1
    low = _bound(schema, "minimum", "exclusiveMinimum", above=True)
    high = _bound(schema, "maximum", "exclusiveMaximum", above=False)
    start: int | float = 0
    if low is not None and (low[0] > 0 or (low[1] and low[0] >= 0)):
        start = _ceil_to(low[0], unit, strictly=low[1])
    elif high is not None and (high[0] < 0 or (high[1] and high[0] <= 0)):
        start = _floor_to(high[0], unit, strictly=high[1])
        salt = -salt
    result = start + salt * unit
    if integer or (result == int(result) and isinstance(unit, int)):
        result = int(round(result))
    if step is None and not integer and low is not None and high is not None:
        if not _within(result, low, high):  # a narrow range of reals: a point inside it
            result = low[0] + (high[0] - low[0]) * (abs(salt) + 1) / (abs(salt) + 2)
    return result


def _within(
    value: int | float, low: tuple[int | float, bool], high: tuple[int | float, bool]
) -> bool:
    above = value > low[0] if low[1] else value >= low[0]
    below = value < high[0] if high[1] else value <= high[0]
    return above and below


def _bound(
    schema: dict[str, Any], inclusive: str, exclusive: str, *, above: bool
) -> tuple[int | float, bool] | None:
    """The tighter of a bound and its exclusive form (draft 4's boolean form read too)."""
    found: list[tuple[int | float, bool]] = []
    plain = schema.get(inclusive)
    strict = schema.get(exclusive)
    if _is_number(plain):
        found.append((plain, strict is True))  # draft 4: exclusiveMinimum: true
    if _is_number(strict):
        found.append((strict, True))
    if not found:
        return None
    if above:
        return max(found, key=lambda b: (b[0], b[1]))
    return min(found, key=lambda b: (b[0], not b[1]))


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ceil_to(value: int | float, unit: int | float, *, strictly: bool) -> int | float:
    """The least multiple of ``unit`` at or above ``value`` (above it when ``strictly``)."""
    steps = -((-value) // unit)
    result = steps * unit
    if strictly and result <= value:
        result += unit
    return result


def _floor_to(value: int | float, unit: int | float, *, strictly: bool) -> int | float:
    steps = value // unit
    result = steps * unit
    if strictly and result >= value:
        result -= unit
    return result
