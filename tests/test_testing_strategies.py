"""rtcore.testing's strategies, kept honest: what they draw is valid, and they catch a seeded bug."""

from __future__ import annotations

import json

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from rtcore import ClientSession, ServerSession
from rtcore import events as ev
from rtcore.testing import (
    Conversation,
    Step,
    client_streams,
    invalid_events,
    kinds_of,
    play,
    server_streams,
)
from rtcore.testing.conversations import StepKind

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


@pytest.mark.parametrize(
    ("dialect", "kind", "variant", "wanted"),
    [
        ("ga", "mcp", 0, "response.mcp_call.completed"),
        ("ga", "mcp", 1, "response.mcp_call.completed"),
        ("ga", "mcp", 2, "response.mcp_call.failed"),
        ("ga", "mcp", 3, "mcp_list_tools.failed"),
        ("ga", "transcription", 0, "conversation.item.input_audio_transcription.completed"),
        ("beta", "transcription", 1, "conversation.item.input_audio_transcription.failed"),
        ("beta", "transcription", 2, "conversation.item.input_audio_transcription.delta"),
        ("ga", "failed", 0, "response.done"),
        ("beta", "failed", 1, "response.done"),
        ("ga", "cancel", 0, "response.done"),
        ("beta", "truncate", 0, "conversation.item.truncated"),
        ("ga", "call", 0, "response.function_call_arguments.done"),
    ],
)
def test_each_kind_of_step_plays_its_flow(
    dialect: ev.Dialect, kind: StepKind, variant: int, wanted: str
) -> None:
    conversation = play(dialect, [Step(kind, "hello there", 3, variant)])
    assert wanted in conversation.server_types()
    assert _faults(_client_after(conversation)) == []
    statuses = {
        json.loads(m)["response"]["status"]
        for m in conversation.server
        if json.loads(m)["type"] == "response.done"
    }
    expected = {
        ("failed", 0): {"failed"},
        ("failed", 1): {"incomplete"},
        ("cancel", 0): {"cancelled"},
    }
    assert statuses <= expected.get((kind, variant), {"completed"})
    if kind == "mcp" and variant == 1:
        types = conversation.server_types()
        assert types.count("response.done") == 2  # one asks for the approval, one calls
        assert b'"mcp_approval_request"' in conversation.server[types.index("response.done")]
        [approval] = [m for m in conversation.client if b"mcp_approval_response" in m]
        assert json.loads(approval)["item"]["approve"] is True


def test_mcp_steps_are_drawn_for_ga_only() -> None:
    assert "mcp" in kinds_of("ga") and "mcp" not in kinds_of("beta")
    assert "invalid" not in kinds_of("beta", invalid=False)
    with pytest.raises(ValueError, match="GA dialect"):
        play("beta", [Step("mcp")])


@DIALECTS
@given(data=st.data())
def test_client_and_server_agree_on_every_drawn_conversation(
    dialect: ev.Dialect, data: st.DataObject
) -> None:
    """rtcore's own property: a client fed the server's stream holds the server's conversation."""
    conversation = data.draw(server_streams(dialect))
    client = ClientSession(dialect=dialect, retain_audio=False)  # the server keeps audio lengths
    for message in conversation.server:
        client.receive_message(message)
    server = conversation.state
    assert server is not None
    assert list(client.state.order) == list(server.order), conversation.steps
    assert list(client.state.items) == list(server.items), conversation.steps


@given(data=st.data())
def test_drawn_ga_server_streams_validate_against_the_openai_sdk(data: st.DataObject) -> None:
    """Every message of a drawn GA stream validates strictly against the official SDK's model."""
    from test_events_ga_sdk import _sdk_models

    models, _ = _sdk_models()
    for message in data.draw(server_streams("ga")).server:
        models[json.loads(message)["type"]].model_validate_json(message, strict=True)


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


@pytest.mark.parametrize(
    "code", ["missing_required_parameter", "invalid_type", "unknown_parameter", "invalid_event"]
)
def test_invalid_events_hold_each_kind_of_mistake(code: str) -> None:
    found = find(
        invalid_events("ga"),
        lambda invalid: invalid.code == code,
        # Found is enough: shrinking a large event would only take time.
        settings=settings(database=None, derandomize=True, phases=[Phase.generate]),
    )
    server = ServerSession(dialect="ga")
    server.receive_message(found.message)
    [error] = [e for e in server.events_to_send() if isinstance(e, ev.ErrorEvent)]
    assert (error.error.code, error.error.param) == (code, found.param)


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
    # Without hypothesis, the strategies say which extra they need.
    code = "import sys; sys.modules['hypothesis'] = None\nimport rtcore.testing"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'rtcore[testing]'" in result.stderr, result.stderr
