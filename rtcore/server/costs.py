"""What a client's data costs the session in memory: the prices ``Holdings`` charges.

Every byte a session holds because of a client is charged to its budget
(``ServerLimits.max_session_bytes``) before it is held: each conversation item
(``item_cost``: its strings per character, its retained audio per byte, each
content part, each MCP tool it lists), and the session configuration a client
set (``config_cost``: instructions, tools and their JSON Schemas, MCP servers
and their ``allowed_tools``, prompts, ...). The prices approximate what CPython
holds for the decoded objects, not the size of their JSON: a JSON Schema of
small objects takes about eight times its text in memory, and an empty content
part some 200 bytes. Counting is O(what the client sent), done once when it is
read; the session's total then stays O(1) to check.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..state import ByteChunks, ItemState

__all__ = [
    "CALL_ID_BYTES",
    "ITEM_BYTES",
    "PART_BYTES",
    "config_cost",
    "held_bytes",
    "item_cost",
]

ITEM_BYTES = 1024
"""An item's own objects (its state, its place in the snapshot's vectors), beyond its content."""
PART_BYTES = 192
"""A content part's own objects, beyond its text and audio."""
CALL_ID_BYTES = 96
"""A client's function call id in the session's set of call ids (kept after its item goes)."""
_STR = 56  # a str object's header
_SCALAR = 32  # an int, float, bool or None (small ones are shared: an upper bound)
_SEQUENCE = 56  # a list or tuple, plus 8 per element
_DICT = 64  # a dict, plus _ENTRY per key
_ENTRY = 48
_STRUCT = 48  # a struct object's header, plus 8 per field


def held_bytes(value: object) -> int:
    """About what ``value`` (decoded JSON, or structs of it) holds in memory.

    A walk without recursion (the decoder bounds nesting anyway); strings count per character,
    containers and structs by their slots.
    """
    total = 0
    stack: list[Any] = [value]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if isinstance(node, str):
            total += _STR + len(node)
        elif isinstance(node, dict):
            total += _DICT + _ENTRY * len(node)
            for key, item in node.items():
                push(key)
                push(item)
        elif isinstance(node, (list, tuple)):
            total += _SEQUENCE + 8 * len(node)
            stack.extend(node)
        elif isinstance(node, msgspec.Struct):
            fields = node.__struct_fields__
            total += _STRUCT + 8 * len(fields)
            for name in fields:
                push(getattr(node, name))
        elif isinstance(node, (bytes, bytearray)):
            total += _STR + len(node)
        else:
            total += _SCALAR
    return total


def _text(value: str | None) -> int:
    return len(value) if value is not None else 0


def item_cost(item: ItemState) -> int:
    """What an item holds: its strings per character, retained audio per byte, its parts and
    its MCP fields (listed tools with their schemas, an error) by their decoded size."""
    cost = ITEM_BYTES + len(item.id)
    for text in (item.call_id, item.name, item.output, item.server_label):
        cost += _text(text)
    for text in (item.approval_request_id, item.reason):
        cost += _text(text)
    if item.arguments is not None:
        cost += item.arguments.size
    if item.tools:
        cost += held_bytes(item.tools)
    if item.error is not None:
        cost += held_bytes(item.error)
    for part in item.content:
        cost += PART_BYTES
        for chunks in (part.text, part.transcript):
            if chunks is not None:
                cost += chunks.size
        if isinstance(part.audio, ByteChunks):
            cost += part.audio.size
        for text in (part.image_url, part.generated_transcript, part.reference_id, part.detail):
            cost += _text(text)
    return cost


def config_cost(value: object) -> int:
    """What one field of the session configuration a client set holds (0 for none)."""
    return 0 if value is None else held_bytes(value)
