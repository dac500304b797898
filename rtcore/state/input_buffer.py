"""Transitions of the input audio buffer (docs/protocol/flows.md#input-audio,
docs/protocol/flows.md#idle-timeout).

The snapshot keeps what the server reported about the buffer: whether speech
is active and for which item, the last ``audio_start_ms`` / ``audio_end_ms``
(from VAD or the idle timeout), and the ids of the items committed from it.
GA adds keypad tones on SIP calls (``dtmf_event_received``), recorded in order.
"""

from __future__ import annotations

from msgspec.structs import replace

from .. import events as ev
from ..events import ga
from .model import Snapshot

# Each transition replaces the buffer record in one call, its changes spelled out: a
# helper taking ``**changes`` would build and unpack a dict for every VAD event.


def on_speech_started(s: Snapshot, e: ev.InputAudioBufferSpeechStarted) -> Snapshot:
    buffer = replace(
        s.input_audio_buffer,
        speech_active=True,
        speech_item_id=e.item_id,
        audio_start_ms=e.audio_start_ms,
        audio_end_ms=None,
    )
    return replace(s, input_audio_buffer=buffer)


def on_speech_stopped(s: Snapshot, e: ev.InputAudioBufferSpeechStopped) -> Snapshot:
    buffer = replace(
        s.input_audio_buffer,
        speech_active=False,
        speech_item_id=e.item_id,
        audio_end_ms=e.audio_end_ms,
    )
    return replace(s, input_audio_buffer=buffer)


def on_timeout_triggered(s: Snapshot, e: ev.InputAudioBufferTimeoutTriggered) -> Snapshot:
    buffer = replace(
        s.input_audio_buffer,
        speech_active=False,
        speech_item_id=e.item_id,
        audio_start_ms=e.audio_start_ms,
        audio_end_ms=e.audio_end_ms,
    )
    return replace(s, input_audio_buffer=buffer)


def on_committed(s: Snapshot, e: ev.InputAudioBufferCommitted) -> Snapshot:
    old = s.input_audio_buffer
    buffer = replace(
        old, speech_active=False, committed_item_ids=old.committed_item_ids.append(e.item_id)
    )
    return replace(s, input_audio_buffer=buffer)


def on_cleared(s: Snapshot, e: ev.InputAudioBufferCleared) -> Snapshot:
    buffer = replace(s.input_audio_buffer, speech_active=False, speech_item_id=None)
    return replace(s, input_audio_buffer=buffer)


def on_dtmf(s: Snapshot, e: ga.InputAudioBufferDtmfEventReceived) -> Snapshot:
    return replace(s, dtmf=s.dtmf.append((e.event, e.received_at)))
