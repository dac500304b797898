"""Backends: synthetic speech, echo, scripted scenarios, and loading them from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serverkit import Harness

from rtcore import events as ev
from rtcore.server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    StartResponse,
    TextChunk,
    Transcribe,
    TranscriptChunk,
)
from rtcore_trio import (
    EchoBackend,
    EchoTranscriber,
    ResponseRequest,
    ScriptBackend,
    TranscriptionFailed,
)
from rtcore_trio.backends import load_backend, synthetic_speech


def request(
    text: str | None = None, modalities: tuple[str, ...] = ("text",), **session: Any
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
    [start] = h.send({"type": "response.create"})
    assert isinstance(start, StartResponse)
    return ResponseRequest(start)


async def collect(backend: Any, req: ResponseRequest) -> list[Any]:
    return [chunk async for chunk in backend.respond(req)]


def test_synthetic_speech_follows_the_text() -> None:
    audio = synthetic_speech("Hello world", "pcm16", ms_per_char=40)
    assert len(audio) == 11 * 40 * 48
    assert audio == synthetic_speech("Hello world", "pcm16", ms_per_char=40)  # deterministic
    assert len(synthetic_speech("Hi", "g711_ulaw")) == 2 * 50 * 8
    assert synthetic_speech("", "pcm16") == b""


async def test_echo_repeats_the_user_in_text() -> None:
    chunks = await collect(EchoBackend(text_chunk_chars=4), request("Hello there"))
    assert chunks == [TextChunk("Hell"), TextChunk("o th"), TextChunk("ere"), Finish()]


async def test_echo_speaks_with_a_transcript_in_audio() -> None:
    chunks = await collect(
        EchoBackend(ms_per_char=20, audio_chunk_ms=100), request("Hi you", ("text", "audio"))
    )
    audio = b"".join(c.audio for c in chunks if isinstance(c, AudioChunk))
    transcript = "".join(c.text for c in chunks if isinstance(c, TranscriptChunk))
    assert transcript == "Hi you" and len(audio) == 6 * 20 * 48
    assert isinstance(chunks[0], TranscriptChunk) and chunks[-1] == Finish()


async def test_echo_calls_a_tool_it_is_asked_for() -> None:
    req = request("please get_time now", tools=[{"name": "get_time"}])
    chunks = await collect(EchoBackend(), req)
    assert chunks == [
        FunctionCallChunk(name="get_time", arguments=json.dumps({"text": "please get_time now"})),
        Finish(),
    ]
    none = request("please get_time now", tools=[{"name": "get_time"}], tool_choice="none")
    assert isinstance((await collect(EchoBackend(), none))[0], TextChunk)


async def test_echo_with_nothing_to_repeat() -> None:
    chunks = await collect(EchoBackend(), request())
    assert (
        "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "I heard nothing to repeat."
    )


async def test_echo_transcriber_describes_the_audio() -> None:
    req = Transcribe(
        item_id="i",
        content_index=0,
        audio=bytes(12000),
        audio_format="g711_alaw",
        settings=ev.InputAudioTranscription(),
    )
    assert await EchoTranscriber().transcribe(req) == "[1.50 s of audio]"


def write(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    return path


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
        FunctionCallChunk(name="f", call_id="call_x"),
        ArgumentsChunk('{"a"'),
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
        settings=ev.InputAudioTranscription(),
    )
    assert await backend.transcribe(audio) == "hello"
    with pytest.raises(TranscriptionFailed) as info:
        await backend.transcribe(audio)
    assert info.value.error.code == "audio_unintelligible"
    assert await backend.transcribe(audio) == "[0.10 s of audio]"


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
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend("gpt")
