"""The voice assistant's tests: a scripted local Realtime server (the ``realtime_server`` fixture).

Plain synchronous tests that run the asyncio app with ``asyncio.run``; the
server lives on a thread of its own, so any event loop (or none) can talk to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from voice_assistant import AssistantError, Reply, VoiceAssistant

from rtcore_sim import speech_like  # a second of something that sounds like speech

QUESTION = speech_like(1000)


def ask(server: Any, **options: Any) -> Reply:
    client = openai.AsyncOpenAI(api_key=server.api_key, websocket_base_url=server.base_url)
    return asyncio.run(VoiceAssistant(client, **options).reply(QUESTION))


def test_it_says_what_the_model_says(realtime_server: Any) -> None:
    realtime_server.script([{"text": "It is sunny in Paris."}])
    reply = ask(realtime_server)
    assert reply.transcript == "It is sunny in Paris."
    assert len(reply.audio) > 24000  # spoken: over half a second of pcm16
    realtime_server.assert_no_errors()
    realtime_server.assert_sent(
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "response.create",
    )
    realtime_server.assert_received(
        "session.updated", "input_audio_buffer.committed", "response.done"
    )


def test_it_runs_the_tool_the_model_calls_and_reads_its_answer(realtime_server: Any) -> None:
    realtime_server.script(
        [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"text": "Sunny, twenty-one degrees."},
        ]
    )
    asked: list[str] = []

    def get_weather(city: str) -> dict[str, Any]:
        asked.append(city)
        return {"sky": "sunny", "celsius": 21}

    reply = ask(realtime_server, tools={"get_weather": ("The weather in a city.", get_weather)})
    assert asked == ["Paris"]
    assert reply.tool_calls == [("get_weather", {"city": "Paris"})]
    assert reply.transcript == "Sunny, twenty-one degrees."
    # The conversation as the server holds it: question, call, its output, answer.
    items = realtime_server.snapshot().items
    assert [item.type for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[2].output == '{"sky": "sunny", "celsius": 21}'


def test_a_failed_response_is_an_error(realtime_server: Any) -> None:
    realtime_server.script(
        [{"status": "failed", "error": {"code": "server_error", "message": "model overloaded"}}]
    )
    with pytest.raises(AssistantError, match="model overloaded"):
        ask(realtime_server)
