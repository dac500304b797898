"""Backends: what produces the content of responses and transcriptions for ``rtcore serve``.

A backend is any object with ``respond(request)`` returning an async iterator
of output chunks (``rtcore.server.TextChunk``, ``AudioChunk``,
``TranscriptChunk``, ``FunctionCallChunk``, ``ArgumentsChunk``, ``EndItem``,
``Finish``). The server runs it in its own task and cancels that task
(trio cancellation) when the client cancels the response or barges in. A
transcriber has ``async transcribe(request) -> str`` and raises
``TranscriptionFailed`` to report a failure.

Built in:

* ``EchoBackend`` answers with the text of the last user message or its
  transcript. With audio output on it speaks it as a deterministic synthetic
  waveform whose length follows the text (``ms_per_char``), with the
  transcript alongside, so playback and truncation arithmetic can be tested.
  When the session has tools and the user names one, it calls that tool; after
  a tool output it reads the output back.
* ``ScriptBackend`` plays a JSON scenario: per turn the text, audio, tool
  calls, errors, usage, chunk sizes and delays to produce (see
  ``Scenario``); and the transcripts to return, in order.
* ``EchoTranscriber`` "transcribes" audio as a description of it
  (``"[1.50 s of audio]"``): there is no speech recognition here, but the
  events, their order and the timing are real.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec
import numpy as np
import trio

from rtcore import events as ev
from rtcore.audio.codecs import from_linear
from rtcore.audio.formats import FORMATS
from rtcore.server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    ResponseSettings,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from rtcore.state import ItemState

__all__ = [
    "Backend",
    "Transcriber",
    "TranscriptionFailed",
    "ResponseRequest",
    "EchoBackend",
    "EchoTranscriber",
    "ScriptBackend",
    "Scenario",
    "synthetic_speech",
    "load_backend",
]


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
    def items(self) -> tuple[ItemState, ...]:
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

    async def last_user_text(self) -> str | None:
        """The text of the last user message, or its transcript."""
        for item in reversed(self.items):
            if item.role != "user":
                continue
            texts = []
            for part in item.content:
                if part.type == "input_text" and part.text is not None:
                    texts.append(part.text.value)
                elif part.type == "input_audio":
                    heard = await self.transcript(item.id)
                    if heard is not None:
                        texts.append(heard.strip())
            return " ".join(t for t in texts if t) or None
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


# -- synthetic speech ----------------------------------------------------------------------


def synthetic_speech(text: str, fmt: ev.AudioFormat, ms_per_char: int = 50) -> bytes:
    """A deterministic waveform for ``text``: ``ms_per_char`` of a tone per character.

    Each character gets its own pitch (spaces are quiet), so the result is
    repeatable, audible, and exactly ``len(text) * ms_per_char`` ms long.
    """
    info = FORMATS[fmt]
    per_char = info.sample_rate * ms_per_char // 1000
    t = np.arange(per_char, dtype=np.float64) / info.sample_rate
    envelope = np.minimum(
        1.0, np.minimum(np.arange(per_char), np.arange(per_char)[::-1]) / (per_char / 8 + 1)
    )
    pieces = []
    for char in text:
        if char.isspace():
            pieces.append(np.zeros(per_char))
            continue
        pitch = 180.0 + (ord(char) % 24) * 15.0
        pieces.append(0.3 * 32767 * envelope * np.sin(2 * math.pi * pitch * t))
    samples = np.concatenate(pieces) if pieces else np.zeros(0)
    return from_linear(samples.astype(np.int16), fmt)


async def _speak(
    text: str, settings: ResponseSettings, ms_per_char: int, chunk_ms: int, pace: bool, delay: float
) -> AsyncIterator[OutputChunk]:
    """Audio and transcript chunks for ``text``: each word's transcript just before its audio."""
    fmt = settings.output_audio_format
    info = FORMATS[fmt]
    chunk_bytes = max(info.sample_width, info.sample_rate * chunk_ms // 1000 * info.sample_width)
    char_bytes = info.sample_rate * ms_per_char // 1000 * info.sample_width
    audio = synthetic_speech(text, fmt, ms_per_char)
    words: list[tuple[int, str]] = []  # (first audio byte, text) of each word and its space
    offset = 0
    for piece in text.split(" "):
        if words:
            words[-1] = (words[-1][0], words[-1][1] + " ")
            offset += char_bytes
        words.append((offset, piece))
        offset += len(piece) * char_bytes
    word = 0
    for start in range(0, len(audio), chunk_bytes):
        chunk = audio[start : start + chunk_bytes]
        while word < len(words) and words[word][0] < start + len(chunk):
            yield TranscriptChunk(words[word][1])
            word += 1
        yield AudioChunk(chunk)
        if pace:
            await trio.sleep(len(chunk) / info.sample_width / info.sample_rate)
        elif delay:
            await trio.sleep(delay)
    for _, rest in words[word:]:
        yield TranscriptChunk(rest)


def _text_chunks(text: str, size: int) -> list[str]:
    if size <= 0:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# -- echo -------------------------------------------------------------------------------------


class EchoBackend:
    """Echoes the user: see the module docstring for the rules."""

    def __init__(
        self,
        *,
        ms_per_char: int = 50,
        audio_chunk_ms: int = 100,
        text_chunk_chars: int = 8,
        realtime: bool = False,
        transcript_wait: float = 5.0,
    ) -> None:
        self.ms_per_char = ms_per_char
        self.audio_chunk_ms = audio_chunk_ms
        self.text_chunk_chars = text_chunk_chars
        self.realtime = realtime
        self.transcript_wait = transcript_wait

    async def respond(self, request: ResponseRequest) -> AsyncIterator[OutputChunk]:
        settings = request.settings
        last = request.items[-1] if request.items else None
        if last is not None and last.type == "function_call_output":
            reply = f"The tool returned: {last.output or ''}"
        else:
            with trio.move_on_after(self.transcript_wait):
                heard = await request.last_user_text()
            reply = heard if heard else "I heard nothing to repeat."
            tool = self._tool_named(reply, settings)
            if tool is not None:
                yield FunctionCallChunk(name=tool, arguments=json.dumps({"text": reply}))
                yield Finish()
                return
        if settings.audio:
            async for chunk in _speak(
                reply, settings, self.ms_per_char, self.audio_chunk_ms, self.realtime, 0.0
            ):
                yield chunk
        else:
            for piece in _text_chunks(reply, self.text_chunk_chars):
                yield TextChunk(piece)
        yield Finish()

    @staticmethod
    def _tool_named(text: str, settings: ResponseSettings) -> str | None:
        if settings.tool_choice == "none":
            return None
        lowered = text.lower()
        for tool in settings.tools:
            if tool.name.lower() in lowered:
                return tool.name
        if settings.tool_choice == "required" and settings.tools:
            return settings.tools[0].name
        return None


class EchoTranscriber:
    """Describes the audio instead of recognising it: ``"[1.50 s of audio]"``."""

    async def transcribe(self, request: Transcribe) -> str:
        info = FORMATS[request.audio_format]
        seconds = len(request.audio) / info.sample_width / info.sample_rate
        return f"[{seconds:.2f} s of audio]"


# -- script -------------------------------------------------------------------------------------


class ScriptToolCall(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    arguments: Any = msgspec.field(default_factory=dict)
    call_id: str | None = None


class ScriptError(msgspec.Struct, forbid_unknown_fields=True):
    type: str = "server_error"
    code: str | None = None
    message: str | None = None


class Turn(msgspec.Struct, forbid_unknown_fields=True):
    """One response of a scenario."""

    text: str = ""
    audio: bool | None = None
    """Speak ``text`` as synthetic audio; by default when the response has audio output."""
    tool_calls: list[ScriptToolCall] = msgspec.field(default_factory=list)
    status: Literal["completed", "incomplete", "failed"] = "completed"
    reason: Literal["max_output_tokens", "content_filter"] | None = None
    error: ScriptError | None = None
    usage: ev.Usage | None = None
    text_chunk_chars: int = 8
    audio_chunk_ms: int = 100
    argument_chunk_chars: int = 16
    delay_ms: int = 0
    """Pause between chunks."""
    first_delay_ms: int = 0
    """Pause before the first chunk (time to first token)."""


class ScriptTranscript(msgspec.Struct, forbid_unknown_fields=True):
    text: str | None = None
    error: ScriptError | None = None
    delay_ms: int = 0


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    """A JSON scenario for ``ScriptBackend``: ``{"turns": [...], "transcripts": [...], "repeat": false}``."""

    turns: list[Turn] = msgspec.field(default_factory=list)
    transcripts: list[ScriptTranscript | str] = msgspec.field(default_factory=list)
    repeat: bool = False
    ms_per_char: int = 50
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
        delay = turn.delay_ms / 1000
        if turn.first_delay_ms:
            await trio.sleep(turn.first_delay_ms / 1000)
        if turn.text:
            speak = (
                request.settings.audio
                if turn.audio is None
                else (turn.audio and request.settings.audio)
            )
            if speak:
                stream = _speak(
                    turn.text,
                    request.settings,
                    self.scenario.ms_per_char,
                    turn.audio_chunk_ms,
                    self.scenario.realtime,
                    delay,
                )
                async for chunk in stream:
                    yield chunk
            else:
                for piece in _text_chunks(turn.text, turn.text_chunk_chars):
                    yield TextChunk(piece)
                    if delay:
                        await trio.sleep(delay)
        for call in turn.tool_calls:
            arguments = (
                call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            )
            yield FunctionCallChunk(name=call.name, call_id=call.call_id)
            for piece in _text_chunks(arguments, turn.argument_chunk_chars):
                yield ArgumentsChunk(piece)
                if delay:
                    await trio.sleep(delay)
        details = None
        if turn.status == "incomplete":
            details = ev.StatusDetails(type="incomplete", reason=turn.reason or "max_output_tokens")
        elif turn.status == "failed":
            err = turn.error or ScriptError()
            details = ev.StatusDetails(
                type="failed",
                error=ev.StatusError(type=err.type, code=err.code, message=err.message or ev.UNSET),
            )
        yield Finish(status=turn.status, details=details, usage=turn.usage)

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
