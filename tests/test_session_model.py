"""The model of a session (docs/protocol/flows.md#session-model, ``rtcore.rules.model``).

A URL that names a model (``?model=``) fixes it; a URL that names none, or names a deployment
(Azure's ``?deployment=``), leaves it open until the first ``session.update`` that names one.
Checked on the sans-IO server in both dialects, on the client (it refuses what its server
refuses, also while an update naming a model is unanswered), and over a real socket against
``RealtimeServer`` with each URL form.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from trio_websocket import open_websocket_url

from rtcore import ClientSession, SequentialIds
from rtcore import events as ev
from rtcore.errors import LocalProtocolError
from rtcore.events import beta, ga
from rtcore.server import ServerSession
from rtcore.wire import ClientConnection
from rtcore_sim import EchoBackend
from rtcore_trio import RealtimeServer

A, B = "gpt-realtime", "gpt-4o-realtime-preview"


def update(dialect: ev.Dialect, model: str) -> dict[str, Any]:
    if dialect == "ga":
        return {"type": "session.update", "session": {"type": "realtime", "model": model}}
    return {"type": "session.update", "session": {"model": model}}


def answers(server: ServerSession, *models: str) -> list[str]:
    """The type of the server's answer to an update naming each model in turn."""
    server.messages_to_send()
    out = []
    for model in models:
        server.receive_message(json.dumps(update(server.dialect, model)))
        [answer] = [json.loads(m) for m in server.messages_to_send()]
        out.append(answer["type"])
        if answer["type"] == "error":
            assert answer["error"]["param"] == "session.model"
            assert "cannot be changed" in answer["error"]["message"]
    return out


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_no_model_in_the_url_the_first_update_sets_it(dialect: ev.Dialect) -> None:
    server = ServerSession(dialect=dialect, id_factory=SequentialIds())
    assert answers(server, B, B, A) == ["session.updated", "session.updated", "error"]
    assert server.session.model == B


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_a_deployment_leaves_the_model_open(dialect: ev.Dialect) -> None:
    server = ServerSession(dialect=dialect, model="my-deployment", model_fixed=False)
    assert server.session.model == "my-deployment"
    assert answers(server, A, B) == ["session.updated", "error"]
    assert server.session.model == A


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_a_model_in_the_url_is_fixed(dialect: ev.Dialect) -> None:
    server = ServerSession(dialect=dialect, model=A)
    assert answers(server, B, A) == ["error", "session.updated"]
    assert server.session.model == A


def test_an_update_without_a_model_leaves_it_open() -> None:
    server = ServerSession(id_factory=SequentialIds())
    server.messages_to_send()
    server.receive_message(
        json.dumps({"type": "session.update", "session": {"type": "realtime", "model": None}})
    )
    server.receive_message(
        json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "x"}})
    )
    assert answers(server, B) == ["session.updated"]


def test_a_refused_update_does_not_set_the_model() -> None:
    server = ServerSession(id_factory=SequentialIds())
    server.messages_to_send()
    bad = {"type": "session.update", "session": {"type": "realtime", "model": B, "speed": 9.0}}
    server.receive_message(json.dumps(bad))
    assert [json.loads(m)["type"] for m in server.messages_to_send()] == ["error"]
    assert answers(server, A, B) == ["session.updated", "error"]


def _pair(dialect: ev.Dialect, **server_options: Any) -> tuple[ServerSession, ClientSession]:
    server = ServerSession(dialect=dialect, id_factory=SequentialIds(), **server_options)
    client = ClientSession(dialect=dialect, model_fixed=server_options.get("model") is not None)
    for message in server.messages_to_send():
        client.receive_message(message)
    return server, client


def _session_update(dialect: ev.Dialect, model: str) -> ev.ClientEvent:
    if dialect == "ga":
        return ga.SessionUpdate(session=ga.RealtimeSessionConfig(model=model))
    return beta.SessionUpdate(session=beta.SessionConfig(model=model))


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("url_model", [None, A])
def test_the_client_refuses_what_its_server_refuses(
    dialect: ev.Dialect, url_model: str | None
) -> None:
    server, client = _pair(dialect, model=url_model)
    for model in (B, B, A, B):
        event = _session_update(dialect, model)
        try:
            data = client.send(event)
        except LocalProtocolError as refused:
            data = ev.encode_event(event)
            client_answer: str | None = refused.code
        else:
            client_answer = None
        server.receive_message(data)
        server_answer = None
        for message in server.messages_to_send():
            [received] = client.receive_message(message)
            if isinstance(received, ev.ErrorEvent):
                server_answer = received.error.code
        assert client_answer == server_answer, (model, client_answer, server_answer)


def test_the_client_lets_a_model_through_while_an_update_naming_one_is_unanswered() -> None:
    server, client = _pair("ga")
    first = client.send(_session_update("ga", B))
    client.send(_session_update("ga", A))  # B may yet be refused: the client cannot know
    server.receive_message(first)
    for message in server.messages_to_send():
        client.receive_message(message)
    # The second update is still in flight: the model may have been set by it.
    client.send(_session_update("ga", B))


def test_the_client_learns_of_a_refused_update() -> None:
    # An update naming a model that the server refuses (here: an error naming it, as a server
    # whose own limits refuse it would send) leaves the model open; the next one sets it.
    server, client = _pair("ga")
    client.send(ga.SessionUpdate(event_id="u1", session=ga.RealtimeSessionConfig(model=B)))
    error = ev.ErrorEvent(
        event_id="event_x",
        error=ev.ErrorDetails(type="invalid_request_error", message="no", event_id="u1"),
    )
    client.receive_message(ev.encode_event(error))
    server.receive_message(client.send(_session_update("ga", A)))
    for message in server.messages_to_send():
        client.receive_message(message)
    with pytest.raises(LocalProtocolError) as refused:
        client.send(_session_update("ga", B))
    assert refused.value.param == "session.model"


async def _over_a_socket(
    query: str, headers: list[tuple[str, str]], models: list[str], path: str = "/v1/realtime"
) -> list[str]:
    realtime = RealtimeServer(api_keys=["sk-local"], backend=EchoBackend())
    out: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(realtime.serve, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{realtime.port}{path}{query}"
        async with open_websocket_url(url, extra_headers=headers) as ws:
            created = json.loads(await ws.get_message())
            assert created["type"] == "session.created"
            out.append(created["session"]["model"])
            dialect: ev.Dialect = "beta" if headers[1:] else "ga"
            for model in models:
                await ws.send_message(json.dumps(update(dialect, model)))
                answer = json.loads(await ws.get_message())
                out.append(answer["type"])
        realtime.shutdown()
    assert realtime.failures == 0
    return out


AUTH = [("Authorization", "Bearer sk-local")]


async def test_over_a_socket_a_deployment_names_a_model_the_first_update_may_set() -> None:
    answered = await _over_a_socket("?deployment=dep", AUTH, [A, B])
    assert answered == ["dep", "session.updated", "error"]


async def test_over_a_socket_no_model_named() -> None:
    beta_headers = [*AUTH, ("OpenAI-Beta", "realtime=v1")]
    answered = await _over_a_socket("", beta_headers, [B, A])
    assert answered[1:] == ["session.updated", "error"]


async def test_over_a_socket_a_model_named_is_fixed() -> None:
    answered = await _over_a_socket(f"?model={A}", AUTH, [B, A])
    assert answered == [A, "error", "session.updated"]


async def test_over_a_socket_azures_ga_model_names_a_deployment() -> None:
    answered = await _over_a_socket("?model=dep", AUTH, [A, B], path="/openai/v1/realtime")
    assert answered == ["dep", "session.updated", "error"]


@pytest.mark.parametrize(
    ("url", "fixed"),
    [
        (f"ws://h/v1/realtime?model={A}", True),
        ("ws://h/v1/realtime", False),
        ("ws://h/openai/realtime?api-version=2025-04-01-preview&deployment=dep", False),
        ("ws://h/openai/v1/realtime?model=dep", False),
    ],
)
def test_the_client_reads_the_model_lock_from_its_url(url: str, fixed: bool) -> None:
    client = ClientConnection(url, dialect="ga").session
    server = ServerSession(dialect="ga", id_factory=SequentialIds(), model=A)
    for message in server.messages_to_send():
        client.receive_message(message)
    event = _session_update("ga", B)
    if fixed:
        with pytest.raises(LocalProtocolError):
            client.send(event)
    else:
        client.send(event)
