"""rtcore.testing's strategies, kept honest: what they draw is valid, and they catch a seeded bug."""

from __future__ import annotations

import json

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from rtcore import ClientSession, ServerSession
from rtcore import events as ev
from rtcore.testing import Conversation, client_streams, invalid_events, server_streams

DIALECTS = pytest.mark.parametrize("dialect", ["ga", "beta"])


def _client_after(conversation: Conversation, drop_every: int = 0) -> ClientSession:
    """A client fed the conversation's server messages; ``drop_every`` seeds a bug: it loses deltas."""
    client = ClientSession(dialect=conversation.dialect)
    deltas = 0
    for message in conversation.server:
        if drop_every and json.loads(message)["type"].endswith(".delta"):
            deltas += 1
            if deltas % drop_every == 0:
                continue
        client.receive_message(message)
    return client


def _faults(client: ClientSession) -> list[object]:
    return [*client.state.protocol_errors, *client.state.anomalies]


@DIALECTS
@given(data=st.data())
def test_a_conforming_client_takes_every_drawn_server_stream(
    dialect: ev.Dialect, data: st.DataObject
) -> None:
    conversation = data.draw(server_streams(dialect))
    client = _client_after(conversation)
    assert _faults(client) == [], conversation.steps
    # The invalid steps drew exactly their errors; nothing else did.
    errors = [json.loads(m) for m in conversation.server if json.loads(m)["type"] == "error"]
    assert [(e["error"]["code"], e["error"]["param"]) for e in errors] == [
        (i.code, i.param) for i in conversation.invalid
    ]


@DIALECTS
@given(data=st.data())
def test_drawn_client_streams_are_valid_events_of_the_dialect(
    dialect: ev.Dialect, data: st.DataObject
) -> None:
    for message in data.draw(client_streams(dialect)):
        event = ev.decode_client_event(message, dialect=dialect, strict=True)
        assert isinstance(event, ev.ClientEvent)


@DIALECTS
@given(data=st.data())
def test_a_conforming_server_answers_each_invalid_event_with_its_error(
    dialect: ev.Dialect, data: st.DataObject
) -> None:
    invalid = data.draw(invalid_events(dialect))
    server = ServerSession(dialect=dialect)
    server.messages_to_send()
    server.receive_message(invalid.message)
    errors = [e for e in server.events_to_send() if isinstance(e, ev.ErrorEvent)]
    assert errors, invalid
    first = errors[0].error
    assert (first.type, first.code, first.param) == (invalid.type, invalid.code, invalid.param)


@DIALECTS
def test_the_strategies_catch_a_client_that_drops_every_third_delta(dialect: ev.Dialect) -> None:
    """The seeded bug is found, and shrunk to a counterexample a person can read."""
    found = find(
        server_streams(dialect, max_steps=3),
        lambda conversation: _faults(_client_after(conversation, drop_every=3)) != [],
        settings=settings(max_examples=500, database=None, derandomize=True),
    )
    # One step (a few characters in small pieces): at most a few dozen events.
    assert len(found.steps) == 1, found.steps
    assert len(found.server) <= 40, found.server_types()
    # The correct client takes the very same stream.
    assert _faults(_client_after(found)) == []


def test_the_engine_never_imports_the_strategies_nor_hypothesis() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import rtcore, rtcore.client, rtcore.server, rtcore.wire, rtcore.state, rtcore_sim\n"
        "assert 'rtcore.testing' not in sys.modules\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
