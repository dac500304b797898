"""Replaying real recorded sessions (WebRTC, May 2025) through the client engine."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import CAPTURES
from consoledump import ELIDED, events

from rtcore import ClientSession, Snapshot
from rtcore.trace import format_record, read_trace, replay
from rtcore_trio.cli import main

LOG_1 = CAPTURES / "banyan-landing__log_1.server-events.jsonl"
LOG_2 = CAPTURES / "banyan-landing__log_2.server-events.jsonl"
TEXT_DUMP = CAPTURES / "liusida-dictionary__OpenAI-Realtime-API-responses-example.md"
TEXT = CAPTURES / "liusida-dictionary__text-response.server-events.jsonl"


def text_response_events() -> list[dict[str, Any]]:
    """The Node.js dump's 85 events, with the three things it elided filled in.

    Node printed ``[Object]`` where nesting got deep. Two of those are
    recoverable from earlier events: the finished item's content is the part
    of ``response.content_part.done``, and the response's output is the item
    of ``response.output_item.done``. The token details in ``usage`` are not;
    they are left out (the fields are optional).
    """
    found = events(TEXT_DUMP.read_text(encoding="utf-8"))
    by_type = {e["type"]: e for e in found}
    item = by_type["response.output_item.done"]["item"]
    assert item["content"] == [ELIDED]
    item["content"] = [copy.deepcopy(by_type["response.content_part.done"]["part"])]
    response = by_type["response.done"]["response"]
    assert response["output"] == [ELIDED]
    response["output"] = [copy.deepcopy(item)]
    usage = response["usage"]
    assert usage["input_token_details"] is ELIDED and usage["output_token_details"] is ELIDED
    del usage["input_token_details"], usage["output_token_details"]
    return found


def replayed(path: object) -> Snapshot:
    with open(path, "rb") as lines:  # type: ignore[call-overload]
        return replay(read_trace(lines)).state


def test_log_1_replays_to_the_conversation_it_describes() -> None:
    s = replayed(LOG_1)
    assert not s.protocol_errors and not s.anomalies and s.unknown_events == 0
    assert s.events_applied == 414
    assert s.session is not None and s.session.voice == "coral"
    assert s.conversation_id == "conv_BaPscIZ7aWE0hH59M3OYF"
    roles = [(i.type, i.role) for i in s.items]
    assert len(roles) == 21
    assert roles.count(("message", "user")) == 12  # the text turn and 11 VAD turns
    assert roles.count(("message", "assistant")) == 8
    assert roles[-1] == ("function_call", None)
    # 12 responses: 4 completed, 8 cancelled by barge-in, 4 of them before any output.
    statuses = [
        (r.status, r.status_details.reason if r.status_details else None) for r in s.responses
    ]
    assert statuses.count(("completed", None)) == 4
    assert statuses.count(("cancelled", "turn_detected")) == 8
    assert sum(1 for r in s.responses if not r.output_item_ids) == 4
    # 5 server-side truncations: transcript cleared, what was said kept.
    truncated = [p for i in s.items for p in i.content if p.truncated_at_ms is not None]
    assert sorted(p.truncated_at_ms for p in truncated) == [0, 20, 1680, 2460, 4000]
    assert all(p.transcript is not None and p.transcript.value == "" for p in truncated)
    assert truncated[0].generated_transcript is not None
    assert truncated[0].generated_transcript.startswith("Hi there! Thank you for calling.")
    # Every committed user turn got its transcription, some in the middle of a response.
    users = [i for i in s.items if i.role == "user" and i.content[0].type == "input_audio"]
    assert len(users) == 11
    assert all(u.content[0].transcript is not None and u.content[0].transcript_done for u in users)
    assert users[-1].content[0].transcript.value == "Heh.\n"  # type: ignore[union-attr]
    # The last response: an audio message and a function call, which is owed an output.
    last = s.responses[-1]
    message, call = s.response_items(last.id)
    assert message.role == "assistant" and call.type == "function_call"
    assert call.name == "transferToSupervisor" and call.call_id == "call_kmnUtkOoDYWLgJHP"
    arguments = json.loads(call.arguments.value)  # type: ignore[union-attr]
    assert arguments["destination_agent_name"] == "marco_supervisor_biller"
    assert dict(s.pending_calls) == {"call_kmnUtkOoDYWLgJHP": call.id}
    assert list(s.input_audio_buffer.committed_item_ids) == [u.id for u in users]
    assert s.output_audio_response_id is None  # playback stopped at the end


def test_the_text_response_trace_is_the_dump_with_its_elisions_filled() -> None:
    lines = TEXT.read_text(encoding="utf-8").splitlines()
    assert lines == [
        json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in text_response_events()
    ]


def test_the_text_response_replays_to_the_answer_it_describes() -> None:
    s = replayed(TEXT)
    assert not s.protocol_errors and not s.anomalies and s.unknown_events == 0
    assert s.events_applied == 85
    (item,) = s.items
    assert (item.id, item.role, item.status) == (
        "item_C1PSbur7hgTONg4H8lKhl",
        "assistant",
        "completed",
    )
    (part,) = item.content
    assert part.type == "text" and part.text is not None and len(part.text.parts) == 77
    answer = json.loads(part.text.value)  # the app asked for a JSON answer
    assert answer["word"] == "pending" and answer["sentence"].startswith("The approval")
    (response,) = s.responses
    assert response.status == "completed" and response.output_item_ids == (item.id,)
    assert response.usage is not None and response.usage.total_tokens == 151
    # The dump has no conversation.created: the id comes from response.created.
    assert s.conversation_id == "conv_C1PSNA8UPPAtBRO0xzWHR"


def test_log_2_replays_to_the_conversation_it_describes() -> None:
    s = replayed(LOG_2)
    assert not s.protocol_errors and not s.anomalies
    assert [(i.role, i.status) for i in s.items] == [
        ("user", "completed"),
        ("assistant", "completed"),
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    hello, answer, bye, second = s.items
    assert hello.id == "simulated-user-1748035262335"
    assert answer.content[0].truncated_at_ms == 1860
    assert answer.content[0].generated_transcript == (
        "Hi there! Thank you for calling. My name is Sarah. How can I assist you with your billing today?"
    )
    assert bye.content[0].transcript.value == "Bye.\n"  # type: ignore[union-attr]
    assert second.content[0].transcript.value == (  # type: ignore[union-attr]
        "I'm sorry, I didn't catch that. How can I assist you today?"
    )
    assert [r.status for r in s.responses] == ["completed", "completed"]
    assert s.rate_limits[1].remaining == 14994457


def test_replay_is_the_same_as_feeding_a_client_session() -> None:
    client = ClientSession(dialect="beta")
    for line in LOG_2.read_bytes().splitlines():
        client.receive_message(line)
    assert client.state == replayed(LOG_2)


def test_envelope_lines_carry_direction_and_time() -> None:
    server_line = LOG_2.read_bytes().splitlines()[0]
    client_event = b'{"type":"response.cancel","event_id":"c1"}'
    error = (
        b'{"type":"error","event_id":"e2","error":{"type":"invalid_request_error",'
        b'"code":"response_cancel_not_active","message":"no","param":null,"event_id":"c1"}}'
    )
    lines = [
        format_record("server", server_line, 0.0),
        b"\n",
        format_record("client", client_event, 0.5),
        format_record("server", error),
    ]
    records = list(read_trace(lines))
    assert [(r.direction, r.time) for r in records] == [
        ("server", 0.0),
        ("client", 0.5),
        ("server", None),
    ]
    assert records[0].data == server_line
    s = replay(records).state
    assert s.errors[0].client_event is not None and s.errors[0].client_event.event_id == "c1"


def test_a_damaged_trace_records_protocol_errors_and_goes_on() -> None:
    lines = LOG_2.read_bytes().splitlines()
    lines.insert(3, b'{"type": "response.text.delta", broken')
    s = replay(read_trace(lines)).state
    assert len(s.protocol_errors) == 1 and len(s.items) == 4


@pytest.mark.parametrize("path", [LOG_1, LOG_2])
def test_the_replay_command_prints_the_conversation(
    path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert "user: 'Hello!'" in out
    assert "0 protocol errors" in out
    assert main(["replay", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == replayed(path).to_dict()
    assert set(data) >= {
        "session",
        "conversation_id",
        "items",
        "responses",
        "input_audio_buffer",
        "errors",
        "unknown_events",
    }
    assert set(data["items"][0]) == {
        "id",
        "type",
        "role",
        "status",
        "content",
        "call_id",
        "name",
        "arguments",
        "output",
    }
    assert set(data["items"][0]["content"][0]) >= {"type", "text", "transcript", "audio_ms"}
    assert set(data["responses"][0]) >= {
        "id",
        "status",
        "status_details",
        "output_item_ids",
        "usage",
    }


def test_the_replay_command_reports_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "/nonexistent/trace.jsonl"]) == 2
    assert "No such file" in capsys.readouterr().err
