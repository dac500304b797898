"""The echo model: ``rtcore serve``'s default backend and transcriber.

* ``EchoBackend`` answers with the text of the last user message or its
  transcript, at most ``max_echo_chars`` (default ``MAX_ECHO_CHARS``, 4096)
  characters of it: what a client sends bounds what the echo builds. With
  audio output on it speaks it as a deterministic synthetic waveform of
  ``ms_per_char`` (50 ms) per character (``rtcore_sim.speech``), with the
  transcript alongside, so playback and truncation arithmetic can be tested.
  When the session has tools and the user names one, it calls that tool
  with arguments that fit the tool's JSON Schema (``rtcore_sim.arguments``:
  what the user said in its strings; ``{}`` for a tool without parameters);
  after a tool output it reads the output back (also capped). Likewise for a
  listed MCP tool (GA): it calls it, reads its fixed result back, or asks for
  the approval the session requires (``rtcore_sim.mcp``). The lookup is a
  bounded scan, on the event loop: only the first ``MAX_TOOLS_LOOKED_AT``
  (1024) function tools and the first 1024 listed MCP tools are candidates,
  so that a response costs the same with 10 tools and with 300 000.
* ``EchoTranscriber`` "transcribes" audio as a description of it
  (``"[1.50 s of audio]"``): there is no speech recognition here, but the
  events, their order and the timing are real.

Output streams under the response's token limit (``max_output_tokens`` /
``max_response_output_tokens``, ``rtcore_sim.output``): it stops at the limit
and the response ends ``incomplete`` with reason ``max_output_tokens``. The
decisions are sans-IO; only the waits are trio's: a transcript on its way,
the voice built in a worker thread (``rtcore_sim.loop``), and the checkpoint
after each chunk (``Output.pause_after``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import trio

from rtcore.audio.formats import FORMATS
from rtcore.events import ga
from rtcore.server import McpResultChunk, OutputChunk, ResponseSettings, Transcribe

from . import mcp
from .arguments import arguments_for
from .backend import ResponseRequest
from .loop import load_voice
from .mcp import MAX_TOOLS_LOOKED_AT
from .output import MAX_AUDIO_CHUNK_MS, MAX_TEXT_CHUNK_CHARS, Output
from .speech import MAX_MS_PER_CHAR, check_range

__all__ = [
    "MAX_ECHO_CHARS",
    "MAX_TOOLS_LOOKED_AT",
    "EchoBackend",
    "EchoTranscriber",
    "describe_audio",
    "tool_named",
    "tool_parameters",
]

MAX_ECHO_CHARS = 4096
"""The most the echo repeats of a user message or a tool output (the Realtime API's 4096-token cap)."""


def _function_tools(settings: ResponseSettings) -> Iterator[ga.FunctionTool]:
    """The function tools the echo considers: those among the first ``MAX_TOOLS_LOOKED_AT``."""
    for tool in itertools.islice(settings.tools, MAX_TOOLS_LOOKED_AT):
        if isinstance(tool, ga.FunctionTool) and isinstance(tool.name, str):
            yield tool


def tool_named(text: str, settings: ResponseSettings) -> str | None:
    """The function tool the echo calls for ``text``: the first one it names, as ``tool_choice``
    allows (a bounded scan: see the module docstring)."""
    if settings.tool_choice == "none":
        return None
    lowered = text.lower()
    first: str | None = None
    for tool in _function_tools(settings):
        name = tool.name
        assert isinstance(name, str)
        if first is None:
            first = name
        if name.lower() in lowered:
            return name
    if settings.tool_choice == "required":
        return first
    return None


def tool_parameters(name: str, settings: ResponseSettings) -> object:
    """The JSON Schema of function tool ``name``'s parameters (``None`` when it declares none)."""
    for tool in _function_tools(settings):
        if tool.name == name:
            return tool.parameters if isinstance(tool.parameters, dict) else None
    return None


class EchoBackend:
    """Echoes the user: see the module docstring for the rules."""

    def __init__(
        self,
        *,
        ms_per_char: int = 50,
        audio_chunk_ms: int = 100,
        text_chunk_chars: int = 8,
        argument_chunk_chars: int = 256,
        realtime: bool = False,
        transcript_wait: float = 5.0,
        max_echo_chars: int | None = MAX_ECHO_CHARS,
    ) -> None:
        self.ms_per_char = check_range("ms_per_char", ms_per_char, 1, MAX_MS_PER_CHAR)
        self.audio_chunk_ms = check_range("audio_chunk_ms", audio_chunk_ms, 1, MAX_AUDIO_CHUNK_MS)
        self.text_chunk_chars = check_range(
            "text_chunk_chars", text_chunk_chars, 1, MAX_TEXT_CHUNK_CHARS
        )
        self.argument_chunk_chars = check_range(
            "argument_chunk_chars", argument_chunk_chars, 1, MAX_TEXT_CHUNK_CHARS
        )
        self.realtime = realtime
        self.transcript_wait = transcript_wait
        if max_echo_chars is not None:
            check_range("max_echo_chars", max_echo_chars, 1, 2**31)
        self.max_echo_chars = max_echo_chars
        """``None`` lifts the cap: then only the message size limit bounds the echo."""

    async def respond(self, request: ResponseRequest) -> AsyncIterator[OutputChunk]:
        settings = request.settings
        out = Output(settings, realtime=self.realtime)
        cap = self.max_echo_chars
        last = request.items[-1] if request.items else None
        parts: Iterable[OutputChunk]
        if last is not None and last.type == "function_call_output":
            parts = await self._say("The tool returned: " + (last.output or "")[:cap], out)
        else:
            heard = None
            with trio.move_on_after(self.transcript_wait):
                heard = await request.last_user_text(cap)
            reply = heard if heard else "I heard nothing to repeat."
            tool = tool_named(reply, settings)
            conversation = request.start.snapshot.conversation
            named = None
            if tool is None and settings.tool_choice != "none":
                named = mcp.named_mcp_tool(reply, settings.tools, conversation)
            if tool is not None:
                arguments = json.dumps(arguments_for(tool_parameters(tool, settings), reply))
                parts = out.function_call(tool, arguments, self.argument_chunk_chars)
            elif named is not None:
                parts = await self._mcp_call(named, reply, settings, conversation, out)
            else:
                parts = await self._say(reply, out)
        # Each chunk is made only when the previous one has been sent and the loop has run on.
        for chunk in parts:
            yield chunk
            await trio.sleep(out.pause_after(chunk))
        yield out.finish()

    def list_mcp_tools(self, tool: ga.McpTool) -> tuple[ga.McpListedTool, ...]:
        return mcp.echo_listing(tool)

    async def _mcp_call(
        self,
        named: tuple[str, str],
        reply: str,
        settings: ResponseSettings,
        items: Any,
        out: Output,
    ) -> Iterable[OutputChunk]:
        label, name = named
        chunks, happened = mcp.call_chunks(
            settings.tools,
            items,
            label,
            name,
            {"text": reply},
            lambda *call: McpResultChunk(output=mcp.echo_output(*call)),
        )
        if happened == "ask":  # the call became an approval request: the response ends
            return chunks
        if happened == "denied":
            return await self._say(f"The call of {name} was not approved.", out)
        result = chunks[-1]
        assert isinstance(result, McpResultChunk) and result.output is not None
        said = await self._say("The tool returned: " + result.output[: self.max_echo_chars], out)
        return itertools.chain(chunks, said)

    async def _say(self, text: str, out: Output) -> Iterable[OutputChunk]:
        settings = out.settings
        if not settings.audio:
            return out.text(text, self.text_chunk_chars)
        speaker = await load_voice(settings.output_audio_format, self.ms_per_char)
        return out.speech(text, speaker, self.audio_chunk_ms)


class EchoTranscriber:
    """Describes the audio instead of recognising it: ``"[1.50 s of audio]"``."""

    async def transcribe(self, request: Transcribe) -> str:
        return describe_audio(request)


def describe_audio(request: Transcribe) -> str:
    """The echo's transcript of an item's audio: its duration (``"[1.50 s of audio]"``)."""
    info = FORMATS[request.audio_format]
    seconds = len(request.audio) / info.sample_width / info.sample_rate
    return f"[{seconds:.2f} s of audio]"
