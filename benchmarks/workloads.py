"""Inputs shared by the benchmark suites: real traces and synthetic streams."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "data" / "captures"
TRACE_1 = CAPTURES / "banyan-landing__log_1.server-events.jsonl"
TRACE_2 = CAPTURES / "banyan-landing__log_2.server-events.jsonl"
TRACE_TEXT = CAPTURES / "liusida-dictionary__text-response.server-events.jsonl"

IDS = {"response_id": "resp_BaU74vyaswyzPWjZoJ6rY", "item_id": "item_BaU74LY2Poiq8lBMVXZ4R"}


def trace_lines(path: Path = TRACE_1) -> list[bytes]:
    return path.read_bytes().splitlines()


def text_delta(n: int = 0, delta: str = " there") -> bytes:
    return json.dumps(
        {
            "type": "response.audio_transcript.delta",
            "event_id": f"event_{n:021d}",
            **IDS,
            "output_index": 0,
            "content_index": 0,
            "delta": delta,
        },
        separators=(",", ":"),
    ).encode()


def pcm_tone(ms: int, rate: int = 24000, seed: int = 0) -> bytes:
    """Deterministic pcm16 audio (a sawtooth-ish pattern) of ``ms`` milliseconds."""
    samples = rate * ms // 1000
    out = bytearray()
    for i in range(samples):
        value = ((i * 37 + seed * 101) % 2000) - 1000
        out += value.to_bytes(2, "little", signed=True)
    return bytes(out)


def audio_delta(n: int = 0, ms: int = 100) -> bytes:
    """A ``response.audio.delta`` carrying ``ms`` of pcm16 (100 ms = 4800 bytes, 6.4 KB base64)."""
    return json.dumps(
        {
            "type": "response.audio.delta",
            "event_id": f"event_{n:021d}",
            **IDS,
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(pcm_tone(ms, seed=n)).decode(),
        },
        separators=(",", ":"),
    ).encode()


def tool(i: int) -> dict[str, Any]:
    return {
        "type": "function",
        "name": f"tool_{i}",
        "description": f"Tool number {i}: looks something up for the user and returns JSON.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look up."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                "mode": {"type": "string", "enum": ["fast", "exact", "fuzzy"]},
            },
            "required": ["query"],
        },
    }


def session_updated(tools: int = 20) -> bytes:
    """The real ``session.updated`` of trace 1 with ``tools`` function tools."""
    for line in trace_lines():
        event = json.loads(line)
        if event["type"] == "session.updated":
            event["session"]["tools"] = [tool(i) for i in range(tools)]
            return json.dumps(event, separators=(",", ":")).encode()
    raise LookupError("no session.updated in the trace")


def _event(event_type: str, n: int, **fields: Any) -> bytes:
    return json.dumps(
        {"type": event_type, "event_id": f"event_{n:021d}", **fields}, separators=(",", ":")
    ).encode()


def audio_response(
    deltas: int = 600, ms: int = 100, transcript_every: int = 0, audio: bool = True
) -> list[bytes]:
    """The server messages of one audio response of ``deltas`` x ``ms`` milliseconds.

    With ``transcript_every`` > 0 a transcript delta follows every that many audio
    deltas; with ``audio=False`` only the transcript deltas are sent.
    """
    rid, iid = IDS["response_id"], IDS["item_id"]
    part = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
    item = {"id": iid, "object": "realtime.item", "type": "message", "role": "assistant"}
    n = 0

    def nxt() -> int:
        nonlocal n
        n += 1
        return n

    out = [
        _event(
            "response.created",
            nxt(),
            response={
                "id": rid,
                "object": "realtime.response",
                "status": "in_progress",
                "status_details": None,
                "output": [],
                "usage": None,
                "conversation_id": "conv_1",
                "output_audio_format": "pcm16",
            },
        ),
        _event(
            "response.output_item.added",
            nxt(),
            response_id=rid,
            output_index=0,
            item={**item, "status": "in_progress", "content": []},
        ),
        _event(
            "conversation.item.created",
            nxt(),
            previous_item_id=None,
            item={**item, "status": "in_progress", "content": []},
        ),
        _event(
            "response.content_part.added", nxt(), **part, part={"type": "audio", "transcript": ""}
        ),
    ]
    words = []
    chunk = base64.b64encode(pcm_tone(ms)).decode()
    for i in range(deltas):
        if audio:
            out.append(_event("response.audio.delta", nxt(), **part, delta=chunk))
        if transcript_every and i % transcript_every == 0:
            words.append(" word")
            out.append(_event("response.audio_transcript.delta", nxt(), **part, delta=" word"))
    transcript = "".join(words)
    final = {
        **item,
        "status": "completed",
        "content": [{"type": "audio", "transcript": transcript}],
    }
    out += [
        _event("response.audio.done", nxt(), **part),
        _event("response.audio_transcript.done", nxt(), **part, transcript=transcript),
        _event(
            "response.content_part.done",
            nxt(),
            **part,
            part={"type": "audio", "transcript": transcript},
        ),
        _event("response.output_item.done", nxt(), response_id=rid, output_index=0, item=final),
        _event(
            "response.done",
            nxt(),
            response={
                "id": rid,
                "object": "realtime.response",
                "status": "completed",
                "status_details": None,
                "output": [final],
                "usage": {"total_tokens": 10, "input_tokens": 4, "output_tokens": 6},
                "conversation_id": "conv_1",
            },
        ),
    ]
    return out


def voice_session(
    turns: int = 100, user_ms: int = 1500, answer_ms: int = 3000, delta_ms: int = 100
) -> list[bytes]:
    """The server messages of a voice session of ``turns`` turns, as our own server writes them.

    Each turn: the user's audio is committed and transcribed, and the assistant
    answers with ``answer_ms`` of audio in ``delta_ms`` deltas, with a
    transcript delta per word.
    """
    from rtcore import SequentialIds
    from rtcore.server import AudioChunk, Finish, ServerSession, StartResponse, TranscriptChunk

    server = ServerSession(id_factory=SequentialIds(), dialect="beta")
    out: list[bytes] = []
    server.receive_message(
        b'{"type":"session.update","session":{"turn_detection":null,"input_audio_transcription":{"model":"whisper-1"}}}'
    )
    user = pcm_tone(user_ms, seed=1)
    chunk = pcm_tone(delta_ms, seed=2)
    words = "this is what the assistant says in answer to you".split()
    for _ in range(turns):
        server.receive_message(
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(user).decode()}
            )
        )
        effects = server.receive_message(b'{"type":"input_audio_buffer.commit"}')
        transcribe = effects[1]
        server.complete_transcription(transcribe.item_id, "what the user said")  # type: ignore[attr-defined]
        [start] = [
            e
            for e in server.receive_message(b'{"type":"response.create"}')
            if isinstance(e, StartResponse)
        ]
        for i in range(answer_ms // delta_ms):
            if i % 3 == 0:
                server.produce(
                    start.response_id, TranscriptChunk(words[(i // 3) % len(words)] + " ")
                )
            server.produce(start.response_id, AudioChunk(chunk))
        server.produce(start.response_id, Finish())
        out += server.messages_to_send()
    return out


def sdk_parser(dialect: str = "beta") -> Any:
    """The official SDK's own parsing of server events of ``dialect``, or ``None`` when it is not
    installed."""
    try:
        if dialect == "ga":
            from openai.resources.realtime.realtime import AsyncRealtimeConnection
        else:
            from openai.resources.beta.realtime.realtime import (  # type: ignore[no-redef]
                AsyncRealtimeConnection,
            )
    except ImportError:
        return None
    parse = AsyncRealtimeConnection.parse_event
    return lambda data: parse(None, data)  # type: ignore[arg-type]


def in_ga(lines: list[bytes]) -> list[bytes]:
    """A beta stream of server messages as the GA dialect writes it, translated event by event the
    way ``rtcore relay`` translates for a GA client (rtcore.translate; renamed streaming events,
    GA session and item shapes, ``conversation.item.added`` / ``done``)."""
    from rtcore import events as ev
    from rtcore.translate import Translator

    translator = Translator(client="ga", server="beta")
    out: list[bytes] = []
    for line in lines:
        translation = translator.server_event(ev.decode_server_event(line, dialect="beta"))
        out += [ev.encode_event(event) for event in translation.events]
    return out
