"""One response's output for the simulated models: bounded chunks under a token budget (sans-IO).

The echo and script backends turn a text into response chunks here, under
three rules that keep one response from hurting every other session on the
event loop:

* **Nothing proportional to the answer is built up front.** ``Output``'s
  generators make each chunk when it is asked for; speech comes from a
  ``rtcore_sim.speech.Voice``, whose cost is the chunk's, not the answer's.
* **Chunks are bounded.** At most ``MAX_AUDIO_CHUNK_MS`` of audio and
  ``MAX_TEXT_CHUNK_CHARS`` of text or function arguments per chunk; a
  transcript chunk covers the characters its audio chunk starts, plus at most
  ``TRANSCRIPT_LOOKAHEAD`` more to finish the word.
* **A checkpoint after every chunk.** ``Output.pause_after(chunk)`` says how
  long to pause after each chunk (0 unless the response is paced); the
  backend (``EchoBackend``, ``ScriptBackend``) sleeps that long after
  yielding the chunk, so other tasks run between any two chunks.

**Output tokens** (what ``max_output_tokens`` / ``max_response_output_tokens``
limit): one token per ``CHARS_PER_TOKEN`` (4) characters of text or function
arguments, and one per ``MS_PER_AUDIO_TOKEN`` (50) ms of audio, each rounded
up; an audio part's transcript rides along uncounted. With the default voice
(50 ms per character) one spoken character costs one token. Output that would
pass the limit stops exactly at it and marks the budget ``cut``;
``Output.finish`` then ends the response ``incomplete`` with reason
``max_output_tokens``, as the Realtime API does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from rtcore import events as ev
from rtcore.audio.formats import FORMATS
from rtcore.server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    OutputChunk,
    ResponseSettings,
    TextChunk,
    TranscriptChunk,
)

from .speech import Voice, check_range

__all__ = [
    "CHARS_PER_TOKEN",
    "MS_PER_AUDIO_TOKEN",
    "MAX_AUDIO_CHUNK_MS",
    "MAX_TEXT_CHUNK_CHARS",
    "TRANSCRIPT_LOOKAHEAD",
    "TokenBudget",
    "Output",
]

CHARS_PER_TOKEN = 4
"""Characters of text or function arguments per output token."""
MS_PER_AUDIO_TOKEN = 50
"""Milliseconds of output audio per output token."""
MAX_AUDIO_CHUNK_MS = 1000
"""The largest audio chunk: one second (48 000 bytes of pcm16)."""
MAX_TEXT_CHUNK_CHARS = 4096
"""The largest text or arguments chunk, in characters."""
TRANSCRIPT_LOOKAHEAD = 32
"""How far a transcript chunk may run ahead of its audio to finish a word."""


# -- tokens ------------------------------------------------------------------------------------


class TokenBudget:
    """The output tokens of one response: what it has used, and what still fits under its limit."""

    __slots__ = ("limit", "text_chars", "audio_samples", "cut", "_samples_per_token")

    def __init__(self, limit: ev.MaxTokens, sample_rate: int = 24000) -> None:
        self.limit: int | None = None if limit == "inf" else int(limit)
        self._samples_per_token = sample_rate * MS_PER_AUDIO_TOKEN // 1000
        self.text_chars = 0
        self.audio_samples = 0
        self.cut = False
        """Some output did not fit: the response ends ``incomplete`` (``max_output_tokens``)."""

    @classmethod
    def for_response(cls, settings: ResponseSettings) -> TokenBudget:
        rate = FORMATS[settings.output_audio_format].sample_rate
        return cls(settings.max_output_tokens, rate)

    @property
    def text_tokens(self) -> int:
        return -(-self.text_chars // CHARS_PER_TOKEN)

    @property
    def audio_tokens(self) -> int:
        return -(-self.audio_samples // self._samples_per_token)

    @property
    def tokens(self) -> int:
        return self.text_tokens + self.audio_tokens

    def take_text(self, wanted: int) -> int:
        """Spend up to ``wanted`` characters; how many fit (fewer means the budget is cut)."""
        granted = wanted
        if self.cut:
            granted = 0
        elif self.limit is not None:
            room = (self.limit - self.audio_tokens) * CHARS_PER_TOKEN - self.text_chars
            granted = max(0, min(wanted, room))
        if granted < wanted:
            self.cut = True
        self.text_chars += granted
        return granted

    def take_audio(self, wanted: int) -> int:
        """Spend up to ``wanted`` samples; how many fit (fewer means the budget is cut)."""
        granted = wanted
        if self.cut:
            granted = 0
        elif self.limit is not None:
            room = (self.limit - self.text_tokens) * self._samples_per_token - self.audio_samples
            granted = max(0, min(wanted, room))
        if granted < wanted:
            self.cut = True
        self.audio_samples += granted
        return granted


# -- one response's output -------------------------------------------------------------------

_WORD_REST = re.compile(r"\S*\s*")


class Output:
    """The chunks of one response, produced lazily under its token budget.

    ``text``, ``speech`` and ``function_call`` are plain generators: each
    chunk is made when it is asked for, and only if the budget allows it, so
    they can be chained (``itertools.chain``) into the whole response. The
    backend pauses ``pause_after(chunk)`` seconds after yielding each chunk
    (``trio.sleep`` in the backend), and yields ``finish()`` at the end.
    """

    def __init__(
        self, settings: ResponseSettings, *, realtime: bool = False, delay: float = 0.0
    ) -> None:
        self.settings = settings
        self.budget = TokenBudget.for_response(settings)
        self.realtime = realtime
        """Pace audio at its real duration."""
        self.delay = delay
        """Pause after each text, arguments or (unpaced) audio chunk, in seconds."""

    def text(
        self, text: str, chunk_chars: int, make: type[TextChunk | ArgumentsChunk] = TextChunk
    ) -> Iterator[OutputChunk]:
        """``text`` in chunks of ``chunk_chars`` characters (``make`` them ``ArgumentsChunk`` for a call)."""
        size = check_range("chunk_chars", chunk_chars, 1, MAX_TEXT_CHUNK_CHARS)
        for start in range(0, len(text), size):
            granted = self.budget.take_text(min(size, len(text) - start))
            if granted:
                yield make(text[start : start + granted])
            if self.budget.cut:
                return

    def speech(self, text: str, speaker: Voice, chunk_ms: int) -> Iterator[OutputChunk]:
        """``text`` spoken by ``speaker`` in audio chunks of ``chunk_ms``, each after its transcript.

        Before each audio chunk comes the transcript of every character that
        chunk starts, completed to the end of its word (and the spaces after
        it), at most ``TRANSCRIPT_LOOKAHEAD`` characters ahead: the transcript
        leads the audio by at most a word, as a real model's does.
        """
        ms = check_range("chunk_ms", chunk_ms, 1, MAX_AUDIO_CHUNK_MS)
        if speaker.fmt != self.settings.output_audio_format:
            raise ValueError(
                f"a {speaker.fmt} voice cannot speak a {self.settings.output_audio_format} response"
            )
        chunk = max(1, speaker.sample_rate * ms // 1000)
        per, total = speaker.char_samples, speaker.samples(text)
        position = said = 0
        while position < total:
            granted = self.budget.take_audio(min(chunk, total - position))
            if not granted:
                return
            stop = position + granted
            started = -(-stop // per)  # characters whose sound has begun
            if started > said:
                upto = started
                if not text[started - 1].isspace():
                    end = min(len(text), started + TRANSCRIPT_LOOKAHEAD)
                    match = _WORD_REST.match(text, started, end)
                    upto = match.end() if match else started
                yield TranscriptChunk(text[said:upto])
                said = upto
            yield AudioChunk(speaker.render(text, position, stop))
            position = stop

    def function_call(
        self, name: str, arguments: str, chunk_chars: int, call_id: str | None = None
    ) -> Iterator[OutputChunk]:
        """A function call item: its first arguments chunk inline, the rest as ``ArgumentsChunk``.

        Nothing at all when the budget is already cut or spent (no call item
        without arguments).
        """
        size = check_range("chunk_chars", chunk_chars, 1, MAX_TEXT_CHUNK_CHARS)
        if self.budget.cut:
            return
        first = self.budget.take_text(min(size, len(arguments)))
        if arguments and not first:
            return
        yield FunctionCallChunk(name=name, arguments=arguments[:first], call_id=call_id)
        if not self.budget.cut and first < len(arguments):
            yield from self.text(arguments[first:], size, ArgumentsChunk)

    def pause_after(self, chunk: OutputChunk) -> float:
        """How long to pause after ``chunk``, in seconds: its pacing, or 0 (a bare checkpoint)."""
        if isinstance(chunk, AudioChunk):
            if self.realtime:
                info = FORMATS[self.settings.output_audio_format]
                return len(chunk.audio) / info.sample_width / info.sample_rate
            return self.delay
        if isinstance(chunk, TextChunk | ArgumentsChunk):
            return self.delay
        return 0.0

    def finish(
        self,
        status: Literal["completed", "incomplete", "failed"] = "completed",
        details: ev.StatusDetails | None = None,
        usage: ev.Usage | None = None,
    ) -> Finish:
        """The end of the response: ``incomplete``/``max_output_tokens`` if the budget was cut."""
        if self.budget.cut:
            status = "incomplete"
            details = ev.StatusDetails(type="incomplete", reason="max_output_tokens")
        return Finish(status=status, details=details, usage=usage)
