"""The official ``openai`` SDK's GA realtime client against ``rtcore_trio`` on loopback (issue 11).

``AsyncOpenAI(...).realtime.connect(model=...)`` (openai 3.57.0, no
``OpenAI-Beta`` header) talks to an in-process ``RealtimeServer`` on
127.0.0.1 with the echo backend: a text turn, a server-VAD audio turn with
input transcription, a tool call round trip, a cancel in the middle of an
audio answer, and a truncate of the assistant's audio (the issue's list);
then a session configured the way GA clients do (nulls, open voices, G.711,
semantic VAD, an out-of-band response), speech interrupting an answer, and a
transcription session.

The SDK runs on asyncio in a worker thread; the server runs on trio. The SDK's own receive path does
not validate (docs/protocol/ga.md#sdk-types), so every message it receives is validated here: the
member of ``RealtimeServerEvent`` is picked by ``type`` (a name outside the GA union, such as a beta
name, fails at once), validated strictly, and then searched for fields the model does not declare:
the models allow extras, so without that search a misspelt or misplaced field would pass unnoticed.
The only extras allowed are the ones docs/protocol/ga.md#sdk-types,
docs/protocol/choices.md#disagreements records the live server sending.

The exact event order of a response (docs/protocol/flows.md#responses) and of a VAD turn
(docs/protocol/flows.md#server-vad-turn) is checked too. A last test checks the refusal of a beta
handshake by a server that offers only GA (docs/protocol/connection.md#dialect-choice).
"""

from __future__ import annotations

import asyncio
import base64
import json
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from serverkit import silence, tone

from rtcore_sim import EchoBackend
from rtcore_trio import RealtimeServer

openai = pytest.importorskip("openai")
pytest.importorskip("websockets")
pydantic = pytest.importorskip("pydantic")
realtime_types = pytest.importorskip("openai.types.realtime")

MODEL = "gpt-realtime"


def _models_by_type(union: Any) -> dict[str, type[Any]]:
    # The SDK's discriminator is its own marker, not pydantic's: pick the member by type.
    (members, *_) = typing.get_args(union)
    out = {}
    for model in typing.get_args(members):
        (event_type,) = typing.get_args(model.model_fields["type"].annotation)
        out[event_type] = model
    return out


SERVER_MODELS = _models_by_type(realtime_types.RealtimeServerEvent)

NEVER_SENT = {"conversation.item.created"}
"""In the GA union but never sent by a GA server (docs/protocol/flows.md#item-create,
docs/protocol/flows.md#conforming-server: ``added`` + ``done``)."""

ALLOWED_EXTRAS: dict[str, set[str]] = {
    # docs/protocol/ga.md#sdk-types, docs/protocol/choices.md#session-created-shape: the SDK types
    # the session with the request model, so the response-only fields a real server always sends are
    # extras.
    "session.created": {"session.id", "session.object", "session.expires_at"},
    "session.updated": {"session.id", "session.object", "session.expires_at"},
    # docs/protocol/choices.md#obfuscation: the live server adds `obfuscation` to transcript deltas.
    "response.output_audio_transcript.delta": {"obfuscation"},
}


def _extras(value: Any, path: str = "") -> set[str]:
    """The dotted paths of every field a validated model holds but does not declare."""
    if isinstance(value, pydantic.BaseModel):
        found = {f"{path}{name}" for name in value.model_extra or {}}
        for name in type(value).model_fields:
            found |= _extras(getattr(value, name), f"{path}{name}.")
        return found
    if isinstance(value, list | tuple):
        return {p for member in value for p in _extras(member, path)}
    return set()


def validate(raw: bytes) -> Any:
    """``raw`` as the SDK's GA model of its type; fails on any wrong or undeclared field."""
    event_type = json.loads(raw)["type"]
    assert event_type in SERVER_MODELS, f"{event_type} is not a GA server event"
    assert event_type not in NEVER_SENT, f"{event_type} in a GA stream"
    model = SERVER_MODELS[event_type].model_validate_json(raw, strict=True)
    unexpected = _extras(model) - ALLOWED_EXTRAS.get(event_type, set())
    assert not unexpected, f"{event_type}: fields the SDK does not declare: {sorted(unexpected)}"
    return model


class Events:
    """Reads from an SDK connection, validating every message."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.seen: list[Any] = []

    async def next(self, limit: float = 10) -> Any:
        async with asyncio.timeout(limit):
            raw = await self.conn.recv_bytes()
        validated = validate(raw)
        event = self.conn.parse_event(raw)
        assert type(validated) is type(event)
        self.seen.append(validated)
        return validated

    async def until(self, kind: str, limit: float = 10) -> Any:
        async with asyncio.timeout(limit):
            while True:
                event = await self.next()
                if event.type == kind:
                    return event

    def take(self) -> list[Any]:
        out = list(self.seen)
        self.seen.clear()
        return out


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def run_sdk(port: int, scenario: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        client = openai.AsyncOpenAI(
            api_key="sk-local", websocket_base_url=f"ws://127.0.0.1:{port}/v1"
        )
        async with client.realtime.connect(model=MODEL) as conn:
            await scenario(conn)

    asyncio.run(main())


@asynccontextmanager
async def server(**options: Any) -> AsyncIterator[int]:
    realtime = RealtimeServer(api_keys=["sk-local"], **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(realtime.serve, "127.0.0.1", 0)
        assert realtime.port is not None
        yield realtime.port
        realtime.shutdown()
    assert realtime.failures == 0


async def run(scenario: Callable[[Any], Awaitable[None]], **options: Any) -> None:
    async with server(**options) as port:
        await trio.to_thread.run_sync(run_sdk, port, scenario)


SESSION_FIELDS = {
    "type",
    "model",
    "output_modalities",
    "instructions",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "prompt",
    "audio",
    "include",
}
"""Every field of the real default session (docs/protocol/connection.md#first-events), each sent
even when ``null``."""


def check_complete_session(session: Any) -> None:
    """A complete GA session (docs/protocol/flows.md#conforming-server): the response-only fields,
    every field present."""
    assert SESSION_FIELDS <= session.model_fields_set
    assert {"input", "output"} <= session.audio.model_fields_set
    assert {"format", "transcription", "noise_reduction", "turn_detection"} <= (
        session.audio.input.model_fields_set
    )
    assert {"format", "voice", "speed"} <= session.audio.output.model_fields_set
    extra = session.model_extra
    assert extra["object"] == "realtime.session"
    assert isinstance(extra["id"], str) and extra["id"].startswith("sess_")
    assert isinstance(extra["expires_at"], int)


async def configure(events: Events, session: dict[str, Any]) -> Any:
    """``session.created``, then ``session.update``; the ``session.updated`` answer."""
    created = await events.until("session.created")
    assert created.session.type == "realtime"
    assert created.session.model == MODEL
    check_complete_session(created.session)
    await events.conn.session.update(session={"type": "realtime", **session})
    updated = await events.until("session.updated")
    check_complete_session(updated.session)
    assert updated.session.model_extra["id"] == created.session.model_extra["id"]
    events.take()
    return updated


async def say(events: Events, text: str) -> Any:
    """A user text message; its ``conversation.item.done``."""
    await events.conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    return await events.until("conversation.item.done")


# -- the order of docs/protocol/flows.md#responses ----------------------------------------------


def check_response(events: list[Any], previous: str | None) -> None:
    """``events`` is exactly one response (``response.created`` .. ``response.done``) in GA order.

    Per output item: ``output_item.added`` -> ``conversation.item.added`` -> its parts
    (``content_part.added`` -> deltas -> ``.done``s -> ``content_part.done``) or its
    argument deltas -> ``arguments.done`` -> ``output_item.done`` ->
    ``conversation.item.done``; ``rate_limits.updated`` once, after the last part has
    closed and before ``response.done``; ids threaded through.

    Two places meet the rule (docs/protocol/flows.md#rate-limits-position): right after the last
    ``content_part.done``, as in the observed GA trace, and right before ``response.done``. The
    server takes the second, which also serves responses without parts (function calls), and this
    checks that exact place.
    """
    assert events[0].type == "response.created" and events[-1].type == "response.done"
    response_id = events[0].response.id
    assert events[-1].response.id == response_id
    assert [e.type for e in events].count("rate_limits.updated") == 1
    open_item: str | None = None
    open_part: int | None = None
    closed_parts = 0
    rate_limits_at = None
    item_done_at: dict[str, int] = {}
    for i, event in enumerate(events[1:-1], start=1):
        kind = event.type
        if kind == "rate_limits.updated":
            assert open_part is None, "rate_limits.updated inside a part"
            rate_limits_at = i
            continue
        if kind == "response.output_item.added":
            assert open_item is None and event.response_id == response_id
            open_item = event.item.id
            assert events[i + 1].type == "conversation.item.added", "item.added must follow"
            assert events[i + 1].item.id == open_item
            assert events[i + 1].previous_item_id == previous
            continue
        if kind == "conversation.item.added":
            assert events[i - 1].type == "response.output_item.added"
            continue
        if kind == "response.output_item.done":
            assert open_item == event.item.id and open_part is None
            assert event.item.status in ("completed", "incomplete")
            assert events[i + 1].type == "conversation.item.done", "item.done must follow"
            assert events[i + 1].item == event.item
            assert events[i + 1].previous_item_id == previous
            item_done_at[open_item] = i
            previous, open_item = open_item, None
            continue
        if kind == "conversation.item.done":
            assert events[i - 1].type == "response.output_item.done"
            continue
        assert open_item is not None, f"{kind} outside an item"
        assert event.item_id == open_item and event.response_id == response_id
        if kind == "response.content_part.added":
            assert open_part is None
            open_part = event.content_index
            assert event.part.type in ("text", "audio")
        elif kind == "response.content_part.done":
            assert open_part == event.content_index
            open_part = None
            closed_parts += 1
        elif kind.startswith(("response.output_text", "response.output_audio")):
            assert open_part == event.content_index, f"{kind} outside its part"
        else:
            assert kind.startswith("response.function_call_arguments."), kind
    assert open_item is None and open_part is None
    assert rate_limits_at == len(events) - 2
    last_close = max(
        [i for i, e in enumerate(events) if e.type == "response.content_part.done"], default=0
    )
    assert rate_limits_at > last_close
    output = events[-1].response.output
    assert [item.id for item in output] == list(item_done_at)
    for item in output:  # the final items as announced by their output_item.done
        assert item == events[item_done_at[item.id]].item


def check_audio_part_stream(events: list[Any]) -> None:
    """The close-out of an audio part: audio done, transcript done, part done
    (docs/protocol/flows.md#audio-response)."""
    kinds = types(events)
    start = kinds.index("response.content_part.added")
    end = kinds.index("response.content_part.done")
    body = kinds[start + 1 : end]
    assert body[-2:] == ["response.output_audio.done", "response.output_audio_transcript.done"]
    assert set(body[:-2]) == {
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
    }
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    [done] = [e for e in events if e.type == "response.output_audio_transcript.done"]
    assert done.transcript == transcript
    assert events[end].part.transcript == transcript


def audio_ms(events: list[Any]) -> int:
    """Milliseconds of pcm16 24 kHz audio in the ``response.output_audio.delta`` events."""
    size = sum(
        len(base64.b64decode(e.delta)) for e in events if e.type == "response.output_audio.delta"
    )
    return size // 2 * 1000 // 24000


# -- 1. a text turn ----------------------------------------------------------------------


async def test_a_text_turn() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        updated = await configure(
            events, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
        )
        assert updated.session.output_modalities == ["text"]
        assert updated.session.audio.input.turn_detection is None
        user = await say(events, "Hello SDK")
        added, done = events.take()
        assert (added.type, done.type) == ("conversation.item.added", "conversation.item.done")
        assert added.item == done.item == user.item
        assert user.item.role == "user" and user.item.content[0].text == "Hello SDK"
        await conn.response.create()
        finished = await events.until("response.done")
        response = events.take()
        assert types(response) == [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "rate_limits.updated",
            "response.done",
        ]
        check_response(response, previous=user.item.id)
        assert finished.response.status == "completed"
        assert finished.response.output_modalities == ["text"]
        [item] = finished.response.output
        assert item.type == "message" and item.role == "assistant"
        assert [(c.type, c.text) for c in item.content] == [("output_text", "Hello SDK")]
        assert "".join(e.delta for e in response[4:6]) == "Hello SDK"
        assert response[6].text == "Hello SDK"
        assert response[3].part.type == "text" and response[7].part.text == "Hello SDK"

    await run(scenario)


# -- 2. a server-VAD audio turn with input transcription ---------------------------------


async def test_a_server_vad_turn_with_input_transcription() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        updated = await configure(
            events, {"audio": {"input": {"transcription": {"model": "whisper-1"}}}}
        )
        assert updated.session.audio.input.transcription.model == "whisper-1"
        assert updated.session.audio.input.turn_detection.type == "server_vad"
        audio = silence(300) + tone(700) + silence(300)
        for offset in range(0, len(audio), 4800):
            await conn.input_audio_buffer.append(
                audio=base64.b64encode(audio[offset : offset + 4800]).decode()
            )
        done = await events.until("response.done")
        seen = events.take()
        transcription = [
            e for e in seen if e.type.startswith("conversation.item.input_audio_transcription.")
        ]
        turn = [e for e in seen if e not in transcription]
        assert types(turn[:6]) == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
        ]
        started, stopped, committed, added, item_done = turn[:5]
        user = committed.item_id
        assert started.item_id == stopped.item_id == user
        assert added.item.id == user and added.item == item_done.item
        assert committed.previous_item_id is None and added.previous_item_id is None
        assert added.item.role == "user" and added.item.status == "completed"
        assert [(c.type, c.transcript) for c in added.item.content] == [("input_audio", None)]
        assert 0 <= started.audio_start_ms < 300 < stopped.audio_end_ms <= 1300
        # Transcription: anywhere after `committed`, for the user item.
        assert types(transcription)[-1] == ("conversation.item.input_audio_transcription.completed")
        assert all(e.item_id == user and e.content_index == 0 for e in transcription)
        assert seen.index(transcription[0]) > seen.index(committed)
        completed = transcription[-1]
        assert completed.transcript == "[1.20 s of audio]"
        assert completed.usage is not None
        # The spoken answer.
        response = turn[5:]
        check_response(response, previous=user)
        check_audio_part_stream(response)
        assert done.response.status == "completed"
        assert done.response.output_modalities == ["audio"]
        [item] = done.response.output
        assert [(c.type, c.transcript, c.audio) for c in item.content] == [
            ("output_audio", "[1.20 s of audio]", None)
        ]
        assert audio_ms(response) == 50 * len("[1.20 s of audio]")
        # A second turn follows the assistant's answer in the conversation.
        for offset in range(0, len(audio), 4800):
            await conn.input_audio_buffer.append(
                audio=base64.b64encode(audio[offset : offset + 4800]).decode()
            )
        await events.until("response.done")
        second = [e for e in events.take() if not e.type.startswith("conversation.item.input")]
        assert types(second[:6]) == types(turn[:6])
        committed, added = second[2], second[3]
        assert committed.previous_item_id == added.previous_item_id == item.id
        assert committed.item_id not in (user, item.id)
        check_response(second[5:], previous=committed.item_id)

    await run(scenario)


# -- 3. a tool call round trip -------------------------------------------------------------


async def test_a_tool_call_round_trip() -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "additionalProperties": False,
        },
    }

    async def scenario(conn: Any) -> None:
        events = Events(conn)
        updated = await configure(
            events,
            {
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
                "tools": [tool],
                "tool_choice": "auto",
            },
        )
        assert [t.name for t in updated.session.tools] == ["get_weather"]
        user = await say(events, "get_weather for Paris")
        events.take()
        await conn.response.create()
        first = await events.until("response.done")
        response = events.take()
        check_response(response, previous=user.item.id)
        kinds = types(response)
        assert kinds[:3] == [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
        ]
        assert "response.content_part.added" not in kinds
        [args_done] = [e for e in response if e.type == "response.function_call_arguments.done"]
        deltas = [e for e in response if e.type == "response.function_call_arguments.delta"]
        assert kinds.index(args_done.type) < kinds.index("response.output_item.done")
        arguments = json.dumps({"text": "get_weather for Paris"})
        assert args_done.name == "get_weather" and args_done.arguments == arguments
        assert response[1].item.arguments + "".join(d.delta for d in deltas) == arguments
        assert all(d.call_id == args_done.call_id for d in deltas)
        assert first.response.status == "completed"
        [call] = first.response.output
        assert (call.type, call.name, call.call_id, call.arguments, call.status) == (
            "function_call",
            "get_weather",
            args_done.call_id,
            arguments,
            "completed",
        )
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": '{"sky":"clear"}',
            }
        )
        output = await events.until("conversation.item.done")
        added, _ = events.take()
        assert added.type == "conversation.item.added" and added.item == output.item
        assert output.previous_item_id == call.id
        assert (output.item.type, output.item.call_id) == ("function_call_output", call.call_id)
        await conn.response.create()
        answer = await events.until("response.done")
        check_response(events.take(), previous=output.item.id)
        [message] = answer.response.output
        assert message.content[0].text == 'The tool returned: {"sky":"clear"}'

    await run(scenario)


# -- 4. cancel in the middle of an audio answer ---------------------------------------------


async def test_cancel_in_the_middle_of_an_audio_answer() -> None:
    long_text = "Tell me everything you know about the weather in Paris. " * 4

    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await configure(events, {"audio": {"input": {"turn_detection": None}}})
        user = await say(events, long_text)
        events.take()
        await conn.response.create()
        delta = await events.until("response.output_audio.delta")
        await conn.response.cancel(event_id="stop")
        done = await events.until("response.done")
        response = events.take()
        check_response(response, previous=user.item.id)
        check_audio_part_stream(response)
        assert done.response.id == delta.response_id
        assert done.response.status == "cancelled"
        assert done.response.status_details.type == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        after = types(response)[types(response).index("response.output_audio.delta") :]
        assert after[-6:] == [
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "rate_limits.updated",
            "response.done",
        ]
        [item] = done.response.output
        assert item.status == "incomplete"
        heard = "".join(
            e.delta for e in response if e.type == "response.output_audio_transcript.delta"
        )
        assert item.content[0].transcript == heard
        assert 0 < len(heard) < len(long_text)
        assert audio_ms(response) < 50 * len(long_text)
        # Nothing runs any more.
        await conn.response.cancel(event_id="again")
        error = await events.until("error")
        assert (error.error.code, error.error.event_id) == ("response_cancel_not_active", "again")
        assert types(events.take()) == ["error"]

    # Audio paced at its real duration: the cancel arrives while the answer is speaking.
    await run(scenario, backend=EchoBackend(realtime=True))


# -- 5. truncate the assistant's audio ----------------------------------------------------


@pytest.mark.parametrize("retain_audio", [True, False])
async def test_truncate_the_assistant_audio(retain_audio: bool) -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await configure(events, {"audio": {"input": {"turn_detection": None}}})
        await say(events, "Hello there")
        await conn.response.create()
        done = await events.until("response.done")
        spoken = audio_ms(events.take())
        assert spoken == 50 * len("Hello there")
        [item] = done.response.output
        assert item.content[0].type == "output_audio"
        await conn.conversation.item.truncate(item_id=item.id, content_index=0, audio_end_ms=300)
        truncated = await events.until("conversation.item.truncated")
        assert (truncated.item_id, truncated.content_index, truncated.audio_end_ms) == (
            item.id,
            0,
            300,
        )
        assert types(events.take()) == ["conversation.item.truncated"]
        await conn.conversation.item.truncate(
            item_id=item.id, content_index=0, audio_end_ms=spoken + 1, event_id="too-far"
        )
        error = await events.until("error")
        assert error.error.event_id == "too-far"
        # The truncated item holds what was heard: its transcript is gone, its audio cut.
        await conn.conversation.item.retrieve(item_id=item.id)
        retrieved = await events.until("conversation.item.retrieved")
        part = retrieved.item.content[0]
        assert part.type == "output_audio" and not part.transcript
        if retain_audio:
            assert len(base64.b64decode(part.audio)) == 300 * 24000 // 1000 * 2
        else:
            # By default the server keeps durations, not bytes: the audio is absent.
            assert part.audio is None

    await run(scenario, retain_audio=retain_audio)


# -- 6. a session and responses configured the way GA clients do -------------------------------


async def test_a_session_and_responses_configured_as_ga_clients_do() -> None:
    """Nulls for "not set", open voices, G.711 output, semantic VAD, an out-of-band response."""

    async def scenario(conn: Any) -> None:
        events = Events(conn)
        updated = await configure(
            events,
            {
                "instructions": None,
                "tracing": "auto",
                "include": ["item.input_audio_transcription.logprobs"],
                "max_output_tokens": "inf",
                "audio": {
                    "input": {
                        "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                        "noise_reduction": {"type": "near_field"},
                        "format": {"type": "audio/pcm", "rate": 24000},
                    },
                    "output": {"voice": "marin", "speed": 1.2, "format": {"type": "audio/pcmu"}},
                },
            },
        )
        session = updated.session
        assert session.instructions  # null left the default in place
        assert session.tracing == "auto"
        assert session.include == ["item.input_audio_transcription.logprobs"]
        assert session.audio.input.turn_detection.type == "semantic_vad"
        assert session.audio.input.turn_detection.eagerness == "high"
        assert session.audio.input.noise_reduction.type == "near_field"
        assert (session.audio.output.voice, session.audio.output.speed) == ("marin", 1.2)
        assert session.audio.output.format.type == "audio/pcmu"
        user = await say(events, "hi")
        events.take()
        await conn.response.create(
            response={
                "conversation": "none",
                "output_modalities": ["text"],
                "metadata": {"topic": "greeting"},
                "max_output_tokens": 100,
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "out of band"}],
                    }
                ],
            }
        )
        oob = await events.until("response.done")
        kinds = types(events.take())
        assert not [k for k in kinds if k.startswith("conversation.item.")]
        assert oob.response.conversation_id is None
        assert oob.response.metadata == {"topic": "greeting"}
        assert (oob.response.output_modalities, oob.response.max_output_tokens) == (["text"], 100)
        assert oob.response.output[0].content[0].text == "out of band"
        await conn.response.create(response={"audio": {"output": {"voice": "cedar"}}})
        spoken = await events.until("response.done")
        response = events.take()
        check_response(response, previous=user.item.id)  # the out-of-band item is not in it
        assert spoken.response.audio.output.voice == "cedar"
        assert spoken.response.audio.output.format.type == "audio/pcmu"
        g711 = b"".join(
            base64.b64decode(e.delta) for e in response if e.type == "response.output_audio.delta"
        )
        assert len(g711) == 8000 * 50 * len("hi") // 1000  # 8 kHz, a byte per sample
        await conn.session.update(session={"modalities": ["text"]}, event_id="beta-shaped")
        error = await events.until("error")
        assert (error.error.code, error.error.param, error.error.event_id) == (
            "missing_required_parameter",
            "session.type",
            "beta-shaped",
        )
        await conn.input_audio_buffer.commit(event_id="empty")
        error = await events.until("error")
        assert (error.error.code, error.error.event_id) == (
            "input_audio_buffer_commit_empty",
            "empty",
        )

    await run(scenario)


# -- 7. speech interrupts an audio answer (docs/protocol/flows.md#barge-in) ---------------------


async def test_speech_interrupts_an_audio_answer() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await configure(events, {})  # server VAD with interrupt_response, by default
        user = await say(events, "a long answer please " * 4)
        events.take()
        await conn.response.create()
        await events.until("response.output_audio.delta")
        speech = tone(700) + silence(300)
        for offset in range(0, len(speech), 4800):
            await conn.input_audio_buffer.append(
                audio=base64.b64encode(speech[offset : offset + 4800]).decode()
            )
        interrupted = await events.until("response.done")
        answer = await events.until("response.done")
        seen = [e for e in events.take() if not e.type.startswith("conversation.item.input")]
        first = seen.index(interrupted)
        started = types(seen).index("input_audio_buffer.speech_started")
        # Everything of the first response but its start came in before; speech cut it short.
        cut = seen[: first + 1]
        del cut[started]
        check_response(cut, previous=user.item.id)
        check_audio_part_stream(cut)
        assert interrupted.response.status == "cancelled"
        assert interrupted.response.status_details.reason == "turn_detected"
        assert interrupted.response.output[0].status == "incomplete"
        rest = seen[first + 1 :]
        assert types(rest[:5]) == [
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
        ]
        assert rest[1].previous_item_id == interrupted.response.output[0].id
        check_response(rest[4:], previous=rest[1].item_id)
        assert answer.response.status == "completed"

    # Audio paced at its real duration: the user speaks while the answer is playing.
    await run(scenario, backend=EchoBackend(realtime=True))


# -- 8. a transcription session (docs/protocol/connection.md#session-type,
# docs/protocol/flows.md#transcription-session) ---


async def test_a_transcription_session() -> None:
    def run_transcription(port: int) -> None:
        async def main() -> None:
            client = openai.AsyncOpenAI(
                api_key="sk-local", websocket_base_url=f"ws://127.0.0.1:{port}/v1"
            )
            async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
                events = Events(conn)
                created = await events.until("session.created")
                assert created.session.type == "transcription"
                assert created.session.model_extra["object"] == "realtime.transcription_session"
                await conn.session.update(
                    session={
                        "type": "transcription",
                        "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
                    }
                )
                updated = await events.until("session.updated")
                assert updated.session.audio.input.transcription.model == "gpt-4o-transcribe"
                events.take()
                audio = silence(300) + tone(700) + silence(300)
                for offset in range(0, len(audio), 4800):
                    await conn.input_audio_buffer.append(
                        audio=base64.b64encode(audio[offset : offset + 4800]).decode()
                    )
                completed = await events.until(
                    "conversation.item.input_audio_transcription.completed"
                )
                assert completed.transcript == "[1.20 s of audio]"
                await conn.response.create(event_id="no-responses")
                error = await events.until("error")
                assert error.error.event_id == "no-responses"
                kinds = types(events.take())
                assert kinds[:5] == [
                    "input_audio_buffer.speech_started",
                    "input_audio_buffer.speech_stopped",
                    "input_audio_buffer.committed",
                    "conversation.item.added",
                    "conversation.item.done",
                ]
                assert not [k for k in kinds if k.startswith("response.")]

        asyncio.run(main())

    async with server() as port:
        await trio.to_thread.run_sync(run_transcription, port)


# -- a beta handshake to a GA-only server ----------------------------------------------------


def beta_sdk_refused(port: int) -> tuple[Any, Any]:
    """The beta SDK client's handshake: what it receives, and how the socket closes."""
    import websockets

    async def main() -> tuple[Any, Any]:
        client = openai.AsyncOpenAI(
            api_key="sk-local", websocket_base_url=f"ws://127.0.0.1:{port}/v1"
        )
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
            raw = await asyncio.wait_for(conn.recv_bytes(), 10)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv_bytes(), 10)
            return raw, closed.value.rcvd

    return asyncio.run(main())


def beta_subprotocol_refused(port: int) -> tuple[Any, Any]:
    """A browser-style beta handshake (the ``openai-beta.realtime-v1`` subprotocol)."""
    import websockets
    from websockets.asyncio.client import connect

    async def main() -> tuple[Any, Any]:
        protocols = ["realtime", "openai-insecure-api-key.sk-local", "openai-beta.realtime-v1"]
        async with connect(
            f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime",
            subprotocols=protocols,  # type: ignore[arg-type]
        ) as ws:
            raw = await asyncio.wait_for(ws.recv(decode=False), 10)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return raw, closed.value.rcvd

    return asyncio.run(main())


@pytest.mark.parametrize("client", [beta_sdk_refused, beta_subprotocol_refused])
async def test_a_ga_only_server_refuses_a_beta_handshake(
    client: Callable[[int], tuple[Any, Any]],
) -> None:
    async with server(dialects=("ga",)) as port:
        raw, close = await trio.to_thread.run_sync(client, port)
        # A GA client on the same server is served.
        await trio.to_thread.run_sync(run_sdk, port, _created_only)
    error = validate(raw)
    assert error.type == "error"
    assert error.error.type == "invalid_request_error"
    assert error.error.code == "beta_api_shape_disabled"
    assert error.error.message == (
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
    )
    assert close is not None and close.code == 4000
    assert "beta_api_shape_disabled" in close.reason


async def _created_only(conn: Any) -> None:
    created = await Events(conn).until("session.created")
    assert created.session.type == "realtime"


# -- the validator itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        # a beta name
        {
            "type": "response.text.delta",
            "event_id": "e",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "delta": "x",
        },
        # a GA name a GA server never sends (docs/protocol/flows.md#conforming-server: added + done
        # instead)
        {
            "type": "conversation.item.created",
            "event_id": "e",
            "previous_item_id": None,
            "item": {"id": "i", "type": "message", "role": "user", "content": []},
        },
        # a field the model does not declare, deep inside
        {
            "type": "conversation.item.done",
            "event_id": "e",
            "previous_item_id": None,
            "item": {
                "id": "i",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x", "format": "pcm16"}],
            },
        },
        # an item part name in a part event (docs/protocol/ga.md#sdk-types)
        {
            "type": "response.content_part.added",
            "event_id": "e",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
        # a string for an integer
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "i",
            "content_index": "0",
            "audio_end_ms": 10,
        },
    ],
    ids=["beta name", "item.created", "undeclared field", "part type", "string index"],
)
def test_the_validator_refuses_wrong_shapes(message: dict[str, Any]) -> None:
    with pytest.raises((AssertionError, pydantic.ValidationError)):
        validate(json.dumps(message).encode())


async def test_a_beta_only_server_refuses_the_ga_client_before_the_upgrade() -> None:
    def ga_refused(port: int) -> Any:
        from websockets.exceptions import InvalidStatus

        with pytest.raises(InvalidStatus) as refused:
            run_sdk(port, _created_only)
        return refused.value.response

    async with server(dialects=("beta",)) as port:
        response = await trio.to_thread.run_sync(ga_refused, port)
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["code"] == "beta_header_required"
