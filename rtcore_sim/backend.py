"""The backend contract: what ``rtcore serve`` asks of whatever produces its answers.

A backend is any object with ``respond(request)`` returning an async iterator
of output chunks (``rtcore.server.TextChunk``, ``AudioChunk``,
``TranscriptChunk``, ``FunctionCallChunk``, ``ArgumentsChunk``,
``McpCallChunk``, ``McpResultChunk``, ``EndItem``, ``Finish``). The server
runs it in a task of its own and cancels that task when the client cancels
the response or barges in. A transcriber has ``async transcribe(request) ->
str`` and raises ``TranscriptionFailed`` to report a failure. A backend that
plays MCP servers (GA) has ``list_mcp_tools(tool)``, plain or async, and
raises ``McpListingFailed`` when it cannot list them.

The simulated models of this package meet this contract, and so does any
other backend: ``rtcore_trio`` re-exports these names, since they are what a
``RealtimeServer`` is given. Nothing here awaits anything but what the
server hands in (``ResponseRequest.transcript``), so the contract is free of
any event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from rtcore import events as ev
from rtcore.server import OutputChunk, ResponseSettings, StartResponse, Transcribe
from rtcore.state import ItemState

__all__ = [
    "Backend",
    "Transcriber",
    "ResponseRequest",
    "TranscriptionFailed",
    "McpListingFailed",
]


class ResponseRequest:
    """What a backend gets: the ``StartResponse`` effect, plus a way to wait for transcripts.

    ``transcript`` is the server's: given a user audio item's id, it waits
    for that item's input transcription (``None`` when none is coming).
    """

    def __init__(
        self, start: StartResponse, transcript: Callable[[str], Awaitable[str | None]] | None = None
    ) -> None:
        self.start = start
        self._transcript = transcript

    @property
    def response_id(self) -> str:
        return self.start.response_id

    @property
    def settings(self) -> ResponseSettings:
        return self.start.settings

    @property
    def items(self) -> Sequence[ItemState]:
        """The conversation the response sees, as a read-only view (not a copy)."""
        return self.start.items

    async def transcript(self, item_id: str) -> str | None:
        """The input transcription of a user audio item, waiting for it if it is on its way."""
        for item in self.items:
            if item.id == item_id:
                for part in item.content:
                    if (
                        part.type == "input_audio"
                        and part.transcript is not None
                        and part.transcript_done
                    ):
                        return part.transcript.value
        return None if self._transcript is None else await self._transcript(item_id)

    async def last_user_text(self, max_chars: int | None = None) -> str | None:
        """The text of the last user message, or its transcript: at most ``max_chars`` of it.

        Parts are joined with a space; once ``max_chars`` are gathered the rest
        is neither copied nor waited for.
        """
        for item in reversed(self.items):
            if item.role != "user":
                continue
            pieces: list[str] = []
            size = 0
            for part in item.content:
                if max_chars is not None and size >= max_chars:
                    break
                text: str | None = None
                if part.type == "input_text" and part.text is not None:
                    text = part.text.value
                elif part.type == "input_audio":
                    heard = await self.transcript(item.id)
                    text = None if heard is None else heard.strip()
                if not text:
                    continue
                if pieces:
                    text = " " + text
                if max_chars is not None:
                    text = text[: max_chars - size]
                pieces.append(text)
                size += len(text)
            return "".join(pieces) or None
        return None


class Backend(Protocol):
    """Produces the output of responses: ``respond`` streams one response's chunks."""

    def respond(self, request: ResponseRequest) -> AsyncIterator[OutputChunk]: ...


class TranscriptionFailed(Exception):
    """Raised by a transcriber: the item's transcription failed with ``error``."""

    def __init__(self, error: ev.TranscriptionError) -> None:
        super().__init__(error.message)
        self.error = error


class Transcriber(Protocol):
    """Produces input transcriptions: the text of one committed user audio item."""

    async def transcribe(self, request: Transcribe) -> str: ...


class McpListingFailed(Exception):
    """Raised by ``list_mcp_tools``: the server's tools cannot be listed."""
