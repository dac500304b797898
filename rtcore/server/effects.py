"""What the server session asks of the app, and what the app's backend hands back.

Effects (returned by ``ServerSession.receive_message`` and friends) are the
work the protocol implies but the engine cannot do itself: produce a
response (``StartResponse``), stop producing one (``CancelResponse``),
transcribe committed user audio (``Transcribe``), list the tools of an MCP
server a GA session just configured (``ListMcpTools``). Each carries
immutable data only.

Output chunks are what a backend produces for a response; pass each to
``ServerSession.produce(response_id, chunk)`` and the session turns it into the exact event sequence
of docs/protocol/flows.md#responses (docs/protocol/flows.md#responses). In GA sessions a backend
also calls MCP tools: ``McpCallChunk`` then, once the call has run, ``McpResultChunk`` (the rules
are in ``rtcore.server.mcp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from .. import events as ev
from ..events import ga
from ..state import ItemState, Snapshot

__all__ = [
    "ResponseSettings",
    "StartResponse",
    "CancelResponse",
    "Transcribe",
    "ListMcpTools",
    "Effect",
    "TextChunk",
    "AudioChunk",
    "TranscriptChunk",
    "FunctionCallChunk",
    "ArgumentsChunk",
    "McpCallChunk",
    "McpResultChunk",
    "EndItem",
    "Finish",
    "OutputChunk",
]


class ResponseSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The effective settings of one response: session defaults with its overrides applied.

    One vocabulary for both dialects (see ``rtcore.state.session.SessionState``):
    ``output_modalities`` is ``("audio",)`` (audio with its transcript) or
    ``("text",)``; tools and tool choice are the GA objects, which hold every
    beta form; ``temperature`` is set only in beta sessions.
    """

    output_modalities: tuple[ev.Modality, ...]
    instructions: str
    voice: str | ga.VoiceId
    output_format: ev.AudioFormat
    tools: tuple[ga.Tool, ...]
    tool_choice: ga.ToolChoice
    max_output_tokens: ev.MaxTokens
    conversation: str
    metadata: dict[str, str] | None = None
    temperature: float | None = None
    prompt: ga.Prompt | None = None
    reasoning: ga.Reasoning | None = None
    parallel_tool_calls: bool | None = None

    @property
    def audio(self) -> bool:
        """Whether the response speaks."""
        return "audio" in self.output_modalities

    @property
    def output_audio_format(self) -> ev.AudioFormat:
        """The output format by its beta name (the same value as ``output_format``)."""
        return self.output_format

    @property
    def modalities(self) -> tuple[ev.Modality, ...]:
        """The modalities as beta reports them: ``("text", "audio")`` for an audio response."""
        return ("text", "audio") if self.audio else ("text",)

    @property
    def function_names(self) -> tuple[str, ...]:
        """The names of the function tools the model may call."""
        return tuple(
            t.name for t in self.tools if isinstance(t, ga.FunctionTool) and isinstance(t.name, str)
        )

    @property
    def mcp_servers(self) -> tuple[ga.McpTool, ...]:
        """The MCP servers whose tools the model may call."""
        return tuple(t for t in self.tools if isinstance(t, ga.McpTool))


class StartResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Produce the content of response ``response_id``.

    ``items`` is the prompt in order (the conversation, as a read-only view
    of the snapshot that costs nothing to make, or the response's own
    ``input``); ``input_audio`` holds the audio bytes of the user audio items
    among them (server echoes never carry audio); ``snapshot`` is the whole
    server state when the response began. ``trigger`` says whether the client
    asked (``response.create``) or server VAD did.
    """

    response_id: str
    settings: ResponseSettings
    items: Sequence[ItemState]
    input_audio: dict[str, bytes]
    snapshot: Snapshot
    trigger: Literal["client", "vad"]
    event_id: str | None = None


class CancelResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Stop producing response ``response_id``; its ``response.done`` has been sent."""

    response_id: str
    reason: Literal["client_cancelled", "turn_detected", "disconnect", "shutdown"]


class Transcribe(msgspec.Struct, frozen=True, kw_only=True):
    """Transcribe committed user audio; answer with ``complete_transcription`` or ``fail_transcription``."""

    item_id: str
    content_index: int
    audio: bytes
    audio_format: ev.AudioFormat
    settings: ga.Transcription


class ListMcpTools(msgspec.Struct, frozen=True, kw_only=True):
    """List the tools of MCP server ``tool`` into item ``item_id`` (GA sessions only).

    Answer with ``ServerSession.complete_mcp_listing(item_id, tools)`` or
    ``fail_mcp_listing(item_id)``; check ``mcp_listing_pending(item_id)``
    first (the client may have deleted the item meanwhile).
    """

    item_id: str
    tool: ga.McpTool


Effect = StartResponse | CancelResponse | Transcribe | ListMcpTools


# -- output chunks -----------------------------------------------------------------


class TextChunk(msgspec.Struct, frozen=True):
    """Text of a ``text`` part (opens a message item and a text part if needed)."""

    text: str


class AudioChunk(msgspec.Struct, frozen=True):
    """Audio bytes in the response's ``output_audio_format`` (opens an audio part if needed)."""

    audio: bytes


class TranscriptChunk(msgspec.Struct, frozen=True):
    """Transcript of the audio part being produced (opens an audio part if needed)."""

    text: str


class FunctionCallChunk(msgspec.Struct, frozen=True, kw_only=True):
    """Start a function call item (closing any open item); arguments may come whole or in chunks."""

    name: str
    arguments: str = ""
    call_id: str | None = None


class ArgumentsChunk(msgspec.Struct, frozen=True):
    """More JSON arguments for the function call being produced."""

    delta: str


class McpCallChunk(msgspec.Struct, frozen=True, kw_only=True):
    """Call tool ``name`` of the MCP server ``server_label`` with ``arguments`` (a JSON object).

    Closes any open item. When the tool needs an approval the conversation
    does not hold, this becomes an ``mcp_approval_request`` item instead and
    the backend should end the response; ``rtcore.server.mcp.mcp_verdict``
    tells beforehand which of the two will happen. Otherwise an ``mcp_call``
    item opens and waits for its ``McpResultChunk``.
    """

    server_label: str
    name: str
    arguments: str


class McpResultChunk(msgspec.Struct, frozen=True, kw_only=True):
    """The result of the open MCP call: exactly one of ``output`` and ``error``."""

    output: str | None = None
    error: ga.McpError | None = None


class EndItem(msgspec.Struct, frozen=True):
    """Close the item being produced, so that the next chunk starts a new one."""


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    """End the response (every open part and item is closed first)."""

    status: Literal["completed", "incomplete", "failed"] = "completed"
    details: ev.StatusDetails | None = None
    usage: ev.Usage | None = None


OutputChunk = (
    TextChunk
    | AudioChunk
    | TranscriptChunk
    | FunctionCallChunk
    | ArgumentsChunk
    | McpCallChunk
    | McpResultChunk
    | EndItem
    | Finish
)
