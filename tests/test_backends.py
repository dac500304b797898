"""Backends: synthetic speech, echo, scripted scenarios, streaming under a token budget, and loading."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from serverkit import Harness

from rtcore import events as ev
from rtcore.audio.codecs import from_linear
from rtcore.events import beta
from rtcore.server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    ResponseSettings,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from rtcore_sim import (
    BACKEND_THREADS,
    MAX_ECHO_CHARS,
    EchoBackend,
    EchoTranscriber,
    ResponseRequest,
    Scenario,
    ScriptBackend,
    TranscriptionFailed,
    Turn,
    load_backend,
    run_off_loop,
    synthetic_speech,
)
from rtcore_sim.output import (
    MAX_AUDIO_CHUNK_MS,
    TRANSCRIPT_LOOKAHEAD,
    Output,
    TokenBudget,
)
from rtcore_sim.scenario import Script, ScriptError, ScriptTranscript, transcript_text
from rtcore_sim.speech import voice

CUT = Finish(
    status="incomplete", details=ev.StatusDetails(type="incomplete", reason="max_output_tokens")
)


def request(
    text: str | None = None,
    modalities: tuple[str, ...] = ("text",),
    response: dict[str, Any] | None = None,
    **session: Any,
) -> ResponseRequest:
    h = Harness()
    h.send(
        {
            "type": "session.update",
            "session": {"modalities": list(modalities), "turn_detection": None, **session},
        }
    )
    if text is not None:
        h.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
    create: dict[str, Any] = {"type": "response.create"}
    if response is not None:
        create["response"] = response
    [start] = h.send(create)
    assert isinstance(start, StartResponse)
    return ResponseRequest(start)


def settings(
    fmt: ev.AudioFormat = "pcm16", limit: ev.MaxTokens = "inf", audio: bool = True
) -> ResponseSettings:
    return ResponseSettings(
        output_modalities=("audio",) if audio else ("text",),
        instructions="",
        voice="alloy",
        output_format=fmt,
        tools=(),
        tool_choice="auto",
        max_output_tokens=limit,
        conversation="auto",
    )


async def collect(backend: Any, req: ResponseRequest) -> list[Any]:
    return [chunk async for chunk in backend.respond(req)]


def audio_of(chunks: list[Any]) -> bytes:
    return b"".join(c.audio for c in chunks if isinstance(c, AudioChunk))


def transcript_of(chunks: list[Any]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TranscriptChunk))


def text_of(chunks: list[Any]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


# -- the voice ---------------------------------------------------------------------------------


def reference_speech(text: str, fmt: ev.AudioFormat, ms_per_char: int) -> bytes:
    """The documented waveform, computed the plain way: the whole text at once, in float64."""
    rate = 24000 if fmt == "pcm16" else 8000
    n = rate * ms_per_char // 1000
    t = np.arange(n) / rate
    envelope = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (n / 8 + 1))
    pieces = [
        np.zeros(n)
        if char.isspace()
        else 0.3 * 32767 * envelope * np.sin(2 * math.pi * (180.0 + (ord(char) % 24) * 15.0) * t)
        for char in text
    ]
    samples = np.concatenate(pieces) if pieces else np.zeros(0)
    return from_linear(samples.astype(np.int16), fmt)


def test_synthetic_speech_follows_the_text() -> None:
    audio = synthetic_speech("Hello world", "pcm16", ms_per_char=40)
    assert len(audio) == 11 * 40 * 48
    assert audio == synthetic_speech("Hello world", "pcm16", ms_per_char=40)  # deterministic
    assert len(synthetic_speech("Hi", "g711_ulaw")) == 2 * 50 * 8
    assert synthetic_speech("", "pcm16") == b""


@pytest.mark.parametrize(
    ("fmt", "digest"),
    [
        ("pcm16", "bf23b258ee1367abfd9609652e47c87bf9505c0584ed70fee9c0811d864d7963"),
        ("g711_ulaw", "dbc0ba9dfb5e123955e7e44129b304a9d9e4a4c0546787bc1ac57984f47c338c"),
        ("g711_alaw", "b76b788ce007d75aa8ac2fee099517ec3d37dd9ee080b2f0bce9f610826fa937"),
    ],
)
def test_the_voice_is_the_documented_waveform(fmt: ev.AudioFormat, digest: str) -> None:
    text = "Hello, world! 42"
    audio = synthetic_speech(text, fmt, 30)
    assert audio == reference_speech(text, fmt, 30)
    # The bytes rtcore 0.1 produced, before speech streamed: recordings stay comparable.
    assert hashlib.sha256(audio).hexdigest() == digest


@given(
    text=st.text(st.sampled_from("ab Zé\t東 ."), max_size=40),
    fmt=st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]),
    ms_per_char=st.integers(1, 120),
    chunk_ms=st.integers(1, 300),
)
def test_streamed_speech_is_the_whole_speech_in_bounded_chunks(
    text: str, fmt: ev.AudioFormat, ms_per_char: int, chunk_ms: int
) -> None:
    speaker = voice(fmt, ms_per_char)
    chunks = list(Output(settings(fmt)).speech(text, speaker, chunk_ms))
    assert audio_of(chunks) == reference_speech(text, fmt, ms_per_char)
    assert transcript_of(chunks) == text
    chunk_bytes = max(1, speaker.sample_rate * chunk_ms // 1000) * speaker.sample_width
    chars_per_chunk = -(-chunk_bytes // (speaker.char_samples * speaker.sample_width)) + 1
    sent = said = 0
    for chunk in chunks:
        if isinstance(chunk, TranscriptChunk):
            assert 0 < len(chunk.text) <= chars_per_chunk + TRANSCRIPT_LOOKAHEAD
            said += len(chunk.text)
        else:
            assert 0 < len(chunk.audio) <= chunk_bytes
            sent += len(chunk.audio) // speaker.sample_width
            # The transcript is never behind the audio (every started character is in it) ...
            assert said >= -(-sent // speaker.char_samples)
            # ... and ahead of it by at most the rest of a word.
            assert said <= -(-sent // speaker.char_samples) + TRANSCRIPT_LOOKAHEAD


def test_a_long_word_is_transcribed_a_little_ahead_of_its_audio() -> None:
    text = "a " + "b" * 200 + " c"
    chunks = list(Output(settings()).speech(text, voice("pcm16", 10), 20))
    said = [len(c.text) for c in chunks if isinstance(c, TranscriptChunk)]
    assert sum(said) == len(text)
    # "a ", then the two "b"s the chunk starts and 32 more; the next transcript comes with
    # the chunk that starts a "b" beyond those, and so on.
    assert said[:3] == [2, 2 + TRANSCRIPT_LOOKAHEAD, 2 + TRANSCRIPT_LOOKAHEAD]
    assert max(said) == 2 + TRANSCRIPT_LOOKAHEAD


def test_a_voice_speaks_only_its_own_format() -> None:
    with pytest.raises(ValueError, match="a g711_ulaw voice cannot speak a pcm16 response"):
        list(Output(settings("pcm16")).speech("hi", voice("g711_ulaw"), 100))


# -- echo -------------------------------------------------------------------------------------


async def test_echo_repeats_the_user_in_text() -> None:
    chunks = await collect(EchoBackend(text_chunk_chars=4), request("Hello there"))
    assert chunks == [TextChunk("Hell"), TextChunk("o th"), TextChunk("ere"), Finish()]


async def test_echo_speaks_with_a_transcript_in_audio() -> None:
    chunks = await collect(
        EchoBackend(ms_per_char=20, audio_chunk_ms=100), request("Hi you", ("text", "audio"))
    )
    assert transcript_of(chunks) == "Hi you" and len(audio_of(chunks)) == 6 * 20 * 48
    assert audio_of(chunks) == synthetic_speech("Hi you", "pcm16", 20)
    assert isinstance(chunks[0], TranscriptChunk) and chunks[-1] == Finish()


async def test_echo_is_deterministic() -> None:
    for fmt in ("pcm16", "g711_ulaw"):
        runs = [
            await collect(
                EchoBackend(),
                request("Same words, same bytes", ("text", "audio"), output_audio_format=fmt),
            )
            for _ in range(2)
        ]
        assert runs[0] == runs[1] and len(audio_of(runs[0])) == 22 * 50 * (
            48 if fmt == "pcm16" else 8
        )


async def test_echo_calls_a_tool_it_is_asked_for() -> None:
    req = request("please get_time now", tools=[{"name": "get_time"}])
    chunks = await collect(EchoBackend(), req)
    assert chunks == [
        # No parameters declared: no arguments (rtcore_sim.arguments).
        FunctionCallChunk(name="get_time", arguments="{}"),
        Finish(),
    ]
    none = request("please get_time now", tools=[{"name": "get_time"}], tool_choice="none")
    assert isinstance((await collect(EchoBackend(), none))[0], TextChunk)


async def test_echo_with_nothing_to_repeat() -> None:
    chunks = await collect(EchoBackend(), request())
    assert text_of(chunks) == "I heard nothing to repeat."


async def test_echo_repeats_at_most_max_echo_chars() -> None:
    long = "x" * (MAX_ECHO_CHARS + 1000)
    chunks = await collect(EchoBackend(text_chunk_chars=4096), request(long))
    assert text_of(chunks) == "x" * MAX_ECHO_CHARS and chunks[-1] == Finish()
    spoken = await collect(EchoBackend(), request(long, ("text", "audio")))
    assert len(transcript_of(spoken)) == MAX_ECHO_CHARS
    assert len(audio_of(spoken)) == MAX_ECHO_CHARS * 50 * 48
    small = await collect(EchoBackend(max_echo_chars=5), request("Hello there"))
    assert text_of(small) == "Hello"


async def test_the_cap_stops_gathering_a_many_part_message() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"modalities": ["text"]}})
    parts = [{"type": "input_text", "text": word} for word in ("one", "two", "three")]
    h.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": parts},
        }
    )
    [start] = h.send({"type": "response.create"})
    assert isinstance(start, StartResponse)
    req = ResponseRequest(start)
    assert await req.last_user_text() == "one two three"
    assert [await req.last_user_text(n) for n in (1, 3, 4, 5, 9, 13, 99)] == [
        "o",
        "one",
        "one ",
        "one t",
        "one two t",
        "one two three",
        "one two three",
    ]


async def test_echo_reads_a_tool_output_back_capped() -> None:
    h = Harness()
    h.send({"type": "session.update", "session": {"modalities": ["text"]}})
    call = {"type": "function_call", "name": "f", "call_id": "c", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c", "output": "4" * 100}
    for item in (call, output):
        h.send({"type": "conversation.item.create", "item": item})
    assert "error" not in h.types()
    [start] = h.send({"type": "response.create"})
    assert isinstance(start, StartResponse)
    chunks = await collect(
        EchoBackend(max_echo_chars=10, text_chunk_chars=100), ResponseRequest(start)
    )
    assert chunks == [TextChunk("The tool returned: " + "4" * 10), Finish()]


async def test_echo_streams_a_long_message_in_little_memory() -> None:
    # 100 000 characters spoken: 5000 s of pcm16, 240 MB on the wire. Streamed, the
    # backend holds one chunk at a time (the whole answer at once would be 240 MB,
    # and 1.9 GB as float64 samples).
    text = "speak " * 16_666 + "word"
    assert len(text) == 100_000
    req = request(text, ("text", "audio"))
    backend = EchoBackend(max_echo_chars=None, audio_chunk_ms=MAX_AUDIO_CHUNK_MS)
    digest, size, said = hashlib.sha256(), 0, 0
    tracemalloc.start()
    try:
        async for chunk in backend.respond(req):
            if isinstance(chunk, AudioChunk):
                digest.update(chunk.audio)
                size += len(chunk.audio)
            elif isinstance(chunk, TranscriptChunk):
                said += len(chunk.text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == 100_000 * 50 * 48 and said == 100_000
    assert peak < 1_000_000, peak
    # The same bytes as the plain computation, checked on a slice we can afford to build.
    head = "speak " * 10
    assert synthetic_speech(head, "pcm16") == reference_speech(head, "pcm16", 50)


class StepCounter(trio.abc.Instrument):
    """Counts the steps of one task: chunks seen in the same step came without a checkpoint."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.step = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.step += 1


async def chunks_per_step(backend: Any, req: ResponseRequest) -> tuple[Counter[int], list[Any]]:
    counter = StepCounter(trio.lowlevel.current_task())
    per_step: Counter[int] = Counter()
    chunks = []
    trio.lowlevel.add_instrument(counter)
    try:
        async for chunk in backend.respond(req):
            per_step[counter.step] += 1
            chunks.append(chunk)
    finally:
        trio.lowlevel.remove_instrument(counter)
    return per_step, chunks


@pytest.mark.parametrize("modalities", [("text",), ("text", "audio")])
async def test_the_loop_runs_between_any_two_chunks(modalities: tuple[str, ...]) -> None:
    text = "a few words to say " * 20
    per_step, chunks = await chunks_per_step(
        EchoBackend(ms_per_char=10, text_chunk_chars=3), request(text, modalities)
    )
    assert len(chunks) > 50 and max(per_step.values()) == 1
    scenario = Scenario(turns=[msgspec_turn(text=text, tool_calls=[{"name": "f"}] * 3)])
    per_step, chunks = await chunks_per_step(ScriptBackend(scenario), request("x", modalities))
    assert len(chunks) > 50 and max(per_step.values()) == 1


# -- the token limit ---------------------------------------------------------------------------


def test_the_token_rule() -> None:
    budget = TokenBudget(10, sample_rate=24000)
    assert budget.take_text(9) == 9 and budget.tokens == 3  # 4 characters a token, rounded up
    assert budget.take_audio(1201) == 1201 and budget.tokens == 5  # 50 ms (1200 samples) a token
    assert budget.take_audio(10_000) == 7 * 1200 - 1201 and budget.cut  # 7 tokens left
    assert budget.tokens == 10 and budget.take_text(1) == 0
    narrow = TokenBudget(2, sample_rate=8000)
    assert narrow.take_audio(800) == 800 and not narrow.cut and narrow.take_text(1) == 0
    assert narrow.cut
    unlimited = TokenBudget("inf")
    assert unlimited.take_text(10**9) == 10**9 and not unlimited.cut


async def test_echo_text_stops_at_the_token_limit() -> None:
    chunks = await collect(
        EchoBackend(text_chunk_chars=3), request("Hello there", max_response_output_tokens=2)
    )
    assert chunks == [TextChunk("Hel"), TextChunk("lo "), TextChunk("th"), CUT]
    exact = await collect(EchoBackend(), request("Hello there", max_response_output_tokens=3))
    assert text_of(exact) == "Hello there" and exact[-1] == Finish()  # it fits: completed


async def test_echo_speech_stops_at_the_response_token_limit() -> None:
    req = request("Hello there", ("text", "audio"), response={"max_response_output_tokens": 3})
    chunks = await collect(EchoBackend(), req)
    assert len(audio_of(chunks)) == 3 * 50 * 48  # 150 ms: three tokens
    assert transcript_of(chunks) == "Hello " and chunks[-1] == CUT
    draft = request("Hello there", ("text", "audio"), response={"max_output_tokens": 3})
    assert await collect(EchoBackend(), draft) == chunks  # the Oct 2024 name for the same cap


async def test_echo_tool_arguments_stop_at_the_token_limit() -> None:
    tool = {"name": "get_time", "parameters": {"properties": {"text": {"type": "string"}}}}
    req = request("please get_time now", tools=[tool], max_response_output_tokens=2)
    chunks = await collect(EchoBackend(argument_chunk_chars=5), req)
    assert chunks == [
        FunctionCallChunk(name="get_time", arguments='{"tex'),
        ArgumentsChunk('t":'),  # two tokens: eight characters
        CUT,
    ]


async def test_a_scenario_stops_at_the_token_limit_and_skips_the_rest() -> None:
    scenario = Scenario(
        turns=[
            msgspec_turn(
                text="Long answer", tool_calls=[{"name": "f"}], status="failed", audio_chunk_ms=20
            )
        ]
    )
    req = request("x", ("text", "audio"), max_response_output_tokens=2)
    chunks = await collect(ScriptBackend(scenario), req)
    assert len(audio_of(chunks)) == 2 * 50 * 48 and transcript_of(chunks) == "Long "
    assert not any(isinstance(c, FunctionCallChunk) for c in chunks) and chunks[-1] == CUT
    empty = Scenario(
        turns=[msgspec_turn(text="Long answer", tool_calls=[{"name": "f", "arguments": ""}])]
    )
    chunks = await collect(ScriptBackend(empty), request("x", max_response_output_tokens=1))
    assert chunks == [TextChunk("Long"), CUT]  # once cut, not even an empty call
    calls = Scenario(turns=[msgspec_turn(tool_calls=[{"name": "f", "arguments": "12345678"}] * 2)])
    chunks = await collect(ScriptBackend(calls), request("x", max_response_output_tokens=2))
    assert chunks == [
        FunctionCallChunk(name="f", arguments="12345678"),  # exactly two tokens
        CUT,  # no room for the second call: it is not opened
    ]


async def test_the_session_reports_a_cut_answer_as_the_api_does() -> None:
    h = Harness()
    h.send(
        {
            "type": "session.update",
            "session": {"turn_detection": None, "max_response_output_tokens": 4},
        }
    )
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello there"}],
            },
        }
    )
    [start] = h.send({"type": "response.create"})
    assert isinstance(start, StartResponse)
    async for chunk in EchoBackend().respond(ResponseRequest(start)):
        h.server.produce(start.response_id, chunk)
    h.pump()
    [done] = [e for e in h.log if isinstance(e, beta.ResponseDone)]
    assert done.response.status == "incomplete"
    assert done.response.status_details == ev.StatusDetails(
        type="incomplete", reason="max_output_tokens"
    )
    [item] = h.client.state.response_items(start.response_id)
    assert item.content[0].transcript.value == "Hello "
    assert item.content[0].audio_ms == 4 * 50  # what truncation is checked against
    assert h.in_step()


# -- work off the loop -------------------------------------------------------------------------


async def test_run_off_loop_runs_in_a_bounded_number_of_threads() -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def work(n: int) -> tuple[int, int]:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.02)  # long enough for the others to start, were they allowed to
        with lock:
            running[0] -= 1
        return n * n, threading.get_ident()

    results: list[tuple[int, int]] = []

    async def one(n: int) -> None:
        results.append(await run_off_loop(work, n))

    async with trio.open_nursery() as nursery:
        for n in range(3 * BACKEND_THREADS):
            nursery.start_soon(one, n)
    assert sorted(r for r, _ in results) == [n * n for n in range(3 * BACKEND_THREADS)]
    assert threading.get_ident() not in {thread for _, thread in results}
    assert 1 <= running[1] <= BACKEND_THREADS


async def test_a_cancelled_caller_does_not_wait_for_its_thread() -> None:
    release = threading.Event()
    with trio.move_on_after(0.05) as scope:
        await run_off_loop(release.wait, 10.0)
    assert scope.cancelled_caught
    release.set()


# -- script -------------------------------------------------------------------------------------


async def test_echo_transcriber_describes_the_audio() -> None:
    req = Transcribe(
        item_id="i",
        content_index=0,
        audio=bytes(12000),
        audio_format="g711_alaw",
        settings=beta.InputAudioTranscription(),
    )
    assert await EchoTranscriber().transcribe(req) == "[1.50 s of audio]"


def write(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    return path


def msgspec_turn(**fields: Any) -> Turn:
    return msgspec.convert(fields, Turn)


async def test_a_scenario_plays_its_turns_in_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "turns": [
                {"text": "First!", "text_chunk_chars": 3},
                {
                    "tool_calls": [{"name": "f", "arguments": {"a": 1}, "call_id": "call_x"}],
                    "argument_chunk_chars": 4,
                },
                {
                    "text": "Cut",
                    "status": "incomplete",
                    "reason": "max_output_tokens",
                    "usage": {"total_tokens": 5, "input_tokens": 3, "output_tokens": 2},
                },
                {"status": "failed", "error": {"code": "overloaded", "message": "busy"}},
            ],
            "transcripts": [
                "hello",
                {"error": {"type": "transcription_error", "code": "audio_unintelligible"}},
            ],
        },
    )
    backend = ScriptBackend.from_file(path)
    req = request("x")
    assert await collect(backend, req) == [TextChunk("Fir"), TextChunk("st!"), Finish()]
    assert await collect(backend, req) == [
        FunctionCallChunk(name="f", call_id="call_x", arguments='{"a"'),
        ArgumentsChunk(": 1}"),
        Finish(),
    ]
    third = await collect(backend, req)
    assert third[-1] == Finish(
        status="incomplete",
        details=ev.StatusDetails(type="incomplete", reason="max_output_tokens"),
        usage=ev.Usage(total_tokens=5, input_tokens=3, output_tokens=2),
    )
    fourth = await collect(backend, req)
    assert fourth == [
        Finish(
            status="failed",
            details=ev.StatusDetails(
                type="failed",
                error=ev.StatusError(type="server_error", code="overloaded", message="busy"),
            ),
        )
    ]
    assert await collect(backend, req) == [TextChunk("x"), Finish()]  # then it echoes
    audio = Transcribe(
        item_id="i",
        content_index=0,
        audio=bytes(4800),
        audio_format="pcm16",
        settings=beta.InputAudioTranscription(),
    )
    assert await backend.transcribe(audio) == "hello"
    with pytest.raises(TranscriptionFailed) as info:
        await backend.transcribe(audio)
    assert info.value.error.code == "audio_unintelligible"
    assert await backend.transcribe(audio) == "[0.10 s of audio]"


async def test_a_scenario_speaks_in_its_own_chunks(tmp_path: Path) -> None:
    path = write(tmp_path, {"turns": [{"text": "Hi there", "audio_chunk_ms": 30}]})
    chunks = await collect(ScriptBackend.from_file(path), request("x", ("text", "audio")))
    assert audio_of(chunks) == synthetic_speech("Hi there", "pcm16")
    assert transcript_of(chunks) == "Hi there"
    assert {len(c.audio) for c in chunks if isinstance(c, AudioChunk)} == {30 * 48, 10 * 48}


async def test_a_repeating_scenario_cycles(tmp_path: Path) -> None:
    backend = ScriptBackend.from_file(
        write(tmp_path, {"turns": [{"text": "a"}, {"text": "b"}], "repeat": True})
    )
    req = request()
    texts = [(await collect(backend, req))[0] for _ in range(3)]
    assert texts == [TextChunk("a"), TextChunk("b"), TextChunk("a")]


def test_bad_scenarios_are_reported_with_where(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        ScriptBackend.from_file(_bad(tmp_path))
    with pytest.raises(ValueError, match=r"unknown field `txt` - at `\$.turns\[0\]`"):
        ScriptBackend.from_file(write(tmp_path, {"turns": [{"txt": "typo"}]}))
    with pytest.raises(ValueError, match=r"<= 1000 - at `\$.turns\[0\].audio_chunk_ms`"):
        ScriptBackend.from_file(write(tmp_path, {"turns": [{"audio_chunk_ms": 60_000}]}))
    with pytest.raises(ValueError, match=r">= 1 - at `\$.turns\[0\].text_chunk_chars`"):
        ScriptBackend.from_file(write(tmp_path, {"turns": [{"text_chunk_chars": 0}]}))
    with pytest.raises(ValueError, match=r">= 0 - at `\$.turns\[0\].delay_ms`"):
        ScriptBackend.from_file(write(tmp_path, {"turns": [{"delay_ms": -5}]}))
    with pytest.raises(ValueError, match=r"<= 1000 - at `\$.ms_per_char`"):
        ScriptBackend.from_file(write(tmp_path, {"ms_per_char": 10**9}))


@pytest.mark.parametrize(
    "options",
    [
        {"ms_per_char": 0},
        {"ms_per_char": 1001},
        {"audio_chunk_ms": 0},
        {"audio_chunk_ms": 1001},
        {"text_chunk_chars": 0},
        {"text_chunk_chars": 4097},
        {"argument_chunk_chars": 0},
        {"max_echo_chars": 0},
    ],
)
def test_echo_options_are_bounded(options: dict[str, int]) -> None:
    [name] = options
    with pytest.raises(ValueError, match=f"{name} must be an integer from"):
        EchoBackend(**options)


def _bad(tmp_path: Path) -> Path:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    return path


def test_load_backend(tmp_path: Path) -> None:
    backend, transcriber = load_backend("echo")
    assert isinstance(backend, EchoBackend) and isinstance(transcriber, EchoTranscriber)
    path = write(tmp_path, {"turns": []})
    script, same = load_backend(f"script:{path}", realtime=True)
    assert isinstance(script, ScriptBackend) and script is same and script.scenario.realtime
    assert script._echo.realtime  # the echo that answers once the turns are played, too
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend("gpt")


def test_output_says_how_long_to_pause_after_each_chunk() -> None:
    tenth = AudioChunk(bytes(24000 * 2 // 10))  # 0.1 s of pcm16 at 24 kHz
    paced = Output(settings(), realtime=True, delay=0.02)
    assert paced.pause_after(tenth) == pytest.approx(0.1)  # audio at its own duration
    assert paced.pause_after(TextChunk("a")) == 0.02
    unpaced = Output(settings(), delay=0.02)
    assert [unpaced.pause_after(c) for c in (tenth, TextChunk("a"), ArgumentsChunk("{"))] == [
        0.02
    ] * 3
    # A transcript rides with its audio, a call's start with its arguments: a bare checkpoint.
    call = FunctionCallChunk(name="f", arguments="")
    assert [unpaced.pause_after(c) for c in (TranscriptChunk("a"), call)] == [0.0, 0.0]
    assert Output(settings()).pause_after(tenth) == 0.0


def test_a_script_knows_its_place_without_a_loop() -> None:
    # The scenario's bookkeeping is sans-IO: no trio, no awaiting.
    first, second = Turn(text="one"), Turn(text="two")
    script = Script(Scenario(turns=[first, second], transcripts=["heard", ScriptTranscript()]))
    assert script.next_turn() is first
    script.replay_turn()  # an approval request ended the response: the answer replays it
    assert [script.next_turn(), script.next_turn(), script.next_turn()] == [first, second, None]
    looping = Script(Scenario(turns=[first], repeat=True))
    assert [looping.next_turn() for _ in range(3)] == [first] * 3
    assert [script.next_transcript(), script.next_transcript(), script.next_transcript()] == [
        "heard",
        ScriptTranscript(),
        None,
    ]
    assert transcript_text("heard") == "heard" and transcript_text(ScriptTranscript()) == ""
    failed = ScriptTranscript(error=ScriptError(type="transcription_error", code="x", message="m"))
    with pytest.raises(TranscriptionFailed) as caught:
        transcript_text(failed)
    assert (caught.value.error.code, caught.value.error.message) == ("x", "m")
