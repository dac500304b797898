"""The server's append path: the same events and errors, however an append arrives.

``ServerSession.receive_message`` decodes appends on the codec's lean path and
skips work an append does not need (an ``event_id`` check without an id, the
idle timeout when none is set). These tests hold it to the full path: the same
audio as messages and as events the full decode built gives byte-identical
output, the energy detector decides as its plain formula does, and the idle
timeout follows every configuration change at once.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from serverkit import silence

from rtcore.audio.codecs import to_linear
from rtcore.audio.vad import EnergyDetector
from rtcore.events import codec, ga
from rtcore.events.client import InputAudioBufferAppend
from rtcore.server import ServerSession

UPDATE = json.dumps(
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}
            },
        },
    }
).encode()

_FULL = codec._Table(
    codec._classes(ga.CLIENT_EVENT_TYPES), ((InputAudioBufferAppend,), "audio")
).decode


def _frame(kind: str, samples: int, level: int, seed: int) -> bytes:
    if kind == "silence":
        return bytes(2 * samples)
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(samples) * level).clip(-32768, 32767).astype("<i2").tobytes()


FRAMES = st.lists(
    st.tuples(
        st.sampled_from(["silence", "noise"]),
        st.sampled_from([480, 480, 480, 240, 960, 7]),  # mostly 20 ms, some other sizes
        st.sampled_from([30, 300, 3000, 12000]),
        st.integers(0, 2**16),
        st.sampled_from([None, "evt", "x" * 513]),  # no id, an id, one too long for GA
        st.sampled_from([":", ": "]),
    ),
    max_size=120,
)


@settings(max_examples=40, deadline=None)
@given(frames=FRAMES, odd=st.booleans())
def test_messages_and_fully_decoded_events_give_the_same_output(
    frames: list[tuple[str, int, int, int, str | None, str]], odd: bool
) -> None:
    lean, full = ServerSession(), ServerSession()
    for session in (lean, full):
        session.receive_message(UPDATE)
    assert lean.messages_to_send() == full.messages_to_send()
    for kind, samples, level, seed, event_id, colon in frames:
        audio = _frame(kind, samples, level, seed)
        if odd and seed % 7 == 0:
            audio = audio[:-1]  # not a whole number of samples: an error, nothing changes
        body: dict[str, Any] = {"type": "input_audio_buffer.append"}
        if event_id is not None:
            body["event_id"] = event_id
        body["audio"] = base64.b64encode(audio).decode()
        message = json.dumps(body, separators=(",", colon)).encode()
        received = lean.receive_message(message)
        event = _FULL(message, True)
        assert received[0] == event
        assert received[1:] == full.receive_event(event)
        assert lean.messages_to_send() == full.messages_to_send()
    assert lean.state == full.state


@settings(max_examples=200)
@given(
    samples=st.lists(st.integers(-32768, 32767), max_size=600),
    threshold=st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]),
    trailing=st.booleans(),
)
def test_the_energy_detector_decides_as_its_formula(
    samples: list[int], threshold: float, trailing: bool
) -> None:
    data = np.array(samples, dtype="<i2").tobytes() + (b"\x01" if trailing else b"")
    linear = to_linear(data, "pcm16")
    assert linear.tolist() == samples  # a partial last sample is left out
    assert to_linear(memoryview(data), "pcm16").tolist() == samples
    floats = np.array(samples, dtype=np.float32)
    level = 32768.0 * 10.0 ** ((-70.0 + 70.0 * threshold) / 20.0)
    power = float(np.dot(floats, floats)) / len(samples) if samples else 0.0
    expected = bool(samples) and power >= level * level and power > 0.0
    assert EnergyDetector(threshold).is_speech(linear, 24000) == expected


def _idle(session: ServerSession, ms: int | None) -> None:
    session.receive_message(
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "turn_detection": {
                                "type": "server_vad",
                                "idle_timeout_ms": ms,
                                "create_response": False,
                            }
                        }
                    },
                },
            }
        )
    )
    assert "error" not in {e.type for e in session.events_to_send()}


def _append(session: ServerSession, ms: int) -> list[str]:
    for _ in range(ms // 20):
        session.receive_message(
            json.dumps(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(silence(20)).decode(),
                }
            )
        )
    return [e.type for e in session.events_to_send()]


def test_the_idle_timeout_follows_each_update_at_once() -> None:
    session = ServerSession()
    session.events_to_send()
    assert _append(session, 6000) == []  # none set
    _idle(session, 8000)
    assert _append(session, 6000) == []
    _idle(session, 5000)  # shorter now, counted from this update
    assert _append(session, 4980) == []
    assert _append(session, 20)[0] == "input_audio_buffer.timeout_triggered"
    _idle(session, None)  # off again
    assert _append(session, 12000) == []
    _idle(session, 5000)
    assert _append(session, 5000)[0] == "input_audio_buffer.timeout_triggered"
