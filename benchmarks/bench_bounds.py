"""Bounded sessions: what a turn costs in a long conversation, and what a minute of it holds.

Two figures. The cost of one turn (``session.update``, ``response.create``, a
short text response, and deleting its item so that the conversation keeps
its length) in a conversation of 4000 items against the same turn at 10
items: starting a response hands the backend a view of the conversation,
not a copy, so the ratio should stay near 1. And the memory a
``ServerSession`` holds per minute of conversation (server VAD turns of
user speech, each answered with as much audio) under the default retention
(durations only) against retaining every byte, measured with
``tracemalloc`` as the growth between the first and the last minute.
"""

from __future__ import annotations

import base64
import gc
import json
import math
import statistics
import sys
import time
import tracemalloc
from array import array

from rtcore.server import ServerSession, StartResponse

from .harness import Result
from .workloads import pcm_tone

TURN_GOAL = ("<= 1.5 x the turn at 10 items", lambda r: r <= 1.5)
MINUTE_GOAL_MB = 0.1

_UPDATE = b'{"type":"session.update","session":{"type":"realtime","instructions":"Be brief."}}'
_CREATE = b'{"type":"response.create"}'


def _conversation(items: int) -> ServerSession:
    session = ServerSession(dialect="ga")
    session.receive_message(
        b'{"type":"session.update","session":{"type":"realtime","output_modalities":["text"],'
        b'"audio":{"input":{"turn_detection":null}}}}'
    )
    for i in range(items):
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": f"m{i}"}],
        }
        session.receive_message(json.dumps({"type": "conversation.item.create", "item": item}))
    session.messages_to_send()
    return session


def _turn(session: ServerSession) -> float:
    """One turn; returns its time. The reply's item is deleted afterwards, off the clock, so
    that the conversation keeps its length (deleting from a persistent vector is O(n))."""
    start_time = time.perf_counter()
    session.receive_message(_UPDATE)
    [start] = [e for e in session.receive_message(_CREATE) if isinstance(e, StartResponse)]
    session.add_text(start.response_id, "Hi there.")
    session.finish_response(start.response_id)
    session.messages_to_send()
    elapsed = time.perf_counter() - start_time
    item_id = session.state.order[-1]
    session.receive_message(
        b'{"type":"conversation.item.delete","item_id":"' + item_id.encode() + b'"}'
    )
    session.messages_to_send()
    return elapsed


def _turns(session: ServerSession, number: int) -> float:
    """The median time of ``number`` turns."""
    return statistics.median(_turn(session) for _ in range(number))


def _speech(ms: int) -> bytes:
    """A 220 Hz pcm16 tone loud enough for the energy detector (24 kHz)."""
    samples = array(
        "h", (int(8000 * math.sin(2 * math.pi * 220 * i / 24000)) for i in range(24 * ms))
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def _minutes_held(minutes: int, retain_audio: bool) -> list[float]:
    """MB held by a voice session after each minute of turns (2 s speech, 0.5 s silence)."""
    speech, quiet = _speech(20), bytes(960)
    answer = pcm_tone(100)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    session = ServerSession(retain_audio=retain_audio)
    session.messages_to_send()
    held = []
    for _minute in range(minutes):
        for _turn_no in range(24):  # 24 turns of 2.5 s
            effects = []
            for i in range(125):
                effects += session.receive_message(
                    b'{"type":"input_audio_buffer.append","audio":"'
                    + base64.b64encode(speech if i < 100 else quiet)
                    + b'"}'
                )
            assert any(isinstance(e, StartResponse) for e in effects), "VAD found no turn"
            for effect in effects:
                if isinstance(effect, StartResponse):
                    session.add_transcript(effect.response_id, "Sure, here is the answer.")
                    for _ in range(20):  # 2 s of audio
                        session.add_audio(effect.response_id, answer)
                    session.finish_response(effect.response_id)
            session.messages_to_send()
        gc.collect()
        held.append((tracemalloc.get_traced_memory()[0] - base) / 1e6)
    tracemalloc.stop()
    return held


def run(quick: bool = False) -> list[Result]:
    repeats = 5 if quick else 15
    small, large = _conversation(10), _conversation(4000)
    _turns(small, 50), _turns(large, 50)  # warm up
    ratios, large_times, small_times = [], [], []
    gc.disable()
    try:
        for _ in range(repeats):
            b = _turns(small, 100)
            a = _turns(large, 100)
            ratios.append(a / b)
            large_times.append(a)
            small_times.append(b)
            gc.collect()
    finally:
        gc.enable()
    assert len(large.state.order) == 4000 and len(small.state.order) == 10
    ratio = statistics.median(ratios)
    q = statistics.quantiles(ratios, n=4)
    turn = Result(
        suite="bounds",
        name="turn: session.update + response.create + short response",
        subject="at 4000 items",
        baseline="at 10 items",
        ratio=ratio,
        spread=(q[0], q[-1]),
        subject_value=statistics.median(large_times) * 1e6,
        baseline_value=statistics.median(small_times) * 1e6,
        goal=TURN_GOAL[0],
        ok=TURN_GOAL[1](ratio),
    )

    minutes = 2 if quick else 4
    default = _minutes_held(minutes, retain_audio=False)
    retained = _minutes_held(minutes, retain_audio=True)
    per_minute = (default[-1] - default[0]) / (minutes - 1)
    retained_per_minute = (retained[-1] - retained[0]) / (minutes - 1)
    memory = Result(
        suite="bounds",
        name="server memory per conversation minute (24 VAD turns of 2 s speech, 2 s audio answers)",
        subject="default retention (durations)",
        baseline="retain_audio=True",
        ratio=per_minute / retained_per_minute,
        spread=(per_minute / retained_per_minute, per_minute / retained_per_minute),
        subject_value=per_minute,
        baseline_value=retained_per_minute,
        unit="MB",
        goal=f"<= {MINUTE_GOAL_MB} MB per minute",
        ok=per_minute <= MINUTE_GOAL_MB,
        extra={"held_mb_after_each_minute": [round(m, 3) for m in default]},
    )
    return [turn, memory]
