"""The script model: ``ScriptBackend`` plays a JSON scenario, and ``load_backend`` reads ``--backend``.

``ScriptBackend`` answers the ``i``-th response with turn ``i`` of its
``Scenario`` (``rtcore_sim.scenario``): the text, audio, tool calls, MCP
calls, errors, usage, chunk sizes and delays to produce; the transcripts to
return, in order; the MCP servers it plays (``rtcore_sim.mcp``). Once the
turns are played it answers as the echo does (or starts over with
``repeat``). Everything is decided by the sans-IO scenario module; here are
only the waits (the delays, the voice built off the loop, the checkpoint
after each chunk).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import trio

from rtcore.events import ga
from rtcore.server import OutputChunk, Transcribe

from . import mcp
from .backend import Backend, ResponseRequest, Transcriber
from .echo import EchoBackend, EchoTranscriber, describe_audio
from .loop import load_voice
from .output import Output
from .scenario import (
    Scenario,
    Script,
    Turn,
    load_scenario,
    tool_calls,
    transcript_text,
    turn_finish,
)

__all__ = ["ScriptBackend", "load_backend"]


class ScriptBackend:
    """Plays a ``Scenario``: turn ``i`` answers the ``i``-th response; then echo (or repeat)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._script = Script(scenario)
        self._echo = EchoBackend(ms_per_char=scenario.ms_per_char, realtime=scenario.realtime)

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptBackend:
        """Load a scenario; ``ValueError`` says what is wrong with the file and where."""
        return cls(load_scenario(path))

    @property
    def realtime(self) -> bool:
        """Pace audio output in real time (the scenario's ``realtime``, for the echo too)."""
        return self.scenario.realtime

    @realtime.setter
    def realtime(self, value: bool) -> None:
        self.scenario.realtime = value
        self._echo.realtime = value

    async def respond(self, request: ResponseRequest) -> AsyncIterator[OutputChunk]:
        turn = self._script.next_turn()
        if turn is None:
            async for chunk in self._echo.respond(request):
                yield chunk
            return
        out = Output(request.settings, realtime=self.scenario.realtime, delay=turn.delay_ms / 1000)
        if turn.first_delay_ms:
            await trio.sleep(turn.first_delay_ms / 1000)
        calls, asked = mcp.script_calls(turn.mcp_calls, request.start, self.scenario.mcp_servers)
        parts: Iterable[OutputChunk]
        if asked:
            # The approval request ends the response; the client's answer replays the turn.
            self._script.replay_turn()
            parts = calls
        else:
            # Lazy generators: each consults the budget only when its turn comes.
            parts = itertools.chain(calls, await self._text(turn, out), tool_calls(turn, out))
        for chunk in parts:
            yield chunk
            await trio.sleep(out.pause_after(chunk))
        yield out.finish() if asked else turn_finish(turn, out)

    async def _text(self, turn: Turn, out: Output) -> Iterable[OutputChunk]:
        if not turn.text:
            return ()
        if not turn.speaks(out):
            return out.text(turn.text, turn.text_chunk_chars)
        speaker = await load_voice(out.settings.output_audio_format, self.scenario.ms_per_char)
        return out.speech(turn.text, speaker, turn.audio_chunk_ms)

    def list_mcp_tools(self, tool: ga.McpTool) -> tuple[ga.McpListedTool, ...]:
        return mcp.script_listing(self.scenario.mcp_servers, tool)

    async def transcribe(self, request: Transcribe) -> str:
        """The scenario's transcripts, in order; then the echo's description."""
        entry = self._script.next_transcript()
        if entry is None:
            return describe_audio(request)
        if not isinstance(entry, str) and entry.delay_ms:
            await trio.sleep(entry.delay_ms / 1000)
        return transcript_text(entry)


def load_backend(spec: str, *, realtime: bool = False) -> tuple[Backend, Transcriber]:
    """A backend and transcriber from the command line's ``--backend`` value (``echo`` or ``script:FILE``)."""
    if spec == "echo":
        return EchoBackend(realtime=realtime), EchoTranscriber()
    if spec.startswith("script:"):
        script = ScriptBackend.from_file(spec[len("script:") :])
        if realtime:
            script.realtime = True
        return script, script
    raise ValueError(
        f"unknown backend {spec!r}: use 'echo' or 'script:FILE' (rtcore serve also plays 'cassette:FILE')"
    )
