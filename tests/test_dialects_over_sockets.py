"""The rtcore client against the rtcore server over real sockets, in GA and in beta.

One scripted conversation - a text turn, a server-VAD audio turn with input
transcription and a spoken answer, a tool call round trip, and a truncation
of the spoken answer - is told in each dialect's own words by
``rtcore_trio.connect`` to a real ``RealtimeServer`` on loopback. Both
servers are seeded alike, and the two clients must end with equal
snapshots, up to the names of ids and what only one dialect reports (as in
``test_dialect_equivalence``). The handshake decides the dialect: the same
server serves both, and each client sees only its own dialect's events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from serverkit import running, silence, tone
from test_dialect_equivalence import comparable

from rtcore import events as ev
from rtcore.state import Snapshot
from rtcore_sim import EchoBackend
from rtcore_trio import connect

TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}

SESSION = {
    "beta": {
        "modalities": ["text", "audio"],
        "turn_detection": {"type": "server_vad"},
        "input_audio_transcription": {"model": "whisper-1"},
        "tools": [TOOL],
    },
    "ga": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "turn_detection": {"type": "server_vad"},
                "transcription": {"model": "whisper-1"},
            }
        },
        "tools": [TOOL],
    },
}


@asynccontextmanager
async def serving() -> AsyncIterator[str]:
    async with running(EchoBackend(), seed=b"same seed") as server:
        yield f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"


def event(dialect: str, message: dict[str, Any]) -> Any:
    """A client event written as JSON in ``dialect``'s words, as an app would."""
    return ev.decode_client_event(json.dumps(message), dialect=dialect, strict=True)  # type: ignore[arg-type]


def said(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def until(rt: Any, kind: str, seen: list[str]) -> Any:
    async for received, _ in rt:
        seen.append(received.type)
        if received.type == "error":
            raise AssertionError(f"error from the server: {received.error}")
        if received.type == kind:
            return received
    raise AssertionError(f"the connection ended before {kind}")


async def conversation(url: str, dialect: str) -> tuple[Snapshot, list[str]]:
    seen: list[str] = []
    async with connect(url, dialect=dialect) as rt:  # type: ignore[arg-type]
        await until(rt, "session.created", seen)
        await rt.send(event(dialect, {"type": "session.update", "session": SESSION[dialect]}))
        await until(rt, "session.updated", seen)

        async def turn(item: dict[str, Any]) -> None:
            await rt.send(event(dialect, {"type": "conversation.item.create", "item": item}))
            await rt.send(event(dialect, {"type": "response.create"}))
            await until(rt, "response.done", seen)

        # A text turn, answered in speech.
        await turn(said("hi"))

        # An audio turn: VAD commits, the input is transcribed, the echo speaks the transcript.
        audio = silence(200) + tone(800) + silence(700)
        for offset in range(0, len(audio), 960):
            await rt.send(ev.InputAudioBufferAppend(audio=audio[offset : offset + 960]))
        done = await until(rt, "response.done", seen)
        [spoken] = rt.state.response_items(done.response.id)

        # A tool call round trip.
        await turn(said("please lookup x"))
        [(call_id, _)] = rt.state.pending_calls.items()
        await turn({"type": "function_call_output", "call_id": call_id, "output": "42"})

        # The user heard 300 ms of the spoken answer to the audio turn.
        truncate = {
            "type": "conversation.item.truncate",
            "item_id": spoken.id,
            "content_index": 0,
            "audio_end_ms": 300,
        }
        await rt.send(event(dialect, truncate))
        await until(rt, "conversation.item.truncated", seen)
        return rt.state, seen


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_a_conversation_over_sockets_in_each_dialect(dialect: str) -> None:
    async with serving() as url:
        state, seen = await conversation(url, dialect)
    names = set(ev.server_events(dialect).keys())  # type: ignore[arg-type]
    assert set(seen) <= names, f"events of the other dialect: {set(seen) - names}"
    assert not state.protocol_errors and not state.anomalies and not state.errors
    user, reply, heard, spoken, ask, call, output, answer = state.items
    assert reply.content[0].transcript.value == "hi"  # type: ignore[union-attr]
    assert heard.content[0].transcript.value == "[1.20 s of audio]"  # type: ignore[union-attr]
    part = spoken.content[0]
    assert part.type == "audio"  # the snapshot's one vocabulary, whatever the dialect
    assert part.audio_ms == 300 and not part.transcript.value  # type: ignore[union-attr]
    assert (call.type, call.name, output.output) == ("function_call", "lookup", "42")
    assert answer.content[0].transcript.value == "The tool returned: 42"  # type: ignore[union-attr]
    assert not state.pending_calls


def ids_in_order(value: Any, names: dict[str, str] | None = None) -> Any:
    """``value`` (a snapshot's ``to_dict()``) with every item, response and call id renamed
    by order of first appearance.

    The servers draw event ids from the same factory as item ids, and a GA server sends
    more events (``conversation.item.done``), so the ids themselves differ between the
    dialects; which id stands where must not.
    """
    names = {} if names is None else names
    if isinstance(value, dict):
        return {key: ids_in_order(member, names) for key, member in value.items()}
    if isinstance(value, list):
        return [ids_in_order(member, names) for member in value]
    if isinstance(value, str) and value.split("_", 1)[0] in ("item", "resp", "call"):
        return names.setdefault(value, f"{value.split('_', 1)[0]}#{len(names)}")
    return value


async def test_the_same_conversation_gives_equal_snapshots_in_both_dialects() -> None:
    # Two servers seeded alike, so that their sessions' ids agree.
    async with serving() as url:
        beta, beta_seen = await conversation(url, "beta")
    async with serving() as url:
        ga_state, ga_seen = await conversation(url, "ga")
    assert "conversation.item.added" in ga_seen and "conversation.item.created" in beta_seen
    assert "response.output_audio.delta" in ga_seen and "response.audio.delta" in beta_seen
    left = ids_in_order(comparable(beta).to_dict())
    right = ids_in_order(comparable(ga_state).to_dict())
    # The two servers ran one after the other on the wall clock: their sessions' expiry times
    # may straddle a second.
    assert abs(left["session"].pop("expires_at") - right["session"].pop("expires_at")) <= 2
    assert left == right
    assert len(left["items"]) == 8 and left["items"][3]["content"][0]["audio_ms"] == 300


async def test_one_server_serves_both_dialects_at_once() -> None:
    async with serving() as url:
        async with trio.open_nursery() as nursery:
            results: dict[str, Snapshot] = {}

            async def run(dialect: str) -> None:
                results[dialect], _ = await conversation(url, dialect)

            nursery.start_soon(run, "beta")
            nursery.start_soon(run, "ga")
    assert results["beta"].session is not None and results["ga"].session is not None
    assert len(results["beta"].items) == len(results["ga"].items) == 8
