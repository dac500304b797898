"""The OpenAI Agents SDK for Python (``openai-agents``) against ``rtcore serve``, unmodified.

Its ``RealtimeRunner`` runs a ``RealtimeAgent`` over a WebSocket to an in-process
``RealtimeServer`` (echo backend) on a free loopback port, as its users run it: the URL names no
model (the SDK names its model in every ``session.update``: docs/protocol/flows.md#session-model),
and the session settings are the SDK's defaults (GA dialect, semantic VAD with
``interrupt_response`` on, input transcription) unless a test says otherwise. Four steps:

* a text turn: the echo's answer arrives as the SDK's history;
* a tool call with a typed tool (``get_weather(city: str)``): the echo calls it with arguments
  that fit its schema, the SDK runs it, sends its output, and the echo reads it back;
* an audio turn under semantic VAD: speech-like audio in, the server's VAD commits it, and the
  answer comes back as audio;
* ``interrupt()`` in the middle of an audio answer: the SDK sends only
  ``conversation.item.truncate`` (docs/protocol/flows.md#truncate-while-generating); the server
  cancels the answer and truncates it, and nothing is refused.

The SDK runs on asyncio in a worker thread, the server on trio. No step may see an ``error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from rtcore_sim import EchoBackend, speech_like
from rtcore_trio import RealtimeServer

agents = pytest.importorskip("agents")
realtime = pytest.importorskip("agents.realtime")

KEY = "sk-local"


@agents.function_tool  # type: ignore[untyped-decorator]
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}."


class Watch:
    """Reads a ``RealtimeSession``'s events, keeping them and the server's raw events."""

    def __init__(self, session: Any) -> None:
        self._events = session.__aiter__()
        self.events: list[Any] = []
        self.raw: list[dict[str, Any]] = []

    async def until(self, kind: str, limit: float = 15, **fields: Any) -> Any:
        """The next session event of type ``kind`` (a raw server event when ``kind`` has a dot)."""
        async with asyncio.timeout(limit):
            while True:
                event = await self._events.__anext__()
                self.events.append(event)
                assert event.type != "error", event.error
                raw = None
                if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                    raw = event.data.data
                    self.raw.append(raw)
                    assert raw.get("type") != "error", raw
                if "." in kind and raw is not None and raw.get("type") == kind:
                    if all(raw.get(k) == v for k, v in fields.items()):
                        return raw
                if event.type == kind:
                    return event

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def raw_types(self) -> list[str]:
        return [r["type"] for r in self.raw]


Scenario = Callable[[Any, Watch], Awaitable[None]]


def run_agent(port: int, scenario: Scenario, settings: dict[str, Any]) -> None:
    async def main() -> None:
        agent = realtime.RealtimeAgent(name="echo", instructions="Repeat.", tools=[get_weather])
        runner = realtime.RealtimeRunner(agent, config={"model_settings": settings})
        config = {"url": f"ws://127.0.0.1:{port}/v1/realtime", "api_key": KEY}
        session = await runner.run(model_config=config)
        async with session:
            await scenario(session, Watch(session))

    asyncio.run(main())


@asynccontextmanager
async def server(**options: Any) -> AsyncIterator[int]:
    rt = RealtimeServer(api_keys=[KEY], **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(rt.serve, "127.0.0.1", 0)
        assert rt.port is not None
        yield rt.port
        rt.shutdown()
    assert rt.failures == 0


async def run(scenario: Scenario, settings: dict[str, Any], **options: Any) -> None:
    async with server(**options) as port:
        await trio.to_thread.run_sync(run_agent, port, scenario, settings)


def assistant_text(watch: Watch) -> list[str]:
    """The assistant messages of the SDK's last history, as text."""
    [*_, last] = watch.of("history_updated")
    out = []
    for item in last.history:
        if getattr(item, "role", None) == "assistant":
            out.append("".join(getattr(c, "text", None) or "" for c in item.content))
    return out


TEXT = {"modalities": ["text"]}


async def test_a_text_turn() -> None:
    async def scenario(session: Any, watch: Watch) -> None:
        await session.send_message("Hello from the Agents SDK")
        await watch.until("agent_end")
        assert assistant_text(watch)[-1] == "Hello from the Agents SDK"
        # The SDK named its model in its update and the server took it.
        [updated, *_] = [r for r in watch.raw if r["type"] == "session.updated"]
        assert updated["session"]["model"] == realtime.openai_realtime.DEFAULT_REALTIME_MODEL

    await run(scenario, TEXT)


async def test_a_tool_call_with_a_typed_tool() -> None:
    async def scenario(session: Any, watch: Watch) -> None:
        await session.send_message("get_weather in Paris")
        end = await watch.until("tool_end")
        assert end.tool.name == "get_weather"
        assert end.output == "Sunny in get_weather in Paris."
        await watch.until("agent_end")  # the turn that reads the output back
        assert assistant_text(watch)[-1] == "The tool returned: Sunny in get_weather in Paris."

    await run(scenario, TEXT)


async def test_an_audio_turn_under_semantic_vad() -> None:
    async def scenario(session: Any, watch: Watch) -> None:
        speech = speech_like(1200) + bytes(2 * 24000 * 3)  # then 3 s of silence
        for offset in range(0, len(speech), 4800):
            await session.send_audio(speech[offset : offset + 4800])
        committed = await watch.until("input_audio_buffer.committed")
        await watch.until("audio_end")
        kinds = watch.raw_types()
        assert kinds.index("input_audio_buffer.speech_started") < kinds.index(
            "input_audio_buffer.speech_stopped"
        )
        assert watch.of("audio"), "no audio answer"
        assert committed["item_id"]
        [updated, *_] = [r for r in watch.raw if r["type"] == "session.updated"]
        detection = updated["session"]["audio"]["input"]["turn_detection"]
        assert detection["type"] == "semantic_vad" and detection["interrupt_response"] is True

    await run(scenario, {})


async def test_interrupt_in_the_middle_of_an_answer() -> None:
    said = "This answer is long enough to be interrupted well before its end. " * 3

    async def scenario(session: Any, watch: Watch) -> None:
        await session.send_message(said)
        first = await watch.until("audio")
        await asyncio.sleep(0.3)
        await session.interrupt()
        done = await watch.until("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"
        truncated = await watch.until("conversation.item.truncated")
        assert truncated["item_id"] == first.item_id
        # Cut at what was played, far short of the whole answer (50 ms per character).
        assert 0 < truncated["audio_end_ms"] < len(said) * 50 // 2
        assert watch.of("audio_interrupted")
        # The SDK sent no cancel of its own (interrupt_response is on): the truncate did it.
        assert "response.cancel" not in watch.raw_types()

    # Paced in real time, as a model's audio arrives.
    await run(scenario, {"modalities": ["audio"]}, backend=EchoBackend(realtime=True))
