"""The trio chat's tests: trio tests (pytest-trio) against the ``realtime_server`` fixture, both dialects."""

from __future__ import annotations

from typing import Any

import pytest
from trio_chat import open_chat

BOTH = pytest.mark.parametrize("realtime_server", ["ga", "beta"], indirect=True)


@BOTH
async def test_two_questions_two_answers(realtime_server: Any) -> None:
    realtime_server.script([{"text": "Hello!"}, {"text": "Paris."}])
    async with open_chat(
        realtime_server.url, realtime_server.api_key, realtime_server.dialect
    ) as chat:
        assert await chat.ask("Hi") == ("Hello!", "completed")
        assert await chat.ask("Capital of France?") == ("Paris.", "completed")
        snapshot = chat.snapshot
    assert [(i.role, i.content[0].text.value) for i in snapshot.items] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
    ]
    assert list(snapshot.protocol_errors) == []
    # What the client holds is what the server holds.
    assert realtime_server.snapshot().items == snapshot.items


@BOTH
async def test_interrupting_a_long_answer_cancels_it(realtime_server: Any) -> None:
    # A slow answer, one character at a time: the cancel arrives while it streams.
    realtime_server.script(
        [{"text": "A very long story. " * 20, "text_chunk_chars": 1, "delay_ms": 5}]
    )
    async with open_chat(
        realtime_server.url, realtime_server.api_key, realtime_server.dialect
    ) as chat:
        text, status = await chat.ask("Tell me a story", stop_after=3)
    assert status == "cancelled"
    assert text.startswith("A v") and len(text) < 40
    realtime_server.assert_sent("response.create", "response.cancel")
    realtime_server.assert_no_errors()
