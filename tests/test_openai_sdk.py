"""The official ``openai`` SDK's beta realtime client against ``rtcore_trio.serve`` on loopback.

The SDK runs on asyncio in a thread; the server runs on trio. Every message the
SDK receives is validated against the SDK's own pydantic model of server
events, so a field the SDK requires and we forgot, or a value it does not
accept, fails the test.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
from serverkit import silence, tone

from rtcore_sim import Scenario, ScriptBackend, Turn
from rtcore_trio import RealtimeServer

openai = pytest.importorskip("openai")
pytest.importorskip("websockets")
pydantic = pytest.importorskip("pydantic")
from openai.types.beta.realtime import RealtimeServerEvent  # noqa: E402

SERVER_EVENTS = pydantic.TypeAdapter(RealtimeServerEvent)


class Events:
    """Reads from an SDK connection, validating every message strictly."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.seen: list[Any] = []

    async def until(self, kind: str, limit: float = 10) -> Any:
        async with asyncio.timeout(limit):
            while True:
                raw = await self.conn.recv_bytes()
                validated = SERVER_EVENTS.validate_json(raw)
                event = self.conn.parse_event(raw)
                assert type(validated) is type(event)
                self.seen.append(event)
                if event.type == kind:
                    return event

    def types(self) -> list[str]:
        out = [e.type for e in self.seen]
        self.seen.clear()
        return out


def run_sdk(port: int, scenario: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        client = openai.AsyncOpenAI(
            api_key="sk-local", websocket_base_url=f"ws://127.0.0.1:{port}/v1"
        )
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview-2024-12-17") as conn:
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


async def test_a_text_turn() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        created = await events.until("session.created")
        assert created.session.model == "gpt-4o-realtime-preview-2024-12-17"
        await conn.session.update(session={"modalities": ["text"], "turn_detection": None})
        await events.until("session.updated")
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello SDK"}],
            }
        )
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.status == "completed"
        assert done.response.output[0].content[0].text == "Hello SDK"
        assert events.types()[1:] == [
            "session.updated",
            "conversation.item.created",
            "response.created",
            "rate_limits.updated",
            "response.output_item.added",
            "conversation.item.created",
            "response.content_part.added",
            "response.text.delta",
            "response.text.delta",
            "response.text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
        ]

    async with server() as port:
        await trio.to_thread.run_sync(run_sdk, port, scenario)


async def test_an_audio_turn_with_server_vad_then_truncate() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await events.until("session.created")
        await conn.session.update(session={"input_audio_transcription": {"model": "whisper-1"}})
        await events.until("session.updated")
        events.types()
        audio = silence(300) + tone(700) + silence(300)
        for offset in range(0, len(audio), 4800):
            await conn.input_audio_buffer.append(
                audio=base64.b64encode(audio[offset : offset + 4800]).decode()
            )
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
        item = done.response.output[0]
        assert item.content[0].transcript == "[1.20 s of audio]"
        await conn.conversation.item.truncate(item_id=item.id, content_index=0, audio_end_ms=300)
        truncated = await events.until("conversation.item.truncated")
        assert (truncated.item_id, truncated.audio_end_ms) == (item.id, 300)
        await conn.conversation.item.truncate(
            item_id=item.id, content_index=0, audio_end_ms=5000, event_id="too-far"
        )
        error = await events.until("error")
        assert error.error.event_id == "too-far"

    async with server() as port:
        await trio.to_thread.run_sync(run_sdk, port, scenario)


async def test_a_tool_call_round_trip() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await events.until("session.created")
        tool = {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {}},
        }
        await conn.session.update(
            session={"modalities": ["text"], "turn_detection": None, "tools": [tool]}
        )
        await events.until("session.updated")
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "weather please"}],
            }
        )
        await conn.response.create()
        args_done = await events.until("response.function_call_arguments.done")
        assert args_done.arguments == '{"city": "Paris"}'
        await events.until("response.done")
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": args_done.call_id,
                "output": '{"sky":"clear"}',
            }
        )
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.output[0].content[0].text == "It is clear in Paris."

    backend = ScriptBackend(
        Scenario(
            turns=[
                msgspec_turn(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]),
                msgspec_turn(text="It is clear in Paris."),
            ]
        )
    )
    async with server(backend=backend, transcriber=backend) as port:
        await trio.to_thread.run_sync(run_sdk, port, scenario)


async def test_cancel_a_streaming_response() -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await events.until("session.created")
        await conn.session.update(session={"modalities": ["text"], "turn_detection": None})
        await events.until("session.updated")
        await conn.response.create()
        delta = await events.until("response.text.delta")
        await conn.response.cancel(event_id="stop")
        done = await events.until("response.done")
        assert done.response.id == delta.response_id
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        assert done.response.output[0].status == "incomplete"
        await conn.response.cancel(event_id="again")
        error = await events.until("error")
        assert (error.error.code, error.error.event_id) == ("response_cancel_not_active", "again")

    slow = ScriptBackend(
        Scenario(turns=[msgspec_turn(text="a slow answer " * 20, text_chunk_chars=3, delay_ms=20)])
    )
    async with server(backend=slow) as port:
        await trio.to_thread.run_sync(run_sdk, port, scenario)


def msgspec_turn(**fields: Any) -> Turn:
    return msgspec.convert(fields, Turn)
