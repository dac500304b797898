"""A whole VAD turn's events are byte for byte what the engine sent when they were recorded.

The turn's end (speech_stopped, committed, the item's announcement) is the server's
costliest append, and making it cheaper touches ids, the input buffer, the snapshot's
transitions and the item encoders; this pins every byte the client receives (and the
audio each effect carries) in both dialects. See ``tests/turn_record.py``.
"""

from __future__ import annotations

import json

import pytest
from turn_record import RECORDING, record


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_vad_turns_are_byte_identical(dialect: str) -> None:
    expected = json.loads(RECORDING.read_text())[dialect]
    got = record(dialect)
    assert list(got) == list(expected)
    for number, messages in expected.items():
        assert got[number] == messages, f"client message {number}"


def test_the_recording_holds_whole_turns() -> None:
    """The script really ends turns: each dialect's recording has its VAD turns, both kinds
    of commit, an automatic response cancelled by barge-in, and the transcriptions."""
    recording = json.loads(RECORDING.read_text())
    for dialect, added in (
        ("ga", "conversation.item.added"),
        ("beta", "conversation.item.created"),
    ):
        sent = [
            json.loads(m)["type"] for ms in recording[dialect].values() for m in ms if m[0] == "{"
        ]
        assert sent.count("input_audio_buffer.speech_stopped") == 4
        assert sent.count("input_audio_buffer.committed") == 5
        assert sent.count(added) == 5
        assert sent.count("response.created") == 2
        effects = [m.split()[0] for ms in recording[dialect].values() for m in ms if m[0] != "{"]
        assert effects.count("Transcribe") == 3
        assert effects.count("CancelResponse") == 1
