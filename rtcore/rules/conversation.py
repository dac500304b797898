"""Rules that depend on the conversation, read from a ``Snapshot``.

Both roles hold the same snapshot (the server folds its own events with the
transition function the client uses), so both check these the same way
(docs/protocol/flows.md#items):

* an item named by ``item_id`` (truncate, delete, retrieve), by
  ``previous_item_id`` or by a reference is in the conversation
  (``invalid_value`` "not found" otherwise; output items of out-of-band
  responses are not);
* a created item's id is new;
* a ``function_call_output`` answers a call the session has seen (even one
  whose item was deleted since); an ``mcp_approval_response`` an approval
  request that exists;
* only assistant audio can be truncated, and only within the audio produced
  (``unsupported_content_type``, ``invalid_value``); audio a response is still
  generating can be: the response is cancelled first, as by ``response.cancel``
  (docs/protocol/flows.md#truncate-while-generating);
* an item a response is still writing cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Container

from .. import events as ev
from ..events import ga
from ..state import ItemState, Snapshot
from .refusal import Invalid

__all__ = [
    "check_anchor",
    "check_deletable",
    "check_new_item",
    "check_references",
    "check_truncate",
    "conversation_item",
    "is_assistant_audio",
]


def conversation_item(s: Snapshot, item_id: str, param: str = "item_id") -> ItemState:
    """The conversation's item ``item_id`` (``Invalid`` when there is none)."""
    item = s.item(item_id)
    if item is None or not item.in_conversation:
        raise Invalid("invalid_value", f"Item with item_id '{item_id}' not found.", param)
    return item


def check_anchor(s: Snapshot, anchor: str | None | ev.UnsetType) -> None:
    """``previous_item_id`` is absent, ``null``, ``"root"`` or an item of the conversation."""
    if isinstance(anchor, str) and anchor != "root":
        conversation_item(s, anchor, "previous_item_id")


def check_new_item(s: Snapshot, item_id: str | ev.UnsetType, param: str = "item.id") -> None:
    """A created item's id, when given, names no item yet."""
    if isinstance(item_id, str) and s.item(item_id) is not None:
        raise Invalid("invalid_value", f"Item with id '{item_id}' already exists.", param)


def check_references(s: Snapshot, item: object, call_ids: Container[str], param: str) -> None:
    """The ids a client item refers to exist (a call for an output, a request for an approval).

    ``call_ids`` holds every call id the session has seen.
    """
    if isinstance(item, ev.FunctionCallOutputItem) and item.call_id not in call_ids:
        raise Invalid(
            "invalid_value",
            f"No tool call found for function call output with call_id '{item.call_id}'.",
            f"{param}.call_id",
        )
    if isinstance(item, ga.McpApprovalResponseItem):
        request = s.item(item.approval_request_id)
        if request is None or request.type != "mcp_approval_request":
            raise Invalid(
                "invalid_value",
                f"No MCP approval request found with id '{item.approval_request_id}'.",
                f"{param}.approval_request_id",
            )


def check_deletable(s: Snapshot, item_id: str) -> None:
    """``item_id`` is an item of the conversation that no running response is writing."""
    item = conversation_item(s, item_id)
    writer = s.response(item.response_id) if item.response_id is not None else None
    if writer is not None and not writer.done:
        raise Invalid(
            "invalid_value",
            f"Item '{item_id}' is still being generated; cancel the response first.",
            "item_id",
        )


def is_assistant_audio(item: ItemState, content_index: int) -> bool:
    """Whether part ``content_index`` of ``item`` is the model's audio (what can be truncated)."""
    return (
        item.type == "message"
        and item.role == "assistant"
        and 0 <= content_index < len(item.content)
        and item.content[content_index].type == "audio"
    )


def check_truncate(s: Snapshot, event: ev.ConversationItemTruncate) -> str | None:
    """A truncation cuts assistant audio within what was produced.

    Returns the id of the response still generating that audio, which the truncation cancels
    first (docs/protocol/flows.md#truncate-while-generating), or ``None`` when the audio is
    complete. The checks come first: a refused truncation cancels nothing.
    """
    item = conversation_item(s, event.item_id)
    if not is_assistant_audio(item, event.content_index):
        raise Invalid(
            "unsupported_content_type",
            "Only model output audio messages can be truncated",
            "item_id",
        )
    part = item.content[event.content_index]
    if event.audio_end_ms < 0:
        raise Invalid(
            "invalid_value",
            f"Invalid 'audio_end_ms': {event.audio_end_ms} is negative.",
            "audio_end_ms",
        )
    if event.audio_end_ms > part.audio_ms:
        raise Invalid(
            "invalid_value",
            f"Audio content of {part.audio_ms}ms is already shorter than {event.audio_end_ms}ms",
            "audio_end_ms",
        )
    if part.audio_done:
        return None
    writer = s.response(item.response_id) if item.response_id is not None else None
    return writer.id if writer is not None and not writer.done else None
