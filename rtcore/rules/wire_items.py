"""The item-to-wire shape: an ``ItemState`` written as each dialect's item object.

One home for how an item looks on the wire (docs/protocol/beta.md#client-events,
docs/protocol/ga.md#items, docs/protocol/dialects.md#server-events): the server writes every item it
announces, retrieves or lists in a response with these, and the client rebuilds items for a new
session (``rtcore.client.replay_events``) with the same function-call shapes. Beta items carry
``object: "realtime.item"`` and ``text`` / ``audio`` parts; GA items no ``object``, ``output_text``
/ ``output_audio`` parts, and the MCP item types.
"""

from __future__ import annotations

from typing import Literal

from .. import events as ev
from ..events import beta, ga
from ..state import ItemState, PartState

__all__ = [
    "beta_wire_item",
    "function_call_output_wire",
    "function_call_wire",
    "ga_wire_item",
    "part_text",
    "part_transcript",
]

_Object = Literal["realtime.item"] | ev.UnsetType


def part_text(part: PartState) -> str:
    """The text of a ``text`` / ``input_text`` part (``""`` when none arrived)."""
    return part.text.value if part.text is not None else ""


def part_transcript(part: PartState) -> str | None:
    """The transcript of an audio part (``None`` when none arrived)."""
    return part.transcript.value if part.transcript is not None else None


def _status(item: ItemState) -> ev.ItemStatus | ev.UnsetType:
    return item.status if item.status is not None else ev.UNSET


def function_call_wire(
    item: ItemState, *, object: _Object = ev.UNSET, with_status: bool = True
) -> ev.FunctionCallItem:
    """A ``function_call`` item as both dialects write it (beta adds ``object``)."""
    return ev.FunctionCallItem(
        id=item.id,
        object=object,
        status=_status(item) if with_status else ev.UNSET,
        name=item.name if item.name is not None else ev.UNSET,
        call_id=item.call_id if item.call_id is not None else ev.UNSET,
        arguments=item.arguments.value if item.arguments is not None else "",
    )


def function_call_output_wire(
    item: ItemState, *, object: _Object = ev.UNSET, with_status: bool = True
) -> ev.FunctionCallOutputItem:
    """A ``function_call_output`` item as both dialects write it (beta adds ``object``)."""
    assert item.call_id is not None
    return ev.FunctionCallOutputItem(
        id=item.id,
        object=object,
        status=_status(item) if with_status else ev.UNSET,
        call_id=item.call_id,
        output=item.output if item.output is not None else "",
    )


def beta_wire_item(item: ItemState, *, with_audio: bool = False) -> beta.Item:
    """``item`` as a beta server writes it (``with_audio``: the audio bytes held, if any)."""
    if item.type == "function_call":
        return function_call_wire(item, object="realtime.item")
    if item.type == "function_call_output":
        return function_call_output_wire(item, object="realtime.item")
    parts: list[beta.ContentPart] = []
    for part in item.content:
        audio = part.audio.value if with_audio and part.audio else ev.UNSET
        if part.type == "text":
            parts.append(ev.TextContent(text=part_text(part)))
        elif part.type == "input_text":
            parts.append(ev.InputTextContent(text=part_text(part)))
        elif part.type == "audio":
            parts.append(ev.AudioContent(transcript=part_transcript(part) or "", audio=audio))
        elif part.type == "input_audio":
            parts.append(ev.InputAudioContent(transcript=part_transcript(part), audio=audio))
        else:
            parts.append(ev.ItemReferenceContent(id=part.reference_id or ""))
    assert item.role is not None
    return beta.MessageItem(
        id=item.id,
        object="realtime.item",
        status=_status(item),
        role=item.role,
        content=tuple(parts),
    )


def ga_wire_item(item: ItemState, *, with_audio: bool = False) -> ga.Item:
    """``item`` as a GA server writes it (``with_audio``: the audio bytes held, if any)."""
    kind = item.type
    if kind == "function_call":
        return function_call_wire(item)
    if kind == "function_call_output":
        return function_call_output_wire(item)
    if kind == "mcp_list_tools":
        return ga.McpListToolsItem(
            id=item.id, server_label=item.server_label or "", tools=item.tools or ()
        )
    if kind == "mcp_call":
        return ga.McpCallItem(
            id=item.id,
            server_label=item.server_label or "",
            name=item.name or "",
            arguments=item.arguments.value if item.arguments is not None else "",
            approval_request_id=item.approval_request_id,
            output=item.output,
            error=item.error,
        )
    if kind == "mcp_approval_request":
        return ga.McpApprovalRequestItem(
            id=item.id,
            server_label=item.server_label or "",
            name=item.name or "",
            arguments=item.arguments.value if item.arguments is not None else "",
        )
    if kind == "mcp_approval_response":
        return ga.McpApprovalResponseItem(
            id=item.id,
            approval_request_id=item.approval_request_id or "",
            approve=bool(item.approve),
            reason=item.reason if item.reason is not None else ev.UNSET,
        )
    parts: list[ga.ContentPart] = []
    for part in item.content:
        audio = part.audio.value if with_audio and part.audio else ev.UNSET
        if part.type == "text":
            parts.append(ga.OutputTextContent(text=part_text(part)))
        elif part.type == "input_text":
            parts.append(ev.InputTextContent(text=part_text(part)))
        elif part.type == "audio":
            parts.append(ga.OutputAudioContent(transcript=part_transcript(part) or "", audio=audio))
        elif part.type == "input_audio":
            parts.append(ev.InputAudioContent(transcript=part_transcript(part), audio=audio))
        elif part.type == "input_image":
            parts.append(
                ga.InputImageContent(
                    image_url=part.image_url or ev.UNSET,
                    detail=part.detail or ev.UNSET,  # type: ignore[arg-type]
                )
            )
    assert item.role is not None
    return ga.MessageItem(id=item.id, status=_status(item), role=item.role, content=tuple(parts))
