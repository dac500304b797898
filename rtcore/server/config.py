"""Server defaults and limits.

The default session is ``rtcore.rules.defaults.default_session`` (the same
in both dialects and for both roles); here are what only a server decides:
its default models and instructions, its per-session limits, and the rate
limits it reports. The model and connector tables of ``rtcore.rules.catalog``
are re-exported for the server's users.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .. import events as ev
from ..rules.catalog import (
    MCP_CONNECTORS,
    NO_PROMPT_TRANSCRIPTION_MODELS,
    STREAMING_TRANSCRIPTION_MODELS,
    TRANSCRIPTION_MEMBER_MODELS,
    TRANSCRIPTION_MODELS,
)
from ..rules.defaults import MAX_SESSION_SECONDS, default_session
from ..state.session import SessionState

__all__ = [
    "ServerLimits",
    "DEFAULT_MODEL",
    "DEFAULT_GA_MODEL",
    "default_config",
    "DEFAULT_INSTRUCTIONS",
    "default_rate_limits",
    "TRANSCRIPTION_MODELS",
    "STREAMING_TRANSCRIPTION_MODELS",
    "TRANSCRIPTION_MEMBER_MODELS",
    "NO_PROMPT_TRANSCRIPTION_MODELS",
    "MCP_CONNECTORS",
    "MAX_SESSION_SECONDS",
]

DEFAULT_MODEL = "gpt-4o-realtime-preview-2024-12-17"
"""The model of a beta session when the URL names none."""
DEFAULT_GA_MODEL = "gpt-realtime"
"""The model of a GA session when the URL names none."""
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant running on an rtcore Realtime endpoint. "
    "Answer briefly and clearly."
)


class ServerLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-session limits; exceeding one gets an ``error`` event, never a crash.

    ``max_append_bytes``: decoded audio per ``input_audio_buffer.append``
    (docs/protocol/connection.md#limits: 15 MiB). ``max_buffer_bytes``: uncommitted input audio.
    ``max_items``: conversation items, from every path (``conversation.item.create``,
    manual, VAD and idle-timeout commits, response output); at the limit a
    client request is refused (``conversation_full``), a VAD or idle-timeout
    commit is dropped with a ``conversation_full`` error event, and a response
    that would add an item ends ``failed`` with that code. ``min_commit_ms``:
    the shortest buffer a commit accepts (100 ms). ``max_session_bytes``: the
    session's memory budget (64 MiB) - uncommitted input audio, user audio
    still held, every item (text and transcripts counted per character,
    retained audio per byte, parts, ids and MCP tools by their decoded size; a
    response's output is counted when it ends) and the configuration a client
    set (instructions, tools and their schemas, MCP servers, prompts:
    ``rtcore.server.costs``); a request that would go past it is refused with
    ``session_memory_exceeded`` and changes nothing (a VAD commit's audio is
    dropped; an MCP listing that does not fit fails). ``max_out_of_band_responses``: out-of-band responses
    (``conversation: "none"``) running at once (8); one more is
    ``too_many_out_of_band_responses``. ``echo_bytes_per_second``: how fast the session
    may send back what the client already has (``session.updated``, ``conversation.item.
    retrieved``), counted at the size it is charged, with a burst of ``max_session_bytes``;
    an update or retrieve beyond is refused with ``echo_rate_exceeded`` (``echoes``).
    """

    max_append_bytes: int = 15 * 1024 * 1024
    max_buffer_bytes: int = 50 * 1024 * 1024
    max_items: int = 4096
    min_commit_ms: int = 100
    max_session_bytes: int = 64 * 1024 * 1024
    max_out_of_band_responses: int = 8
    max_parts: int = 1024
    max_tools: int = 128
    max_mcp_tools: int = 1024
    max_id_length: int = 128
    echo_bytes_per_second: int = 1024 * 1024


def default_config(
    session_id: str,
    *,
    model: str,
    created_at: int | None = None,
    kind: Literal["realtime", "transcription"] = "realtime",
    instructions: str = DEFAULT_INSTRUCTIONS,
) -> SessionState:
    """The effective configuration a session starts with (either dialect; ``rtcore.rules.defaults``)."""
    return default_session(
        session_id, model=model, created_at=created_at, kind=kind, instructions=instructions
    )


def default_rate_limits(responses_so_far: int) -> tuple[ev.RateLimit, ...]:
    """Nominal rate limits of a local endpoint (one request used per response)."""
    return (
        ev.RateLimit(
            name="requests",
            limit=20000,
            remaining=max(0, 19999 - responses_so_far),
            reset_seconds=0.003,
        ),
        ev.RateLimit(name="tokens", limit=15000000, remaining=15000000, reset_seconds=0.0),
    )
