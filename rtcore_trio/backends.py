"""Backends: what produces the content of responses and transcriptions for ``rtcore serve``.

A backend is any object with ``respond(request)`` returning an async iterator
of output chunks (``rtcore.server.TextChunk``, ``AudioChunk``,
``TranscriptChunk``, ``FunctionCallChunk``, ``ArgumentsChunk``, ``EndItem``,
``Finish``). The server runs it in its own task and cancels that task
(trio cancellation) when the client cancels the response or barges in. A
transcriber has ``async transcribe(request) -> str`` and raises
``TranscriptionFailed`` to report a failure.

Every session shares one event loop, so a backend must stream: make each
chunk when it is sent, reach a checkpoint between chunks, and push any
CPU-heavy step (a model, a codec, a big table) to a worker thread with
``run_off_loop``. The built-in backends follow ``rtcore_trio.speech``: chunks
of bounded size, ``trio.sleep(0)`` after each, nothing proportional to the
answer built up front, and the response's output token limit
(``max_output_tokens`` / ``max_response_output_tokens``) honoured: output
stops at the limit and the response ends ``incomplete`` with reason
``max_output_tokens`` (the token rule is in ``rtcore_trio.speech``).

Built in:

* ``EchoBackend`` answers with the text of the last user message or its
  transcript, at most ``max_echo_chars`` (default ``MAX_ECHO_CHARS``, 4096)
  characters of it: what a client sends bounds what the echo builds. With
  audio output on it speaks it as a deterministic synthetic waveform of
  ``ms_per_char`` (50 ms) per character, with the transcript alongside, so
  playback and truncation arithmetic can be tested. When the session has
  tools and the user names one, it calls that tool; after a tool output it
  reads the output back (also capped). Likewise for a listed MCP tool (GA):
  it calls it, reads its fixed result back, or asks for the approval the
  session requires (``rtcore_trio.mcp``).
* ``ScriptBackend`` plays a JSON scenario: per turn the text, audio, tool
  calls, MCP calls, errors, usage, chunk sizes and delays to produce (see
  ``Scenario``); the transcripts to return, in order; the MCP servers it
  plays (``rtcore_trio.mcp``).
* ``EchoTranscriber`` "transcribes" audio as a description of it
  (``"[1.50 s of audio]"``): there is no speech recognition here, but the
  events, their order and the timing are real.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

import msgspec
import trio

from rtcore import events as ev
from rtcore.audio.formats import FORMATS
from rtcore.events import ga
from rtcore.server import (
    McpResultChunk,
    OutputChunk,
    ResponseSettings,
    StartResponse,
    Transcribe,
)
from rtcore.state import ItemState

from . import mcp
from .speech import (
    MAX_AUDIO_CHUNK_MS,
    MAX_MS_PER_CHAR,
    MAX_TEXT_CHUNK_CHARS,
    Output,
    Voice,
    cached_voice,
    check_range,
    synthetic_speech,
    voice,
)

__all__ = [
    "Backend",
    "Transcriber",
    "TranscriptionFailed",
    "ResponseRequest",
    "EchoBackend",
    "EchoTranscriber",
    "ScriptBackend",
    "Scenario",
    "Turn",
    "MAX_ECHO_CHARS",
    "BACKEND_THREADS",
    "run_off_loop",
    "load_voice",
    "synthetic_speech",
    "load_backend",
]

MAX_ECHO_CHARS = 4096
"""The most the echo repeats of a user message or a tool output (the Realtime API's 4096-token cap)."""

T = TypeVar("T")


class ResponseRequest:
    """What a backend gets: the ``StartResponse`` effect, plus a way to wait for transcripts."""

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
    def respond(self, request: ResponseRequest) -> AsyncIterator[OutputChunk]: ...


class TranscriptionFailed(Exception):
    """Raised by a transcriber: the item's transcription failed with ``error``."""

    def __init__(self, error: ev.TranscriptionError) -> None:
        super().__init__(error.message)
        self.error = error


class Transcriber(Protocol):
    async def transcribe(self, request: Transcribe) -> str: ...


# -- work off the event loop -------------------------------------------------------------------

BACKEND_THREADS = 4
"""Worker threads ``run_off_loop`` uses at once (per trio run); further calls wait their turn."""

_limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
    "rtcore_backend_threads"
)

# trio 0.23 renamed ``cancellable`` to ``abandon_on_cancel``; accept both.
_ABANDON = (
    "abandon_on_cancel"
    if "abandon_on_cancel" in inspect.signature(trio.to_thread.run_sync).parameters
    else "cancellable"
)


def _backend_limiter() -> trio.CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = trio.CapacityLimiter(BACKEND_THREADS)
        _limiter.set(limiter)
        return limiter


async def run_off_loop(
    fn: Callable[..., T], *args: Any, limiter: trio.CapacityLimiter | None = None
) -> T:
    """``fn(*args)`` in a worker thread, so that every other session runs on meanwhile.

    For CPU-heavy steps of a backend (a model, a big codec or table, parsing a
    large document). At most ``BACKEND_THREADS`` calls run at once (or as many
    as ``limiter`` allows), so a flood of responses queues instead of starting
    threads without bound. A cancelled caller (a cancelled response) returns
    at once; the thread finishes in the background, its result is dropped,
    and its slot is freed only then, so abandoned work still counts against
    the limit. ``fn`` must not touch trio objects.
    """
    if limiter is None:
        limiter = _backend_limiter()
    options: dict[str, Any] = {_ABANDON: True, "limiter": limiter}
    result: T = await trio.to_thread.run_sync(fn, *args, **options)
    return result


async def load_voice(fmt: ev.AudioFormat, ms_per_char: int) -> Voice:
    """The synthetic voice, built in a worker thread the first time (up to ~10 ms at 1 s per char)."""
    found = cached_voice(fmt, ms_per_char)
    if found is None:
        found = await run_off_loop(voice, fmt, ms_per_char)
    return found


# -- echo -------------------------------------------------------------------------------------


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
            tool = self._tool_named(reply, settings)
            conversation = request.start.snapshot.conversation
            named = None
            if tool is None and settings.tool_choice != "none":
                named = mcp.named_mcp_tool(reply, settings.tools, conversation)
            if tool is not None:
                arguments = json.dumps({"text": reply})
                parts = out.function_call(tool, arguments, self.argument_chunk_chars)
            elif named is not None:
                parts = await self._mcp_call(named, reply, settings, conversation, out)
            else:
                parts = await self._say(reply, out)
        # Each chunk is made only when the previous one has been sent and the loop has run on.
        for chunk in parts:
            yield chunk
            await out.pause(chunk)
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

    @staticmethod
    def _tool_named(text: str, settings: ResponseSettings) -> str | None:
        if settings.tool_choice == "none":
            return None
        names = settings.function_names
        lowered = text.lower()
        for name in names:
            if name.lower() in lowered:
                return name
        if settings.tool_choice == "required" and names:
            return names[0]
        return None


class EchoTranscriber:
    """Describes the audio instead of recognising it: ``"[1.50 s of audio]"``."""

    async def transcribe(self, request: Transcribe) -> str:
        info = FORMATS[request.audio_format]
        seconds = len(request.audio) / info.sample_width / info.sample_rate
        return f"[{seconds:.2f} s of audio]"


# -- script -------------------------------------------------------------------------------------

ChunkChars = Annotated[int, msgspec.Meta(ge=1, le=MAX_TEXT_CHUNK_CHARS)]
ChunkMs = Annotated[int, msgspec.Meta(ge=1, le=MAX_AUDIO_CHUNK_MS)]
DelayMs = Annotated[int, msgspec.Meta(ge=0)]


class ScriptToolCall(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    arguments: Any = msgspec.field(default_factory=dict)
    call_id: str | None = None


class ScriptError(msgspec.Struct, forbid_unknown_fields=True):
    type: str = "server_error"
    code: str | None = None
    message: str | None = None


class Turn(msgspec.Struct, forbid_unknown_fields=True):
    """One response of a scenario.

    Its output is produced in this order: ``text`` (spoken or written), then
    ``tool_calls``; then the response ends with ``status``. When the
    response's token limit cuts the output short, what is left is skipped and
    the response ends ``incomplete`` (``max_output_tokens``) whatever
    ``status`` says.
    """

    text: str = ""
    audio: bool | None = None
    """Speak ``text`` as synthetic audio; by default when the response has audio output."""
    tool_calls: list[ScriptToolCall] = msgspec.field(default_factory=list)
    mcp_calls: list[mcp.ScriptMcpCall] = msgspec.field(default_factory=list)
    """Made first; one that needs an approval ends the response, and the turn plays again."""
    status: Literal["completed", "incomplete", "failed"] = "completed"
    reason: Literal["max_output_tokens", "content_filter"] | None = None
    error: ScriptError | None = None
    usage: ev.Usage | None = None
    text_chunk_chars: ChunkChars = 8
    audio_chunk_ms: ChunkMs = 100
    argument_chunk_chars: ChunkChars = 16
    delay_ms: DelayMs = 0
    """Pause between chunks."""
    first_delay_ms: DelayMs = 0
    """Pause before the first chunk (time to first token)."""


class ScriptTranscript(msgspec.Struct, forbid_unknown_fields=True):
    text: str | None = None
    error: ScriptError | None = None
    delay_ms: DelayMs = 0


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    """A JSON scenario for ``ScriptBackend``: ``{"turns": [...], "transcripts": [...], "repeat": false}``."""

    turns: list[Turn] = msgspec.field(default_factory=list)
    transcripts: list[ScriptTranscript | str] = msgspec.field(default_factory=list)
    repeat: bool = False
    mcp_servers: dict[str, mcp.ScriptMcpServer] = msgspec.field(default_factory=dict)
    ms_per_char: Annotated[int, msgspec.Meta(ge=1, le=MAX_MS_PER_CHAR)] = 50
    realtime: bool = False


class ScriptBackend:
    """Plays a ``Scenario``: turn ``i`` answers the ``i``-th response; then echo (or repeat)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._turn = 0
        self._transcript = 0
        self._echo = EchoBackend(ms_per_char=scenario.ms_per_char, realtime=scenario.realtime)

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptBackend:
        """Load a scenario; ``ValueError`` says what is wrong with the file and where."""
        try:
            return cls(msgspec.json.decode(Path(path).read_bytes(), type=Scenario))
        except msgspec.ValidationError as exc:
            raise ValueError(f"{path}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None

    def _next_turn(self) -> Turn | None:
        turns = self.scenario.turns
        if not turns:
            return None
        if self._turn >= len(turns):
            if not self.scenario.repeat:
                return None
            self._turn = 0
        turn = turns[self._turn]
        self._turn += 1
        return turn

    async def respond(self, request: ResponseRequest) -> AsyncIterator[OutputChunk]:
        turn = self._next_turn()
        if turn is None:
            async for chunk in self._echo.respond(request):
                yield chunk
            return
        settings = request.settings
        out = Output(settings, realtime=self.scenario.realtime, delay=turn.delay_ms / 1000)
        if turn.first_delay_ms:
            await trio.sleep(turn.first_delay_ms / 1000)
        calls, asked = mcp.script_calls(turn.mcp_calls, request.start, self.scenario.mcp_servers)
        if asked:
            self._turn -= 1  # the approval request ends the response; the answer replays the turn
            for chunk in calls:
                yield chunk
                await out.pause(chunk)
            yield out.finish()
            return
        parts = [calls, await self._text(turn, out)]
        for call in turn.tool_calls:
            arguments = (
                call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            )
            parts.append(
                out.function_call(call.name, arguments, turn.argument_chunk_chars, call.call_id)
            )
        # The parts are lazy generators: each consults the budget only when its turn comes.
        for chunk in itertools.chain.from_iterable(parts):
            yield chunk
            await out.pause(chunk)
        yield self._finish(turn, out)

    async def _text(self, turn: Turn, out: Output) -> Iterable[OutputChunk]:
        if not turn.text:
            return ()
        speak = out.settings.audio if turn.audio is None else (turn.audio and out.settings.audio)
        if not speak:
            return out.text(turn.text, turn.text_chunk_chars)
        speaker = await load_voice(out.settings.output_audio_format, self.scenario.ms_per_char)
        return out.speech(turn.text, speaker, turn.audio_chunk_ms)

    @staticmethod
    def _finish(turn: Turn, out: Output) -> OutputChunk:
        details = None
        if turn.status == "incomplete":
            details = ev.StatusDetails(type="incomplete", reason=turn.reason or "max_output_tokens")
        elif turn.status == "failed":
            err = turn.error or ScriptError()
            details = ev.StatusDetails(
                type="failed",
                error=ev.StatusError(type=err.type, code=err.code, message=err.message or ev.UNSET),
            )
        return out.finish(turn.status, details, turn.usage)

    def list_mcp_tools(self, tool: ga.McpTool) -> tuple[ga.McpListedTool, ...]:
        return mcp.script_listing(self.scenario.mcp_servers, tool)

    async def transcribe(self, request: Transcribe) -> str:
        """The scenario's transcripts, in order; then the echo description."""
        entries = self.scenario.transcripts
        if self._transcript >= len(entries):
            return await EchoTranscriber().transcribe(request)
        entry = entries[self._transcript]
        self._transcript += 1
        if isinstance(entry, str):
            return entry
        if entry.delay_ms:
            await trio.sleep(entry.delay_ms / 1000)
        if entry.error is not None:
            raise TranscriptionFailed(
                ev.TranscriptionError(
                    type=entry.error.type, code=entry.error.code, message=entry.error.message
                )
            )
        return entry.text or ""


def load_backend(spec: str, *, realtime: bool = False) -> tuple[Backend, Transcriber]:
    """A backend and transcriber from the command line's ``--backend`` value (``echo`` or ``script:FILE``)."""
    if spec == "echo":
        return EchoBackend(realtime=realtime), EchoTranscriber()
    if spec.startswith("script:"):
        script = ScriptBackend.from_file(spec[len("script:") :])
        if realtime:
            script.scenario.realtime = True
            script._echo.realtime = True
        return script, script
    raise ValueError(f"unknown backend {spec!r}: use 'echo' or 'script:FILE'")
