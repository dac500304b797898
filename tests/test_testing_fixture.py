"""The ``realtime_server`` fixture from synchronous, asyncio and trio tests, in both dialects."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai
import pytest
from websockets.sync.client import connect as sync_connect

import rtcore_trio
from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.state import snapshot_to_text
from rtcore_sim import Turn
from rtcore_sim.scenario import ScriptError, ScriptToolCall
from rtcore_trio.background import RealtimeTestServer

pytest_plugins = ["pytester"]

BOTH = pytest.mark.parametrize("realtime_server", ["ga", "beta"], indirect=True)


def _user(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def _text_response(dialect: str) -> dict[str, Any]:
    key = "output_modalities" if dialect == "ga" else "modalities"
    return {"type": "response.create", "response": {key: ["text"]}}


@BOTH
def test_a_synchronous_client(realtime_server: RealtimeTestServer) -> None:
    headers = {"Authorization": f"Bearer {realtime_server.api_key}"}
    if realtime_server.dialect == "beta":
        headers["OpenAI-Beta"] = "realtime=v1"
    realtime_server.script([{"text": "Scripted hello"}])
    with sync_connect(realtime_server.url, additional_headers=headers) as ws:
        assert json.loads(ws.recv())["type"] == "session.created"
        ws.send(json.dumps(_user("Hi")))
        ws.send(json.dumps(_text_response(realtime_server.dialect)))
        while json.loads(ws.recv())["type"] != "response.done":
            pass
    realtime_server.assert_no_errors()
    realtime_server.assert_sent("conversation.item.create", "response.create")
    realtime_server.assert_received("session.created", "response.created", "response.done")
    texts = [i.content[0].text.value for i in realtime_server.snapshot().items]  # type: ignore[union-attr]
    assert texts == ["Hi", "Scripted hello"]


@BOTH
def test_an_asyncio_client_on_the_openai_sdk(realtime_server: RealtimeTestServer) -> None:
    async def main() -> str:
        client = openai.AsyncOpenAI(
            api_key=realtime_server.api_key, websocket_base_url=realtime_server.base_url
        )
        realtime = client.realtime if realtime_server.dialect == "ga" else client.beta.realtime
        async with realtime.connect(model="gpt-realtime") as conn:
            await conn.send(_user("Hello asyncio"))  # type: ignore[arg-type]
            await conn.send(_text_response(realtime_server.dialect))  # type: ignore[arg-type]
            async for event in conn:
                if event.type == "response.done":
                    return str(event.response.status)
        raise AssertionError("the connection ended before response.done")

    assert asyncio.run(main()) == "completed"
    realtime_server.assert_no_errors()
    assert "Hello asyncio" in snapshot_to_text(realtime_server.snapshot())


@BOTH
async def test_a_trio_client(realtime_server: RealtimeTestServer) -> None:
    dialect = realtime_server.dialect
    realtime_server.script([Turn(text="Trio hello", audio=False)])
    async with rtcore_trio.connect(
        realtime_server.url, api_key=realtime_server.api_key, dialect=dialect
    ) as client:
        create = ga.ConversationItemCreate if dialect == "ga" else beta.ConversationItemCreate
        item = (ga.MessageItem if dialect == "ga" else beta.MessageItem)(
            role="user", content=(ev.InputTextContent(text="Hi"),)
        )
        await client.send(create(item=item))  # type: ignore[arg-type]
        await client.send(ga.ResponseCreate() if dialect == "ga" else beta.ResponseCreate())
        async for event, _ in client:
            if event.type == "response.done":
                break
        snapshot = client.state
    assert list(snapshot.protocol_errors) == list(snapshot.anomalies) == []
    assert realtime_server.snapshot().items[-1].content[0].text.value == "Trio hello"  # type: ignore[union-attr]
    transcript = realtime_server.transcript()
    assert str(transcript[0]) == "<- session.created"
    assert [str(e) for e in transcript if e.direction == "client"] == [
        "-> conversation.item.create",
        "-> response.create",
    ]
    assert str(transcript[-1]) == "<- response.done"


def _respond(ws: Any, dialect: str, **response: Any) -> tuple[list[dict[str, Any]], float]:
    """Ask for one response over a synchronous socket; its events and how long they took."""
    started = time.monotonic()
    ws.send(json.dumps({"type": "response.create", "response": response}))
    events = []
    while not events or events[-1]["type"] != "response.done":
        events.append(json.loads(ws.recv()))
    return events, time.monotonic() - started


@BOTH
def test_typed_turns_text_audio_tool_calls_failures_and_delays(
    realtime_server: RealtimeTestServer,
) -> None:
    dialect = realtime_server.dialect
    realtime_server.script(
        [
            Turn(text="Spoken answer", audio=True),
            Turn(tool_calls=[ScriptToolCall(name="get_weather", arguments={"city": "Oslo"})]),
            Turn(status="failed", error=ScriptError(code="overloaded", message="Busy.")),
            Turn(text="Late", audio=False, first_delay_ms=300),
        ]
    )
    headers = {"Authorization": f"Bearer {realtime_server.api_key}"}
    if dialect == "beta":
        headers["OpenAI-Beta"] = "realtime=v1"
    with sync_connect(realtime_server.url, additional_headers=headers) as ws:
        ws.recv()
        ws.send(json.dumps(_user("Hi")))
        spoken, _ = _respond(ws, dialect)
        called, _ = _respond(ws, dialect)
        failed, _ = _respond(ws, dialect)
        late, seconds = _respond(ws, dialect)
    audio = "response.output_audio.delta" if dialect == "ga" else "response.audio.delta"
    assert any(e["type"] == audio for e in spoken)
    [arguments] = [e for e in called if e["type"] == "response.function_call_arguments.done"]
    assert (arguments["name"], json.loads(arguments["arguments"])) == (
        "get_weather",
        {"city": "Oslo"},
    )
    details = failed[-1]["response"]["status_details"]
    assert (failed[-1]["response"]["status"], details["error"]["code"]) == ("failed", "overloaded")
    assert seconds >= 0.3 and late[-1]["response"]["status"] == "completed"
    realtime_server.assert_no_errors()
    items = realtime_server.snapshot().items
    assert [item.type for item in items] == ["message", "message", "function_call", "message"]
    assert items[1].content[0].transcript.value == "Spoken answer"  # type: ignore[union-attr]
    assert items[3].content[0].text.value == "Late"  # type: ignore[union-attr]


def test_anyio_and_synchronous_tests_in_a_project_of_their_own(pytester: pytest.Pytester) -> None:
    """A user's project: the plugin by its entry point's name, an anyio test on asyncio, a sync
    one, and a test whose server broke, which fails at teardown."""
    pytester.makepyfile(
        test_app="""
        import asyncio

        import openai
        import pytest
        import sniffio


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        @pytest.mark.anyio
        async def test_on_asyncio(realtime_server):
            assert sniffio.current_async_library() == "asyncio"
            realtime_server.script([{"text": "From asyncio."}])
            client = openai.AsyncOpenAI(
                api_key=realtime_server.api_key, websocket_base_url=realtime_server.base_url
            )
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.response.create(response={"output_modalities": ["text"]})
                async for event in conn:
                    if event.type == "response.output_text.done":
                        assert event.text == "From asyncio."
                        break
            realtime_server.assert_no_errors()


        @pytest.mark.parametrize("realtime_server", ["beta"], indirect=True)
        def test_synchronous(realtime_server):
            assert realtime_server.dialect == "beta"
            assert realtime_server.url.endswith("/v1/realtime")


        def test_a_server_bug_is_not_passed_over(realtime_server):
            from websockets.sync.client import connect

            realtime_server.outgoing = lambda message: b"not an event"  # breaks the server
            headers = {"Authorization": f"Bearer {realtime_server.api_key}"}
            with connect(realtime_server.url, additional_headers=headers) as ws:
                try:
                    ws.recv()
                except Exception:
                    pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "rtcore_trio.pytest_plugin", "-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*the test server ended 1 connection(s) with an internal error*"])


def test_a_wrong_key_is_refused(realtime_server: RealtimeTestServer) -> None:
    with pytest.raises(Exception, match="401"):
        sync_connect(realtime_server.url, additional_headers={"Authorization": "Bearer nope"})
    assert realtime_server.sessions == 0


def test_a_failed_assertion_says_what_was_expected_what_came_and_where(
    realtime_server: RealtimeTestServer,
) -> None:
    with sync_connect(
        realtime_server.url,
        additional_headers={"Authorization": f"Bearer {realtime_server.api_key}"},
    ) as ws:
        ws.recv()
        ws.send(json.dumps({"type": "conversation.item.delete", "item_id": "nope"}))
        ws.recv()
    with pytest.raises(AssertionError) as failed:
        realtime_server.assert_received("session.created", "response.done")
    message = str(failed.value)
    assert "expected the server sent 'response.done' after 'session.created' (event 1)" in message
    assert "  3 <- error (invalid_value:" in message
    with pytest.raises(
        AssertionError, match="1 error\\(s\\); the first: invalid_value \\(item_id\\)"
    ):
        realtime_server.assert_no_errors()


def test_a_bad_script_is_refused_with_its_place(realtime_server: RealtimeTestServer) -> None:
    with pytest.raises(ValueError, match=r"turns\[0\]"):
        realtime_server.script([{"text": "x", "status": "maybe"}])


def test_the_plugin_is_registered_and_needs_no_hypothesis(pytestconfig: pytest.Config) -> None:
    import subprocess
    import sys

    from rtcore_trio import pytest_plugin

    assert pytestconfig.pluginmanager.is_registered(pytest_plugin)
    # Imported where hypothesis cannot be: the plugin does not reach for it.
    code = (
        "import sys; sys.modules['hypothesis'] = None; "
        "import rtcore_trio.pytest_plugin, rtcore_trio.background; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
