"""Streaming output for the built-in backends: a synthetic voice, bounded chunks, a token budget.

The echo and script backends turn a text into response chunks here, under
three rules that keep one response from hurting every other session on the
event loop:

* **Nothing proportional to the answer is built up front.** ``Voice``
  computes the sound of each of its 25 "phonemes" once per output format and
  ``ms_per_char`` (one tone per ``ord(char) % 24``, silence for whitespace),
  already encoded in the output format; a piece of speech is a join of those
  sounds, so producing a chunk costs the chunk's size in time and memory,
  whatever the length of the answer.
* **Chunks are bounded.** At most ``MAX_AUDIO_CHUNK_MS`` of audio and
  ``MAX_TEXT_CHUNK_CHARS`` of text or function arguments per chunk; a
  transcript chunk covers the characters its audio chunk starts, plus at most
  ``TRANSCRIPT_LOOKAHEAD`` more to finish the word.
* **A checkpoint after every chunk.** ``Output.pause`` is awaited after each
  chunk (``trio.sleep(0)`` unless the response is paced), so other tasks run
  between any two chunks.

The voice is deterministic: the speech of ``text`` is exactly
``len(text) * ms_per_char`` ms long, and the same text gives the same bytes
however it is cut into chunks; that length is what truncation
(``audio_end_ms``) is checked against.

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

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Literal

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
    TextChunk,
    TranscriptChunk,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "MS_PER_AUDIO_TOKEN",
    "MAX_MS_PER_CHAR",
    "MAX_AUDIO_CHUNK_MS",
    "MAX_TEXT_CHUNK_CHARS",
    "TRANSCRIPT_LOOKAHEAD",
    "Voice",
    "voice",
    "cached_voice",
    "synthetic_speech",
    "TokenBudget",
    "Output",
]

CHARS_PER_TOKEN = 4
"""Characters of text or function arguments per output token."""
MS_PER_AUDIO_TOKEN = 50
"""Milliseconds of output audio per output token."""
MAX_MS_PER_CHAR = 1000
"""The slowest voice: a sound of up to one second per character."""
MAX_AUDIO_CHUNK_MS = 1000
"""The largest audio chunk: one second (48 000 bytes of pcm16)."""
MAX_TEXT_CHUNK_CHARS = 4096
"""The largest text or arguments chunk, in characters."""
TRANSCRIPT_LOOKAHEAD = 32
"""How far a transcript chunk may run ahead of its audio to finish a word."""

_VOICE_CACHE_SIZE = 8  # a voice at 1000 ms per character holds 1.2 MB of sounds
_PITCHES = 24
_SILENCE = 0


def check_range(name: str, value: int, low: int, high: int) -> int:
    """``value`` if it is an int in ``[low, high]``; otherwise a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


# -- the voice ---------------------------------------------------------------------------------


class Voice:
    """The synthetic voice for one output format and speed.

    Character ``c`` sounds as ``ms_per_char`` of a sine at ``180 + (ord(c) % 24) * 15``
    Hz, at 30% of full scale, faded in and out over its first and last eighth;
    whitespace is silence. The 25 sounds are computed once (float64, truncated
    to int16, then encoded) and kept as bytes.
    """

    __slots__ = ("fmt", "ms_per_char", "sample_rate", "sample_width", "char_samples", "_sounds")

    def __init__(self, fmt: ev.AudioFormat, ms_per_char: int = 50) -> None:
        info = FORMATS[fmt]
        self.fmt = fmt
        self.ms_per_char = check_range("ms_per_char", ms_per_char, 1, MAX_MS_PER_CHAR)
        self.sample_rate = info.sample_rate
        self.sample_width = info.sample_width
        n = self.char_samples = info.sample_rate * ms_per_char // 1000
        t = np.arange(n, dtype=np.float64) / info.sample_rate
        ramp = np.minimum(np.arange(n), np.arange(n)[::-1])
        envelope = np.minimum(1.0, ramp / (n / 8 + 1))
        sounds = [from_linear(np.zeros(n, dtype=np.int16), fmt)]
        for step in range(_PITCHES):
            pitch = 180.0 + step * 15.0
            wave = 0.3 * 32767 * envelope * np.sin(2 * math.pi * pitch * t)
            sounds.append(from_linear(wave.astype(np.int16), fmt))
        self._sounds = tuple(sounds)

    def samples(self, text: str) -> int:
        """The length of the speech of ``text``, in samples."""
        return len(text) * self.char_samples

    def render(self, text: str, start: int, stop: int) -> bytes:
        """Samples ``[start, stop)`` of the speech of ``text``, encoded.

        Only the characters those samples fall in are looked at, so the cost is
        that of the slice, not of the text.
        """
        per = self.char_samples
        first, last = start // per, -(-stop // per)
        sounds = self._sounds
        data = b"".join(
            [
                sounds[_SILENCE] if char.isspace() else sounds[1 + ord(char) % _PITCHES]
                for char in text[first:last]
            ]
        )
        width = self.sample_width
        offset = (start - first * per) * width
        return data[offset : offset + (stop - start) * width]


_voices: OrderedDict[tuple[str, int], Voice] = OrderedDict()
_voices_lock = threading.Lock()  # voices may be built in worker threads (see run_off_loop)


def cached_voice(fmt: ev.AudioFormat, ms_per_char: int) -> Voice | None:
    """The voice if it has been built already (cheap: no computation)."""
    with _voices_lock:
        found = _voices.get((fmt, ms_per_char))
        if found is not None:
            _voices.move_to_end((fmt, ms_per_char))
        return found


def voice(fmt: ev.AudioFormat, ms_per_char: int = 50) -> Voice:
    """The voice for ``fmt`` and ``ms_per_char``; the last ``_VOICE_CACHE_SIZE`` are kept."""
    found = cached_voice(fmt, ms_per_char)
    if found is not None:
        return found
    built = Voice(fmt, ms_per_char)  # outside the lock: other threads need not wait for it
    with _voices_lock:
        _voices[(fmt, ms_per_char)] = built
        while len(_voices) > _VOICE_CACHE_SIZE:
            _voices.popitem(last=False)
    return built


def synthetic_speech(text: str, fmt: ev.AudioFormat, ms_per_char: int = 50) -> bytes:
    """The whole speech of ``text`` at once: for short texts and tests (backends stream it)."""
    speaker = voice(fmt, ms_per_char)
    return speaker.render(text, 0, speaker.samples(text))


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
    backend awaits ``pause(chunk)`` after yielding each chunk, and yields
    ``finish()`` at the end.
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

    async def pause(self, chunk: OutputChunk) -> None:
        """The checkpoint after ``chunk``: its pacing, or at least ``trio.sleep(0)``."""
        seconds = 0.0
        if isinstance(chunk, AudioChunk):
            if self.realtime:
                info = FORMATS[self.settings.output_audio_format]
                seconds = len(chunk.audio) / info.sample_width / info.sample_rate
            else:
                seconds = self.delay
        elif isinstance(chunk, TextChunk | ArgumentsChunk):
            seconds = self.delay
        await trio.sleep(seconds)

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
