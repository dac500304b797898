"""The server role: ``ServerSession``, its effects, and the backend's output chunks.

* ``ServerSession``: one Realtime session seen from the server, sans-IO, in
  either dialect (``session``). Client messages in (``receive_message``),
  server events out (``messages_to_send``), and what only the app can do
  handed back as effects.
* The effects: ``StartResponse`` (with the response's ``ResponseSettings``
  and the conversation it sees), ``CancelResponse``, ``Transcribe``,
  ``ListMcpTools``.
* The backend's output, given to ``ServerSession.produce``: ``TextChunk``,
  ``AudioChunk``, ``TranscriptChunk``, ``FunctionCallChunk``,
  ``ArgumentsChunk``, ``McpCallChunk``, ``McpResultChunk``, ``EndItem``,
  ``Finish`` (``OutputChunk`` is their union).
* ``ServerLimits``: what one session may hold; ``default_config`` the
  session a server starts with; ``DEFAULT_GA_MODEL`` (GA) and
  ``DEFAULT_MODEL`` (beta) the model reported when the URL names none.
* ``mcp_verdict``: whether a backend's MCP call runs or becomes an approval
  request (``McpVerdict``).

The protocol's rules the session applies are in ``rtcore.rules``; the
handshake's decisions (dialect, session type, model) in
``rtcore.wire.ServerConnection``.
"""

from .config import DEFAULT_GA_MODEL, DEFAULT_MODEL, ServerLimits, default_config
from .effects import (
    ArgumentsChunk,
    AudioChunk,
    CancelResponse,
    Effect,
    EndItem,
    Finish,
    FunctionCallChunk,
    ListMcpTools,
    McpCallChunk,
    McpResultChunk,
    OutputChunk,
    ResponseSettings,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from .mcp import McpVerdict, mcp_verdict
from .session import Received, ServerSession

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_GA_MODEL",
    "ArgumentsChunk",
    "AudioChunk",
    "CancelResponse",
    "Effect",
    "EndItem",
    "Finish",
    "FunctionCallChunk",
    "ListMcpTools",
    "McpCallChunk",
    "McpResultChunk",
    "McpVerdict",
    "OutputChunk",
    "Received",
    "ResponseSettings",
    "ServerLimits",
    "ServerSession",
    "StartResponse",
    "TextChunk",
    "Transcribe",
    "TranscriptChunk",
    "default_config",
    "mcp_verdict",
]
