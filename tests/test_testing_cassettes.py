"""``realtime_server.fault(spec)`` and the ``realtime_cassette`` fixture.

Faults are ``rtcore serve --fault``'s, set on the fixture's server for the
connections opened after: what the client observes is checked (a close with
its code after so many events, a late first event, a refused handshake).
Cassettes: a session held with ``realtime_server`` and saved with
``save_cassette`` plays back to the same client as the same conversation;
``tests/data/cassettes/`` holds one of each dialect, made so, which the
fixture plays by marker and by parameter.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from rtcore.state import snapshot_to_text
from rtcore_trio.background import CassetteTestServer, RealtimeTestServer

pytest_plugins = ["pytester"]

CASSETTES = Path(__file__).parent / "data" / "cassettes"
BOTH = pytest.mark.parametrize("realtime_server", ["ga", "beta"], indirect=True)


def _headers(api_key: str, dialect: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {api_key}"}
    if dialect == "beta":
        headers["OpenAI-Beta"] = "realtime=v1"
    return headers


def converse(url: str, api_key: str, dialect: str, text: str = "Hi") -> str:
    """One user message and one written answer over a synchronous socket; the answer's text."""
    with connect(url, additional_headers=_headers(api_key, dialect)) as ws:
        assert json.loads(ws.recv())["type"] == "session.created"
        message = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        ws.send(json.dumps({"type": "conversation.item.create", "item": message}))
        key = "output_modalities" if dialect == "ga" else "modalities"
        ws.send(json.dumps({"type": "response.create", "response": {key: ["text"]}}))
        done = "response.output_text.done" if dialect == "ga" else "response.text.done"
        answer = ""
        while True:
            event = json.loads(ws.recv())
            if event["type"] == done:
                answer = event["text"]
            if event["type"] == "response.done":
                return answer


# -- faults ---------------------------------------------------------------------------------------


@BOTH
def test_a_close_fault_ends_the_connection_after_so_many_events(
    realtime_server: RealtimeTestServer,
) -> None:
    realtime_server.fault("close=1011,after=3")
    seen = []
    with connect(
        realtime_server.url,
        additional_headers=_headers(realtime_server.api_key, realtime_server.dialect),
    ) as ws:
        ws.send(json.dumps({"type": "response.create"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                seen.append(json.loads(ws.recv())["type"])
    assert len(seen) == 3 and seen[0] == "session.created"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert realtime_server.failures == 0  # a fault is not a server bug


def test_latency_holds_every_event(realtime_server: RealtimeTestServer) -> None:
    realtime_server.fault("latency=300ms")
    started = time.monotonic()
    with connect(
        realtime_server.url, additional_headers=_headers(realtime_server.api_key, "ga")
    ) as ws:
        ws.recv()
    assert time.monotonic() - started >= 0.3


def test_refuse_then_clear(realtime_server: RealtimeTestServer) -> None:
    realtime_server.fault("refuse=503")
    assert [f.spec for f in realtime_server.faults] == ["refuse=503"]
    with pytest.raises(InvalidStatus) as refused:
        connect(realtime_server.url, additional_headers=_headers(realtime_server.api_key, "ga"))
    assert refused.value.response.status_code == 503
    realtime_server.clear_faults()
    assert realtime_server.faults == ()
    realtime_server.script([{"text": "Back."}])
    assert converse(realtime_server.url, realtime_server.api_key, "ga") == "Back."


def test_a_bad_fault_is_refused_with_its_part(realtime_server: RealtimeTestServer) -> None:
    with pytest.raises(ValueError, match="'slow' is not a fault"):
        realtime_server.fault("slow=1")
    assert realtime_server.faults == ()


# -- cassettes ------------------------------------------------------------------------------------


@BOTH
def test_a_saved_session_plays_back_as_the_same_conversation(
    realtime_server: RealtimeTestServer, tmp_path: Path
) -> None:
    dialect = realtime_server.dialect
    realtime_server.script([{"text": "Recorded answer."}])
    assert converse(realtime_server.url, realtime_server.api_key, dialect) == "Recorded answer."
    path = realtime_server.save_cassette(tmp_path / "session.jsonl")
    live = snapshot_to_text(realtime_server.snapshot())
    with CassetteTestServer(path) as played:
        assert played.dialect == dialect
        assert converse(played.url, played.api_key, dialect) == "Recorded answer."
        played.assert_no_divergence()
        assert snapshot_to_text(played.snapshot()) == live
        assert [str(e) for e in played.transcript()] == [
            str(e) for e in realtime_server.transcript()
        ]


def test_a_client_that_strays_is_named(tmp_path: Path) -> None:
    with CassetteTestServer(CASSETTES / "ga-greeting.jsonl") as played:
        with connect(played.url, additional_headers=_headers(played.api_key, "ga")) as ws:
            ws.recv()
            ws.send(json.dumps({"type": "response.create"}))  # the recording has an item first
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv()
        [divergence] = played.divergences
        assert (divergence.index, divergence.sent, divergence.recorded) == (
            1,
            "response.create",
            "conversation.item.create",
        )
        with pytest.raises(AssertionError, match="strayed from the cassette"):
            played.assert_no_divergence()
        with pytest.raises(TypeError, match="answers as recorded"):
            played.script([{"text": "no"}])


@pytest.mark.realtime_cassette("data/cassettes/ga-greeting.jsonl")
def test_the_fixture_plays_the_marker_s_cassette(realtime_cassette: CassetteTestServer) -> None:
    answer = converse(realtime_cassette.url, realtime_cassette.api_key, "ga")
    assert answer == "Hello from the cassette."
    realtime_cassette.assert_received("session.created", "response.done")


@pytest.mark.parametrize(
    "realtime_cassette",
    ["data/cassettes/ga-greeting.jsonl", "data/cassettes/beta-greeting.jsonl"],
    indirect=True,
)
async def test_the_fixture_plays_its_parameter_to_a_trio_test(
    realtime_cassette: CassetteTestServer,
) -> None:
    import rtcore_trio
    from rtcore import events as ev
    from rtcore.events import beta, ga

    dialect = realtime_cassette.dialect
    async with rtcore_trio.connect(
        realtime_cassette.url, api_key=realtime_cassette.api_key, dialect=dialect
    ) as client:
        content = (ev.InputTextContent(text="Hi"),)
        if dialect == "ga":
            await client.send(
                ga.ConversationItemCreate(item=ga.MessageItem(role="user", content=content))
            )
            await client.send(
                ga.ResponseCreate(response=ga.ResponseParams(output_modalities=("text",)))
            )
        else:
            await client.send(
                beta.ConversationItemCreate(item=beta.MessageItem(role="user", content=content))
            )
            await client.send(
                beta.ResponseCreate(response=beta.ResponseParams(modalities=("text",)))
            )
        async for event, _ in client:
            if event.type == "response.done":
                break
        items = client.state.items
    assert items[-1].content[0].text.value == "Hello from the cassette."  # type: ignore[union-attr]
    assert list(client.state.protocol_errors) == []


def test_a_diverging_client_fails_the_test(pytester: pytest.Pytester) -> None:
    (pytester.path / "greeting.jsonl").write_bytes((CASSETTES / "ga-greeting.jsonl").read_bytes())
    pytester.makepyfile(
        test_app="""
        import json

        import pytest
        from websockets.sync.client import connect


        @pytest.mark.realtime_cassette("greeting.jsonl")
        def test_strays(realtime_cassette):
            headers = {"Authorization": f"Bearer {realtime_cassette.api_key}"}
            with connect(realtime_cassette.url, additional_headers=headers) as ws:
                ws.recv()
                ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
                try:
                    while True:
                        ws.recv()
                except Exception:
                    pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "rtcore_trio.pytest_plugin", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*strayed from the cassette*client event 1 is 'input_audio_buffer.clear'*"]
    )
