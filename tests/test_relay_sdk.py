"""The official SDK's clients through ``RelayServer`` to a server of the other dialect, on loopback.

The beta client talks to a relay whose upstream is an in-process ``rtcore serve``
that refuses beta (``dialects=("ga",)``); the GA client talks to a relay whose
upstream serves only beta. Each completes a text turn, a server-VAD audio turn,
a tool call round trip and a cancel, and every message it receives is
validated against its own SDK's models, by the validators of the direct SDK
tests (``test_openai_sdk`` for beta, ``test_openai_sdk_ga`` for GA, which also
refuses undeclared fields). Keys: the client knows only the relay's key, the
relay only the upstream's.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
from serverkit import silence, tone

from rtcore import events as ev
from rtcore_sim import Backend, Scenario, ScriptBackend, Turn
from rtcore_trio import RealtimeServer
from rtcore_trio.relay import RelayServer

openai = pytest.importorskip("openai")
pytest.importorskip("websockets")
import test_openai_sdk as beta_sdk  # noqa: E402
import test_openai_sdk_ga as ga_sdk  # noqa: E402

UPSTREAM_KEY = "sk-upstream-secret"
RELAY_KEY = "sk-relay"


def turn(**fields: Any) -> Turn:
    return msgspec.convert(fields, Turn)


@asynccontextmanager
async def relayed(
    upstream_dialect: ev.Dialect, backend: Backend | None = None, **relay_options: Any
) -> AsyncIterator[RelayServer]:
    """A relay on loopback before an upstream server that speaks only ``upstream_dialect``."""
    upstream = RealtimeServer(
        backend,
        transcriber=backend if isinstance(backend, ScriptBackend) else None,
        api_keys=[UPSTREAM_KEY],
        dialects=(upstream_dialect,),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(upstream.serve, "127.0.0.1", 0)
        relay = RelayServer(
            f"ws://127.0.0.1:{upstream.port}/v1/realtime",
            upstream_dialect=upstream_dialect,
            upstream_key=UPSTREAM_KEY,
            api_keys=[RELAY_KEY],
            **relay_options,
        )
        await nursery.start(relay.serve, "127.0.0.1", 0)
        yield relay
        relay.shutdown()
        upstream.shutdown()


def run_beta(port: int, scenario: Any) -> None:
    async def main() -> None:
        client = openai.AsyncOpenAI(
            api_key=RELAY_KEY, websocket_base_url=f"ws://127.0.0.1:{port}/v1"
        )
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview-2024-12-17") as conn:
            await scenario(conn)

    asyncio.run(main())


def run_ga(port: int, scenario: Any) -> None:
    async def main() -> None:
        client = openai.AsyncOpenAI(
            api_key=RELAY_KEY, websocket_base_url=f"ws://127.0.0.1:{port}/v1"
        )
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await scenario(conn)

    asyncio.run(main())


TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {}},
}
TOOL_SCRIPT = Scenario(
    turns=[
        turn(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]),
        turn(text="It is clear in Paris."),
    ]
)
SLOW = Scenario(turns=[turn(text="a slow answer " * 20, text_chunk_chars=3, delay_ms=20)])
HELLO = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Hello relay"}],
}


def speech() -> list[str]:
    audio = silence(300) + tone(700) + silence(300)
    return [base64.b64encode(audio[i : i + 4800]).decode() for i in range(0, len(audio), 4800)]


# --- a beta client before a GA server -----------------------------------------------------


async def test_beta_client_text_turn_through_a_ga_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = beta_sdk.Events(conn)
        created = await events.until("session.created")
        assert created.session.model == "gpt-4o-realtime-preview-2024-12-17"
        assert created.session.temperature == 0.8
        await conn.session.update(
            session={"modalities": ["text"], "turn_detection": None, "temperature": 0.7}
        )
        updated = await events.until("session.updated")
        assert updated.session.modalities == ["text"] and updated.session.temperature == 0.7
        await conn.conversation.item.create(item=HELLO)
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.output[0].content[0].text == "Hello relay"
        assert events.types()[1:] == [
            "session.updated",
            "conversation.item.created",
            "response.created",
            "response.output_item.added",
            "conversation.item.created",
            "response.content_part.added",
            "response.text.delta",
            "response.text.delta",
            "response.text.done",
            "response.content_part.done",
            "response.output_item.done",
            "rate_limits.updated",
            "response.done",
        ]

    async with relayed("ga") as relay:
        await trio.to_thread.run_sync(run_beta, relay.port, scenario)
    assert relay.losses["temperature_dropped"] == 1
    assert relay.losses["item_done_dropped"] == 2


async def test_beta_client_vad_audio_turn_through_a_ga_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = beta_sdk.Events(conn)
        await events.until("session.created")
        await conn.session.update(session={"input_audio_transcription": {"model": "whisper-1"}})
        await events.until("session.updated")
        events.types()
        for chunk in speech():
            await conn.input_audio_buffer.append(audio=chunk)
        done = await events.until("response.done")
        types = events.types()
        assert types[:4] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.created",
        ]
        assert "conversation.item.input_audio_transcription.completed" in types
        assert "response.audio.delta" in types and "response.audio_transcript.delta" in types
        assert done.response.output[0].content[0].type == "audio"

    async with relayed("ga") as relay:
        await trio.to_thread.run_sync(run_beta, relay.port, scenario)


async def test_beta_client_tool_call_through_a_ga_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = beta_sdk.Events(conn)
        await events.until("session.created")
        await conn.session.update(
            session={"modalities": ["text"], "turn_detection": None, "tools": [TOOL]}
        )
        await events.until("session.updated")
        await conn.conversation.item.create(
            item={**HELLO, "content": [{"type": "input_text", "text": "weather?"}]}
        )
        await conn.response.create()
        args = await events.until("response.function_call_arguments.done")
        assert args.arguments == '{"city": "Paris"}'
        await events.until("response.done")
        output = {
            "type": "function_call_output",
            "call_id": args.call_id,
            "output": '{"sky":"clear"}',
        }
        await conn.conversation.item.create(item=output)
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.output[0].content[0].text == "It is clear in Paris."

    backend = ScriptBackend(TOOL_SCRIPT)
    async with relayed("ga", backend) as relay:
        await trio.to_thread.run_sync(run_beta, relay.port, scenario)


async def test_beta_client_cancel_through_a_ga_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = beta_sdk.Events(conn)
        await events.until("session.created")
        await conn.session.update(session={"modalities": ["text"], "turn_detection": None})
        await events.until("session.updated")
        await conn.response.create()
        delta = await events.until("response.text.delta")
        await conn.response.cancel(event_id="stop")
        done = await events.until("response.done")
        assert (done.response.id, done.response.status) == (delta.response_id, "cancelled")
        await conn.response.cancel(event_id="again")
        error = await events.until("error")
        assert (error.error.code, error.error.event_id) == ("response_cancel_not_active", "again")

    async with relayed("ga", ScriptBackend(SLOW)) as relay:
        await trio.to_thread.run_sync(run_beta, relay.port, scenario)


# --- a GA client before a beta server -------------------------------------------------------


async def test_ga_client_text_turn_through_a_beta_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = ga_sdk.Events(conn)
        created = await events.until("session.created")
        assert created.session.type == "realtime"
        await conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
            }
        )
        await events.until("session.updated")
        await conn.conversation.item.create(item=HELLO)
        await events.until("conversation.item.done")
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.output[0].content[0].text == "Hello relay"
        kinds = ga_sdk.types(events.take())
        assert kinds.count("conversation.item.added") == kinds.count("conversation.item.done") == 2
        # The output item's `done` follows its `response.output_item.done`, as on GA servers.
        at = kinds.index("response.output_item.done")
        assert kinds[at + 1] == "conversation.item.done"

    async with relayed("beta", dialects=("ga",)) as relay:
        await trio.to_thread.run_sync(run_ga, relay.port, scenario)
    assert relay.losses["item_done_synthesised"] == 2


async def test_ga_client_vad_audio_turn_through_a_beta_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = ga_sdk.Events(conn)
        await events.until("session.created")
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            }
        )
        await events.until("session.updated")
        events.take()
        for chunk in speech():
            await conn.input_audio_buffer.append(audio=chunk)
        done = await events.until("response.done")
        kinds = ga_sdk.types(events.take())
        assert kinds[:4] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
        ]
        assert "response.output_audio.delta" in kinds
        assert done.response.output[0].content[0].type == "output_audio"

    async with relayed("beta", dialects=("ga",)) as relay:
        await trio.to_thread.run_sync(run_ga, relay.port, scenario)


async def test_ga_client_tool_call_through_a_beta_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = ga_sdk.Events(conn)
        await events.until("session.created")
        session = {
            "type": "realtime",
            "output_modalities": ["text"],
            "tools": [TOOL],
            "audio": {"input": {"turn_detection": None}},
        }
        await conn.session.update(session=session)
        await events.until("session.updated")
        await conn.conversation.item.create(item=HELLO)
        await conn.response.create()
        args = await events.until("response.function_call_arguments.done")
        assert args.arguments == '{"city": "Paris"}'
        await events.until("response.done")
        output = {
            "type": "function_call_output",
            "call_id": args.call_id,
            "output": '{"sky":"clear"}',
        }
        await conn.conversation.item.create(item=output)
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.output[0].content[0].text == "It is clear in Paris."

    async with relayed("beta", ScriptBackend(TOOL_SCRIPT), dialects=("ga",)) as relay:
        await trio.to_thread.run_sync(run_ga, relay.port, scenario)


async def test_ga_client_cancel_and_a_refused_request_through_a_beta_upstream() -> None:
    async def scenario(conn: Any) -> None:
        events = ga_sdk.Events(conn)
        await events.until("session.created")
        await conn.session.update(
            session={"type": "realtime", "truncation": "auto"}, event_id="trunc"
        )
        error = await events.until("error")
        assert (error.error.code, error.error.param, error.error.event_id) == (
            "unknown_parameter",
            "session.truncation",
            "trunc",
        )
        await conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
            }
        )
        await events.until("session.updated")
        await conn.response.create()
        delta = await events.until("response.output_text.delta")
        await conn.response.cancel(event_id="stop")
        done = await events.until("response.done")
        assert (done.response.id, done.response.status) == (delta.response_id, "cancelled")

    async with relayed("beta", ScriptBackend(SLOW), dialects=("ga",)) as relay:
        await trio.to_thread.run_sync(run_ga, relay.port, scenario)
