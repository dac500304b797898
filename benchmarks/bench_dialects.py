"""GA decoding against beta decoding of the same conversation (issue 11: within 10%).

Each row decodes one server message of the GA dialect with ``decode_server_event(...,
dialect="ga")`` and, as the baseline, the equivalent beta message with ``dialect="beta"``: the
transcript delta (``response.output_audio_transcript.delta`` / ``response.audio_transcript.delta``),
100 ms of audio (``response.output_audio.delta`` / ``response.audio.delta``, both on the audio fast
path) and the real ``session.updated`` of trace 1 with 20 tools, translated field by field to the GA
session shape (docs/protocol/dialects.md#session-fields). An informational row adds the
``obfuscation`` padding that real GA transcript deltas carry (docs/protocol/ga.md#obfuscation),
which makes the GA message longer; the last row decodes a beta-named audio delta in a GA stream
(docs/protocol/choices.md#beta-names-in-ga).

The pipeline rows feed a ``ClientSession`` of each dialect the bytes of the
same conversation as rtcore's own server writes it in that dialect (a text
turn, a spoken answer of 300 audio and transcript deltas, a tool call): bytes
-> typed event -> snapshot, the whole client path.
"""

from __future__ import annotations

import json
from typing import Any

from rtcore import ClientSession, SequentialIds
from rtcore.events import Dialect, decode_server_event
from rtcore.server import (
    ArgumentsChunk,
    AudioChunk,
    Finish,
    FunctionCallChunk,
    ServerSession,
    StartResponse,
    TextChunk,
    TranscriptChunk,
)

from .harness import Result, compare
from .workloads import audio_delta, pcm_tone, session_updated, text_delta

WITHIN_10 = ("<= 1.10 (within 10% of beta)", lambda r: r <= 1.10)

_RENAMED = {
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio.delta": "response.output_audio.delta",
}
_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}


def ga_streaming(beta: bytes, **extra: Any) -> bytes:
    """The GA form of a beta streaming event: the same fields under the GA name."""
    event = json.loads(beta)
    event["type"] = _RENAMED[event["type"]]
    event.update(extra)
    return json.dumps(event, separators=(",", ":")).encode()


def ga_session(beta: dict[str, Any]) -> dict[str, Any]:
    """A complete beta session object in the GA shape (docs/protocol/dialects.md#session-fields), in
    the GA key order."""
    modalities = beta.get("modalities") or ["audio"]
    vad = beta.get("turn_detection")
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": beta["id"],
        "model": beta.get("model"),
        "output_modalities": ["audio"] if "audio" in modalities else ["text"],
        "instructions": beta.get("instructions"),
        "tools": beta.get("tools", []),
        "tool_choice": beta.get("tool_choice", "auto"),
        "max_output_tokens": beta.get("max_response_output_tokens", "inf"),
        "tracing": beta.get("tracing"),
        "truncation": "auto",
        "prompt": None,
        "expires_at": beta.get("expires_at"),
        "audio": {
            "input": {
                "format": _FORMATS[beta.get("input_audio_format", "pcm16")],
                "transcription": beta.get("input_audio_transcription"),
                "noise_reduction": beta.get("input_audio_noise_reduction"),
                "turn_detection": None if vad is None else {**vad, "idle_timeout_ms": None},
            },
            "output": {
                "format": _FORMATS[beta.get("output_audio_format", "pcm16")],
                "voice": beta.get("voice", "alloy"),
                "speed": beta.get("speed", 1.0),
            },
        },
        "include": beta.get("include"),
    }


def ga_session_updated(beta: bytes) -> bytes:
    event = json.loads(beta)
    event["session"] = ga_session(event["session"])
    return json.dumps(event, separators=(",", ":")).encode()


def pairs() -> list[tuple[str, bytes, bytes]]:
    """``(workload, GA message, equivalent beta message)``."""
    text, audio, session = text_delta(), audio_delta(), session_updated(20)
    return [
        ("transcript delta", ga_streaming(text), text),
        ("100 ms audio delta (6.4 KB)", ga_streaming(audio), audio),
        ("session.updated, 20 tools", ga_session_updated(session), session),
    ]


def _check(ga: bytes, beta: bytes) -> None:
    """Both messages decode to real events (a benchmark of errors would measure nothing)."""
    ga_event = decode_server_event(ga, dialect="ga", strict=True)
    beta_event = decode_server_event(beta, dialect="beta", strict=True)
    assert ga_event.type == json.loads(ga)["type"], ga_event
    assert beta_event.type == json.loads(beta)["type"], beta_event


def conversation(dialect: Dialect) -> list[bytes]:
    """The server messages of one scripted conversation, written by rtcore's server in ``dialect``."""
    server = ServerSession(id_factory=SequentialIds(), dialect=dialect, model="gpt-realtime")
    messages = server.messages_to_send()
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    update = (
        {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        if dialect == "ga"
        else {"turn_detection": None}
    )
    for message in (
        {"type": "session.update", "session": update},
        {"type": "conversation.item.create", "item": user},
    ):
        server.receive_message(json.dumps(message))
    messages += server.messages_to_send()
    for turn in range(2):
        [start] = [
            e
            for e in server.receive_message(b'{"type":"response.create"}')
            if isinstance(e, StartResponse)
        ]
        rid = start.response_id
        for n in range(300 if turn == 0 else 0):
            server.produce(rid, TranscriptChunk("word "))
            server.produce(rid, AudioChunk(pcm_tone(100, seed=n)))
        if turn == 1:
            server.produce(rid, TextChunk("calling"))
            server.produce(rid, FunctionCallChunk(name="lookup"))
            server.produce(rid, ArgumentsChunk('{"q": 1}'))
        server.produce(rid, Finish())
        messages += server.messages_to_send()
    return messages


def _client_pipeline(dialect: Dialect, messages: list[bytes]) -> None:
    client = ClientSession(dialect=dialect)
    receive = client.receive_message
    for message in messages:
        receive(message)


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    results = []
    rows = [(name, ga, beta, WITHIN_10) for name, ga, beta in pairs()]
    text = text_delta()
    padded = ga_streaming(text, obfuscation="LBqdwEYsSEHbF")
    rows.append(("transcript delta + obfuscation (real GA)", padded, text, None))
    # The beta name in a GA stream (docs/protocol/choices.md#beta-names-in-ga) takes the same audio
    # fast path.
    audio = audio_delta()
    rows.append(("beta-named audio delta in a GA stream", audio, audio, WITHIN_10))
    ga_messages, beta_messages = conversation("ga"), conversation("beta")
    for dialect, messages in (("ga", ga_messages), ("beta", beta_messages)):
        client = ClientSession(dialect=dialect)
        for message in messages:
            client.receive_message(message)
        assert not client.state.protocol_errors and not client.state.anomalies, dialect
    results.append(
        compare(
            "dialects",
            f"client pipeline, one conversation ({len(ga_messages)} / {len(beta_messages)} messages)",
            ("ClientSession GA", lambda: _client_pipeline("ga", ga_messages)),
            ("ClientSession beta", lambda: _client_pipeline("beta", beta_messages)),
            repeats=repeats,
            goal=WITHIN_10,
        )
    )
    for name, ga, beta, goal in rows:
        _check(ga, beta)
        results.append(
            compare(
                "dialects",
                f"{name} ({len(ga)} / {len(beta)} B)",
                ("decode GA", lambda ga=ga: decode_server_event(ga, dialect="ga")),
                ("decode beta", lambda beta=beta: decode_server_event(beta, dialect="beta")),
                repeats=repeats,
                goal=goal,
            )
        )
    return results
