"""Whole VAD turns through a ``ServerSession``, written down byte for byte.

``record(dialect)`` plays a fixed script - server VAD turns with and without
transcription and automatic responses, a manual commit and a clear - into a
session with the default ``DeterministicIds`` and returns every message the
session sent and a digest of every effect (the audio each carries included),
client message by client message. ``tests/data/vad_turns.json`` holds what the
engine produced when it was recorded; ``test_vad_turn_bytes`` compares against
it, so a change to how a turn ends (ids, the input buffer, the snapshot's
transitions, the encoders) cannot change a byte the client receives unnoticed.
Run this module to write the file anew (only when a change of bytes is meant).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

from rtcore.server import (
    CancelResponse,
    Effect,
    ListMcpTools,
    ServerSession,
    StartResponse,
    Transcribe,
)

RECORDING = Path(__file__).parent / "data" / "vad_turns.json"
FRAME = 480  # samples: 20 ms at 24 kHz


def _tone(frame: int) -> bytes:
    """Frame ``frame`` of a loud 220 Hz tone, continuing the phase of the frames before."""
    start = frame * FRAME
    return struct.pack(
        f"<{FRAME}h",
        *(round(8000 * math.sin(2 * math.pi * 220 * (start + i) / 24000)) for i in range(FRAME)),
    )


def _append(audio: bytes) -> bytes:
    message = {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}
    return json.dumps(message).encode()


def _update(dialect: str, *, vad: bool, transcribe: bool, respond: bool) -> bytes:
    detection: dict[str, Any] | None = (
        {"type": "server_vad", "create_response": respond} if vad else None
    )
    transcription = {"model": "whisper-1"} if transcribe else None
    if dialect == "ga":
        session: dict[str, Any] = {
            "type": "realtime",
            "audio": {"input": {"turn_detection": detection, "transcription": transcription}},
        }
    else:
        session = {"turn_detection": detection, "input_audio_transcription": transcription}
    return json.dumps({"type": "session.update", "session": session}).encode()


def _script(dialect: str) -> list[bytes]:
    """The client's messages: three settings, each with turns of speech and silence."""
    messages: list[bytes] = []
    frame = 0

    def turns(count: int) -> None:
        nonlocal frame
        for n in range(count * 100):
            messages.append(_append(_tone(frame) if n % 100 < 50 else bytes(2 * FRAME)))
            frame += 1

    messages.append(_update(dialect, vad=True, transcribe=False, respond=False))
    turns(2)
    messages.append(_update(dialect, vad=True, transcribe=True, respond=True))
    turns(2)
    messages.append(_update(dialect, vad=False, transcribe=True, respond=False))
    for n in range(30):
        messages.append(_append(_tone(frame + n)))
    messages.append(b'{"type":"input_audio_buffer.commit"}')
    messages.append(_append(_tone(0)))
    messages.append(b'{"type":"input_audio_buffer.clear"}')
    return messages


_EFFECTS = (StartResponse, CancelResponse, Transcribe, ListMcpTools)


def _effect(effect: Effect) -> str:
    if isinstance(effect, Transcribe):
        digest = hashlib.sha256(effect.audio).hexdigest()
        return f"Transcribe {effect.item_id} {effect.content_index} {len(effect.audio)} {digest}"
    if isinstance(effect, StartResponse):
        audio = sorted(
            (item, len(data), hashlib.sha256(data).hexdigest())
            for item, data in effect.input_audio.items()
        )
        items = [item.id for item in effect.items]
        return f"StartResponse {effect.response_id} {effect.trigger} {items} {audio}"
    if isinstance(effect, CancelResponse):
        return f"CancelResponse {effect.response_id} {effect.reason}"
    return f"ListMcpTools {effect.item_id}"


def record(dialect: str) -> dict[str, list[str]]:
    """The session's messages (as text) then its effects, in order, keyed by the number of
    the client message that caused them ("0": what the session sent on creation); client
    messages that caused nothing (almost every append) are left out."""
    session = ServerSession(dialect=dialect, created_at=1700000000)  # type: ignore[arg-type]
    out = {"0": [m.decode() for m in session.messages_to_send()]}
    for number, message in enumerate(_script(dialect), 1):
        effects = session.receive_message(message)
        sent = [m.decode() for m in session.messages_to_send()]
        # receive_message also returns the client events a relay would forward: not effects.
        sent += [_effect(e) for e in effects if isinstance(e, _EFFECTS)]
        if sent:
            out[str(number)] = sent
    return out


if __name__ == "__main__":  # pragma: no cover - writes the recording
    RECORDING.write_text(json.dumps({d: record(d) for d in ("ga", "beta")}, indent=1) + "\n")
    sys.exit(0)
