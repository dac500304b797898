"""Scripted scenarios: the JSON a ``ScriptBackend`` plays, and where it is in it (sans-IO).

A scenario is ``{"turns": [...], "transcripts": [...], "repeat": false,
"mcp_servers": {...}, "ms_per_char": 50, "realtime": false}``. Turn ``i``
answers the ``i``-th response (then the echo answers, or the turns start
over with ``repeat``); transcript ``j`` is the ``j``-th input transcription
(then the echo's description of the audio). A file is checked whole when it
is loaded: an unknown field, a wrong type or a value out of range is a
``ValueError`` that names the file and the place (``load_scenario``).

Everything here is decided without awaiting anything: ``Script`` keeps the
place in the scenario, ``turn_output`` and ``turn_finish`` make a turn's
chunks under its response's ``Output``, ``transcript_text`` makes a
transcript entry's result. ``rtcore_sim.script`` only adds the waits (a
turn's delays, the voice built off the loop).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from rtcore import events as ev
from rtcore.server import OutputChunk

from . import mcp
from .backend import TranscriptionFailed
from .output import MAX_AUDIO_CHUNK_MS, MAX_TEXT_CHUNK_CHARS, Output
from .speech import MAX_MS_PER_CHAR

__all__ = [
    "Scenario",
    "Turn",
    "ScriptToolCall",
    "ScriptError",
    "ScriptTranscript",
    "Script",
    "load_scenario",
    "tool_calls",
    "turn_finish",
    "transcript_text",
]

ChunkChars = Annotated[int, msgspec.Meta(ge=1, le=MAX_TEXT_CHUNK_CHARS)]
ChunkMs = Annotated[int, msgspec.Meta(ge=1, le=MAX_AUDIO_CHUNK_MS)]
DelayMs = Annotated[int, msgspec.Meta(ge=0)]


class ScriptToolCall(msgspec.Struct, forbid_unknown_fields=True):
    """A function call a turn makes: ``arguments`` is a JSON object or its text."""

    name: str
    arguments: Any = msgspec.field(default_factory=dict)
    call_id: str | None = None


class ScriptError(msgspec.Struct, forbid_unknown_fields=True):
    """The error of a failed turn or transcription."""

    type: str = "server_error"
    code: str | None = None
    message: str | None = None


class Turn(msgspec.Struct, forbid_unknown_fields=True):
    """One response of a scenario.

    Its output is produced in this order: ``mcp_calls``, ``text`` (spoken or
    written), then ``tool_calls``; then the response ends with ``status``.
    When the response's token limit cuts the output short, what is left is
    skipped and the response ends ``incomplete`` (``max_output_tokens``)
    whatever ``status`` says.
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

    def speaks(self, out: Output) -> bool:
        """Whether the text is spoken: ``audio`` if given, else the response's modalities."""
        return out.settings.audio if self.audio is None else (self.audio and out.settings.audio)


class ScriptTranscript(msgspec.Struct, forbid_unknown_fields=True):
    """One input transcription: its text, or the error it fails with, after ``delay_ms``."""

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


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; ``ValueError`` says what is wrong with it and where."""
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Scenario)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None


class Script:
    """The place in a scenario: which turn answers the next response, which transcript is next."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._turn = 0
        self._transcript = 0

    def next_turn(self) -> Turn | None:
        """The turn for the next response; ``None`` once the turns are played (without ``repeat``)."""
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

    def replay_turn(self) -> None:
        """Play the last turn again: its response ended on an approval request, the answer decides."""
        self._turn -= 1

    def next_transcript(self) -> ScriptTranscript | str | None:
        """The next transcript entry; ``None`` once they are used up."""
        entries = self.scenario.transcripts
        if self._transcript >= len(entries):
            return None
        entry = entries[self._transcript]
        self._transcript += 1
        return entry


def tool_calls(turn: Turn, out: Output) -> Iterator[OutputChunk]:
    """The turn's function calls, in order, as lazily as ``Output`` makes them."""
    for call in turn.tool_calls:
        arguments = (
            call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        )
        yield from out.function_call(call.name, arguments, turn.argument_chunk_chars, call.call_id)


def turn_finish(turn: Turn, out: Output) -> OutputChunk:
    """The end of a turn's response: its ``status``, unless the token budget was cut."""
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


def transcript_text(entry: ScriptTranscript | str) -> str:
    """The text an entry transcribes to; ``TranscriptionFailed`` for one with an error."""
    if isinstance(entry, str):
        return entry
    if entry.error is not None:
        raise TranscriptionFailed(
            ev.TranscriptionError(
                type=entry.error.type, code=entry.error.code, message=entry.error.message
            )
        )
    return entry.text or ""
