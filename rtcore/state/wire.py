"""Items, content parts and response settings from their wire form, in either dialect.

The snapshot holds one kind of item whatever the dialect (docs/protocol/dialects.md#one-state): GA's
assistant ``output_text`` / ``output_audio`` parts are ``text`` / ``audio``
parts here, as the ``response.content_part.*`` events of both dialects name
them; ``input_image`` parts and the four MCP items exist only in GA
conversations. Audio bytes are kept in the format that applies to the part:
the session's input format for user audio, the response's (or session's)
output format for assistant audio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..events import beta, ga
from .chunks import ByteChunks, TextChunks
from .model import ItemState, PartState
from .session import format_from_ga, modalities_from_beta

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = [
    "is_message_item",
    "item_from_wire",
    "part_from_wire",
    "response_fields",
    "WireItem",
    "WirePart",
]

WireItem = beta.Item | ga.Item
WirePart = beta.ContentPart | ga.ContentPart


_MESSAGE_ITEMS = frozenset({ga.MessageItem, beta.MessageItem})


def is_message_item(item: WireItem) -> TypeIs[beta.MessageItem | ga.MessageItem]:
    """A message item of either dialect. Its class is looked up first: ``isinstance``
    against a tuple of struct classes pays a metaclass ``__instancecheck__`` for every
    class it does not match (about 0.2 us each), and a message is the usual item."""
    return type(item) in _MESSAGE_ITEMS or isinstance(item, (beta.MessageItem, ga.MessageItem))


_NO_AUDIO = ByteChunks.of()
"""The audio of a part whose item came without it (every item a server announces): one
shared value, as immutable as any, instead of a new one per part."""


def _text_of(value: str | None | ev.UnsetType) -> str:
    return value if isinstance(value, str) else ""


def part_from_wire(
    part: WirePart, input_format: ev.AudioFormat, output_format: ev.AudioFormat, done: bool
) -> PartState:
    """A content part as the snapshot holds it; ``done`` says whether it is complete."""
    # A user's audio first: every spoken turn's item has one. (The part classes are
    # siblings, so the order changes nothing else; an isinstance that does not match a
    # struct class costs a metaclass __instancecheck__, one that does is a pointer check.)
    if isinstance(part, ev.InputAudioContent):
        return PartState(
            type="input_audio",
            transcript=TextChunks.of(part.transcript) if isinstance(part.transcript, str) else None,
            audio=ByteChunks.of(part.audio) if isinstance(part.audio, bytes) else _NO_AUDIO,
            audio_format=input_format,
            done=True,
        )
    if isinstance(part, ev.InputTextContent):
        return PartState(
            type="input_text", text=TextChunks.of(part.text), text_done=True, done=True
        )
    if isinstance(part, (ev.TextContent, ga.OutputTextContent)):
        text = TextChunks.of(_text_of(part.text))
        return PartState(type="text", text=text, text_done=done, done=done)
    if isinstance(part, (ev.AudioContent, ga.OutputAudioContent)):
        return PartState(
            type="audio",
            transcript=TextChunks.of(_text_of(part.transcript)),
            audio=ByteChunks.of(part.audio) if isinstance(part.audio, bytes) else _NO_AUDIO,
            audio_format=output_format,
            text_done=done,
            transcript_done=done,
            audio_done=done,
            done=done,
        )
    if isinstance(part, ga.InputImageContent):
        return PartState(
            type="input_image",
            image_url=part.image_url if isinstance(part.image_url, str) else None,
            detail=part.detail if isinstance(part.detail, str) else None,
            done=True,
        )
    return PartState(type="item_reference", reference_id=part.id, done=True)


def _opt(value: Any) -> Any:
    return None if isinstance(value, ev.UnsetType) else value


def item_from_wire(
    item: WireItem,
    input_format: ev.AudioFormat,
    output_format: ev.AudioFormat,
    *,
    response_id: str | None = None,
    done: bool = True,
    in_conversation: bool = False,
) -> ItemState:
    """An item as the snapshot holds it, built from its wire form (either dialect).

    ``done`` says whether its parts and arguments are complete (an added
    item) or still to be streamed (an output item just announced);
    ``in_conversation`` whether it already has its place in the conversation.
    """
    if isinstance(item.id, ev.UnsetType):
        raise ValueError("an item needs an id to be held in a snapshot")
    status = _opt(getattr(item, "status", ev.UNSET))
    if is_message_item(item):
        content: tuple[WirePart, ...] = (
            () if isinstance(item.content, ev.UnsetType) else item.content
        )
        return ItemState(
            id=item.id,
            type="message",
            status=status,
            role=item.role,
            content=tuple([part_from_wire(p, input_format, output_format, done) for p in content]),
            response_id=response_id,
            in_conversation=in_conversation,
        )
    if isinstance(item, ev.FunctionCallItem):
        return ItemState(
            id=item.id,
            type="function_call",
            status=status,
            call_id=_opt(item.call_id),
            name=_opt(item.name),
            arguments=TextChunks.of(_text_of(item.arguments)),
            arguments_done=done,
            response_id=response_id,
            in_conversation=in_conversation,
        )
    if isinstance(item, ev.FunctionCallOutputItem):
        return ItemState(
            id=item.id,
            type="function_call_output",
            status=status,
            call_id=item.call_id,
            output=_opt(item.output),
            response_id=response_id,
            in_conversation=in_conversation,
        )
    if isinstance(item, ga.McpCallItem):
        return ItemState(
            id=item.id,
            type="mcp_call",
            server_label=item.server_label,
            name=item.name,
            arguments=TextChunks.of(item.arguments),
            arguments_done=done,
            approval_request_id=_opt(item.approval_request_id),
            output=_opt(item.output),
            error=_opt(item.error),
            response_id=response_id,
            in_conversation=in_conversation,
        )
    if isinstance(item, ga.McpListToolsItem):
        return ItemState(
            id=item.id,
            type="mcp_list_tools",
            server_label=item.server_label,
            tools=item.tools,
            response_id=response_id,
            in_conversation=in_conversation,
        )
    if isinstance(item, ga.McpApprovalRequestItem):
        return ItemState(
            id=item.id,
            type="mcp_approval_request",
            server_label=item.server_label,
            name=item.name,
            arguments=TextChunks.of(item.arguments),
            arguments_done=True,
            response_id=response_id,
            in_conversation=in_conversation,
        )
    return ItemState(
        id=item.id,
        type="mcp_approval_response",
        approval_request_id=item.approval_request_id,
        approve=item.approve,
        reason=_opt(item.reason),
        response_id=response_id,
        in_conversation=in_conversation,
    )


def response_fields(response: beta.Response | ga.Response) -> dict[str, Any]:
    """The effective settings a response object reports, as ``ResponseState`` fields."""
    unset = ev.UNSET
    if isinstance(response, ga.Response):
        fmt = voice = None
        audio = response.audio
        if not (audio is None or audio is unset):
            out = audio.output
            if not (out is None or out is unset):
                fmt = format_from_ga(out.format)
                voice = None if out.voice is unset else out.voice
        modalities = None if response.output_modalities is unset else response.output_modalities
    else:
        fmt = None if response.output_audio_format is unset else response.output_audio_format
        voice = None if response.voice is unset else response.voice
        modalities = modalities_from_beta(response.modalities)
    tokens, metadata = response.max_output_tokens, response.metadata
    return {
        "output_modalities": modalities,
        "output_format": fmt,
        "voice": voice,
        "max_output_tokens": None if tokens is unset else tokens,
        "metadata": None if metadata is unset else metadata,
    }
