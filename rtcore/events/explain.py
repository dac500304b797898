"""Why a message is not a valid event: the slow path of the codec.

``rtcore.events.codec`` decodes a well-formed message in one call into
msgspec's C decoder. When that fails, the code here explains the failure as
the protocol reports it - a ``DecodeError`` naming the dotted JSON path and
the protocol error code (``invalid_type``, ``invalid_value``,
``missing_required_parameter``, ``unknown_parameter``, ``invalid_event``) -
or sets unknown fields aside so that the event can still be decoded. It also
holds the nesting rule: a message nested deeper than ``MAX_NESTING_DEPTH`` is
refused before anything recursive touches it; the size of a message's structure
(``_check_values``: a server's bound on how many values one message may hold,
checked before the decoder builds any of them), both read from one pass over a
large message's bytes (``_check_structure``: its brackets, commas and quotes
copied out once, ``_marks``, and everything after read from those); and reads the dicts an SDK user
gives a client event instead of its session, item or response parameters, with
the same errors (``_from_dict``).
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

__all__ = ["DecodeError", "MAX_NESTING_DEPTH"]

MAX_NESTING_DEPTH: Final = 64
"""Messages nested deeper than this (objects and arrays) are refused before any
recursive work. The deepest protocol path is about six levels plus a tool's JSON
Schema; without a bound a 2 KB message of brackets exhausts Python's recursion."""

_generic_decoder: Final = msgspec.json.Decoder()

_Path = tuple[str | int, ...]
"""A position in a JSON document: object keys and array indexes from the root."""


class DecodeError(ValueError):
    """A message that is not a valid event of this protocol version.

    ``path`` is the dotted JSON path of the problem (``None`` when the message
    as a whole is at fault), ``code`` the protocol error code a server answers
    with (``invalid_event``, ``invalid_type``, ``invalid_value``,
    ``missing_required_parameter``, ``unknown_parameter``), ``event_id`` the
    message's own ``event_id`` when it could be read, and ``event_type`` its
    ``type`` when it could be read.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        code: str = "invalid_event",
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.code = code
        self.event_id = event_id
        self.event_type = event_type
        super().__init__(f"{path}: {reason}" if path else reason)


_NESTING_CHUNK = 1 << 18

# A message's structure is read from its marks alone: its brackets, commas and quotes, in
# order, copied out of it by one C pass (``bytes.translate``), with its backslashes, which
# say whether escapes must be cut before the quotes can be read.
_NOT_MARKS = bytes(c for c in range(256) if c not in b'{}[]",\\')
_NOT_PLAIN_MARKS = bytes(c for c in range(256) if c not in b'{}[]",')
"""For the marks of a message whose escaped quotes and backslashes are cut: a backslash left
escapes nothing that matters."""
_STRUCTURE_MAP = bytes.maketrans(b"{[}]", b"(())")
"""Brackets of either kind as one kind: depth does not care which."""
_VALUE_MARKS = bytes(c for c in range(256) if c not in b"{[,")
"""For ``bytes.translate``: delete everything but what opens an object or an array and the
commas between elements and members."""
_SHORT_STRUCTURE = 1 << 14
"""Up to this many brackets, peeling pairs is cheaper than the numpy scan."""
_ESCAPE = re.compile(rb"\\[\\\"]")
_FEW_ESCAPES = 4096
"""Up to this many backslashes, the regular expression is the cheaper way to cut escapes."""
_SPLIT_QUOTES = 1 << 19
"""Up to this many strings (twice as many quotes), cutting them out is cheaper than the numpy
scan that tracks them; more is a message of millions of small strings."""


def _unescaped(data: bytes, escapes: int) -> bytes:
    """``data`` (holding ``escapes`` backslashes) without its escaped backslashes and escaped
    quotes, so that every quote left opens or closes a string.

    A regular expression reads the escapes left to right, as JSON does, so that an
    escaped backslash before a closing quote is told from an escaped quote; other escapes
    (``\\n``, ``\\uXXXX``) hold no quote and no bracket. It costs about a microsecond per
    escape, so a message with many (a 16 MiB text of escaped quotes took 2.5 s) has its
    pairs of backslashes and then its escaped quotes replaced instead: two C passes, the
    same result (the backslash left of a run of them escapes what follows the run).
    """
    if escapes <= _FEW_ESCAPES:
        return _ESCAPE.sub(b"", data)
    return data.replace(b"\\\\", b"").replace(b'\\"', b"")


def _outside_strings(plain: bytes) -> bytes:
    """The bytes of an unescaped message (or of its marks) that are not inside a string."""
    return b"".join(plain.split(b'"')[::2])


def _marks(data: bytes) -> bytes:
    """The message's marks: its brackets, commas, quotes and backslashes, in order (one pass)."""
    return data.translate(None, _NOT_MARKS)


def _plain_marks(data: bytes | str, marks: bytes) -> bytes:
    """``marks`` as they are once the message's escapes are cut (``_unescaped``), so that
    every quote left opens or closes a string: ``marks`` itself when they hold no backslash,
    else the marks of the message without its escapes (a second pass over it, only then)."""
    escapes = marks.count(b"\\")
    if not escapes:
        return marks
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return _unescaped(data, escapes).translate(None, _NOT_PLAIN_MARKS)


def _check_nesting(data: bytes | str, structure: bytes | None = None) -> None:
    """Refuse a message nested deeper than ``MAX_NESTING_DEPTH``, without recursion.

    Everything is read from the message's marks (``_marks``), never from the message
    again unless it holds escapes; ``structure``, when the caller has them
    (``_check_values``), are its marks, or its marks outside strings. A message with no
    more opening brackets than the limit cannot be deeper: that is the common case, and
    costs the one pass. Otherwise its escapes are cut (``_plain_marks``), so that every
    quote left opens or closes a string, and its brackets are all written ``(`` and ``)``.
    Then, when no string holds a bracket and the structure is of ordinary size, innermost
    pairs ``()`` are peeled off, one level per pass: a structure that is gone within
    ``MAX_NESTING_DEPTH`` passes is no deeper than that. Anything else (deep, unbalanced,
    huge, or with brackets inside strings) is measured exactly: the strings are cut out (up
    to ``_SPLIT_QUOTES`` of them) and a running sum of the brackets left is the depth; with
    more strings than that, a running count of quotes says which brackets are inside
    strings. numpy does each step over chunks, so a 16 MiB message of brackets costs about
    0.1 s and little memory.
    """
    if structure is None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        structure = _marks(data)
        if structure.count(b"{") + structure.count(b"[") <= MAX_NESTING_DEPTH:
            return
    structure = _plain_marks(data, structure).translate(_STRUCTURE_MAP, b",")
    # A string without brackets is now exactly two quotes, and taking pairs of
    # adjacent quotes from the left takes exactly those strings: a quote left
    # over means some string holds a bracket, and the exact scan decides.
    brackets = structure.replace(b'""', b"")
    if len(brackets) <= _SHORT_STRUCTURE and b'"' not in brackets:
        for _ in range(MAX_NESTING_DEPTH):
            peeled = brackets.replace(b"()", b"")
            if not peeled:
                return
            if len(peeled) == len(brackets):
                break  # unbalanced: measure exactly
            brackets = peeled
    quotes = structure.count(b'"')
    if quotes <= 2 * _SPLIT_QUOTES:
        _measure_nesting(_outside_strings(structure) if quotes else structure, quoted=False)
    else:
        _measure_nesting(structure, quoted=True)


def _measure_nesting(structure: bytes, *, quoted: bool) -> None:
    """The exact depth check of ``_check_nesting`` on a structure of ``(``, ``)`` (and, when
    ``quoted``, the quotes of its strings, inside which brackets do not count)."""
    import numpy as np

    codes = np.frombuffer(structure, dtype=np.uint8)
    step_of = np.zeros(256, dtype=np.int8)
    step_of[ord("(")] = 1
    step_of[ord(")")] = -1
    level = parity = 0
    for start in range(0, len(codes), _NESTING_CHUNK):
        chunk = codes[start : start + _NESTING_CHUNK]
        steps = step_of[chunk]
        if quoted:
            quotes = np.cumsum(chunk == ord('"'), dtype=np.int32)
            quotes += parity
            steps[(quotes & 1) == 1] = 0
            parity = int(quotes[-1]) & 1
        levels = np.cumsum(steps, dtype=np.int32)
        levels += level
        if int(levels.max()) > MAX_NESTING_DEPTH:
            raise DecodeError(f"nested deeper than {MAX_NESTING_DEPTH} levels")
        level = int(levels[-1])


def _check_values(data: bytes | str, limit: int) -> tuple[int, bytes]:
    """Refuse a message whose structure is larger than ``limit``, without parsing it.

    A message's structure is counted as its objects and arrays (each ``{`` and
    ``[``) plus the commas between their elements and members, outside strings:
    about the number of values it holds. Building a typed value costs about a
    microsecond per value, so a 16 MiB message of empty content parts or empty
    arrays (millions of values) would hold the event loop for seconds; this
    check costs one C pass over the bytes (``_marks``, about 0.6 ms per MiB) and
    then reads only the marks it copied out. Counting the marks inside strings
    too is an upper bound; only a message over the limit by that count (a long
    text full of commas) is counted exactly, with its escapes cut (``_plain_marks``)
    and its strings cut out of its marks (``_outside_strings``). A message with more
    strings than its structure allows (two per member, one per element) is over the
    limit by the count of its quotes alone, so the cut makes at most about
    ``4 * limit`` pieces.
    Returns how many brackets open in the message (strings included: the codec's cue for
    the nesting check) and its structure for ``_check_nesting``: its marks, or its marks
    outside strings when they were cut.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    marks = _marks(data)  # the one pass over the whole message
    commas = marks.count(b",")
    brackets = marks.count(b"{") + marks.count(b"[")
    if brackets + commas <= limit:
        return brackets, marks
    plain = _plain_marks(data, marks)
    if plain.count(b'"') <= 4 * limit + 2:
        outside = _outside_strings(plain)
        if len(outside.translate(None, _VALUE_MARKS)) <= limit:
            return brackets, outside
    raise DecodeError(
        f"the message holds more than {limit} JSON values (objects, arrays and their "
        f"elements): this server accepts at most {limit} in one message",
        code="message_above_max_values",
    )


def _check_structure(data: bytes | str, limit: int) -> None:
    """``_check_values``, then ``_check_nesting`` on the marks it copied out: both bounds of a
    message from one pass over its bytes (a server's check before it decodes a large one)."""
    brackets, structure = _check_values(data, limit)
    if brackets > MAX_NESTING_DEPTH:
        _check_nesting(data, structure)


# -- helpers of the slow path ------------------------------------------------


def _parse(data: bytes | str) -> Any:
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DecodeError(f"invalid text: {exc.reason} at position {exc.start}") from None
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return _generic_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _dotted(path: _Path) -> str:
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else seg
    return out


def _struct_fields(info: mi.StructType) -> dict[str, mi.Type]:
    return {f.encode_name: f.type for f in info.fields}


def _pick(value: Any, union: mi.UnionType) -> mi.Type | None:
    """The member of ``union`` that a JSON value would be decoded as, if any."""
    if isinstance(value, dict):
        structs = [t for t in union.types if isinstance(t, mi.StructType)]
        if len(structs) == 1:
            return structs[0]
        tag = value.get(structs[0].tag_field) if structs and structs[0].tag_field else None
        for t in structs:
            if t.tag == tag:
                return t
        return None
    if isinstance(value, list):
        for member in union.types:
            if isinstance(member, (mi.VarTupleType, mi.ListType)):
                return member
    return None


def _strip(value: Any, t: mi.Type, path: _Path, found: list[tuple[_Path, Any]]) -> Any:
    """A copy of ``value`` without the fields type ``t`` does not define (recorded in ``found``)."""
    if isinstance(t, mi.UnionType):
        member = _pick(value, t)
        return value if member is None else _strip(value, member, path, found)
    if isinstance(t, mi.StructType):
        if not isinstance(value, dict):
            return value
        fields = _struct_fields(t)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == t.tag_field:
                out[key] = item
                continue
            ft = fields.get(key)
            if ft is None:
                found.append((path + (key,), item))
            else:
                out[key] = _strip(item, ft, path + (key,), found)
        return out
    if isinstance(t, (mi.VarTupleType, mi.ListType)) and isinstance(value, list):
        return [_strip(v, t.item_type, path + (i,), found) for i, v in enumerate(value)]
    return value


def _put(tree: Any, path: _Path, value: Any) -> None:
    """Write an unknown field back at ``path`` (if its parent still exists)."""
    node = tree
    for seg in path[:-1]:
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node[path[-1]] = value


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_FIELD = re.compile(r"^Object (?P<kind>missing required|contains unknown) field `(?P<name>[^`]+)`$")
_INVALID = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_JSON_NAMES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "object": "object",
    "array": "array",
    "null": "null",
    "bytes": "string",
    # A tag field (``type`` of an item, a session, a tool) that is not a string
    # is reported with the Python name of what was found.
    "NoneType": "null",
    "list": "array",
    "dict": "object",
}


def _json_type_names(spec: str) -> str:
    names: list[str] = []
    for part in spec.split("|"):
        name = _JSON_NAMES.get(part.strip(), part.strip())
        if name not in names:
            names.append(name)
    return " or ".join(names)


def _translate(
    message: str,
    obj: Any,
    info: mi.StructType,
    event_id: str | None,
    event_type: str,
) -> DecodeError:
    """Turn a msgspec validation message into a ``DecodeError`` naming the JSON path."""
    m = _AT.match(message)
    assert m is not None  # the pattern matches any string
    text = m["msg"]
    raw_path = (m["path"] or "").lstrip(".")
    path = raw_path or None
    code = "invalid_value"
    if e := _EXPECTED.match(text):
        reason = f"expected {_json_type_names(e['want'])}, got {_json_type_names(e['got'])}"
        code = "invalid_type"
    elif f := _FIELD.match(text):
        path = f"{raw_path}.{f['name']}" if raw_path else f["name"]
        if f["kind"] == "missing required":
            reason, code = "missing required field", "missing_required_parameter"
        else:
            reason, code = "unknown field", "unknown_parameter"
    elif v := _INVALID.match(text):
        allowed = _allowed_values(obj, info, raw_path)
        reason = f"invalid value {v['value']}"
        if allowed:
            reason += "; supported values are: " + ", ".join(repr(a) for a in allowed)
    elif text == "Invalid base64 encoded string":
        reason = "invalid base64"
    else:
        reason = text[:1].lower() + text[1:]
    return DecodeError(reason, path=path, code=code, event_id=event_id, event_type=event_type)


_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _allowed_values(obj: Any, info: mi.Type, raw_path: str) -> list[Any]:
    """The enum values, or the union tags, that the field at ``raw_path`` accepts."""
    t: mi.Type | None = info
    node = obj
    segments = [(m[1], m[2]) for m in _SEGMENT.finditer("." + raw_path)] if raw_path else []
    for i, (name, index) in enumerate(segments):
        last = i == len(segments) - 1
        if isinstance(t, mi.UnionType):
            structs = [s for s in t.types if isinstance(s, mi.StructType)]
            if last and name and structs and name == structs[0].tag_field:
                return [s.tag for s in structs]
            t = _pick(node, t)
        if name:
            if not isinstance(t, mi.StructType):
                return []
            if last and name == t.tag_field:
                return [t.tag]
            t = _struct_fields(t).get(name)
            node = node.get(name) if isinstance(node, dict) else None
        else:
            if not isinstance(t, (mi.VarTupleType, mi.ListType)):
                return []
            t = t.item_type
            pos = int(index)
            node = node[pos] if isinstance(node, list) and pos < len(node) else None
    return _literals(t)


def _literals(t: mi.Type | None) -> list[Any]:
    if isinstance(t, mi.LiteralType):
        return list(t.values)
    if isinstance(t, mi.UnionType):
        out: list[Any] = []
        for member in t.types:
            out.extend(_literals(member))
        return out
    return []


# -- dicts given where a client event takes an object -------------------------


def _from_dict(event: Any, name: str) -> None:
    """Replace the dict given for field ``name`` of a new event by the typed object.

    The dict is read as the codec reads the same JSON (through the field's own
    type, so in the event's own dialect), except that an unknown key is an
    error here, as it is for a keyword argument: a typo must not vanish. A bad
    value raises the codec's ``DecodeError`` naming the path from the event
    (``item.content[0].type``). Called by ``__post_init__`` of the client
    events that carry a session, an item or response parameters.
    """
    value = getattr(event, name)
    cls = type(event)
    field_type = next(f.type for f in msgspec.structs.fields(cls) if f.name == name)
    try:
        converted = msgspec.convert(value, field_type)
    except msgspec.ValidationError as exc:
        # msgspec names the path from the field's value; the codec names it from the event.
        message, _, path = str(exc).partition(" - at `$")
        message += f" - at `$.{name}{path}" if path else f" - at `$.{name}`"
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        event_id = getattr(event, "event_id", None)
        raise _translate(
            message,
            {name: value},
            info,
            event_id if isinstance(event_id, str) else None,
            cls.type,
        ) from None
    msgspec.structs.force_setattr(event, name, converted)
