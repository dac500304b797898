"""The translation between dialects, rule by rule (docs/protocol/relay.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.translate import LOSS_KINDS, Translator, Untranslatable


def client(t: Translator, message: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    event = ev.decode_client_event(json.dumps(message), dialect=t.client)
    out = t.client_event(event)
    return [json.loads(ev.encode_event(e)) for e in out.events], [loss.kind for loss in out.losses]


def server(t: Translator, message: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    message = {"event_id": "event_1", **message}
    event = ev.decode_server_event(json.dumps(message), dialect=t.server)
    out = t.server_event(event)
    return [json.loads(ev.encode_event(e)) for e in out.events], [loss.kind for loss in out.losses]


def beta_to_ga() -> Translator:
    return Translator(client="beta", server="ga")


def ga_to_beta() -> Translator:
    return Translator(client="ga", server="beta")


BETA_SESSION = {
    "modalities": ["text", "audio"],
    "instructions": "Be brief.",
    "voice": "alloy",
    "input_audio_format": "g711_ulaw",
    "output_audio_format": "pcm16",
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": {"type": "server_vad", "threshold": 0.4, "silence_duration_ms": 300},
    "input_audio_noise_reduction": {"type": "near_field"},
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "tool_choice": "auto",
    "temperature": 0.7,
    "max_response_output_tokens": 200,
    "speed": 1.1,
}
GA_SESSION = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "threshold": 0.4, "silence_duration_ms": 300},
            "noise_reduction": {"type": "near_field"},
        },
        "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}, "speed": 1.1},
    },
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "tool_choice": "auto",
    "max_output_tokens": 200,
}


def test_beta_session_update_becomes_the_nested_ga_session() -> None:
    [out], losses = client(beta_to_ga(), {"type": "session.update", "session": BETA_SESSION})
    assert out["session"] == GA_SESSION
    assert losses == ["modalities_collapsed", "temperature_dropped"]


def test_ga_session_update_becomes_the_flat_beta_session() -> None:
    [out], losses = client(ga_to_beta(), {"type": "session.update", "session": GA_SESSION})
    expected = {k: v for k, v in BETA_SESSION.items() if k != "temperature"}
    # GA's single "audio" is what a beta server echoes as "text and audio".
    assert out["session"] == expected
    assert losses == []


def test_the_beta_clients_temperature_is_echoed_in_the_ga_servers_sessions() -> None:
    t = beta_to_ga()
    [echo], losses = server(t, {"type": "session.created", "session": {"id": "s", **GA_SESSION}})
    assert echo["session"]["temperature"] == 0.8  # beta's default before the client sets one
    assert echo["session"]["modalities"] == ["text", "audio"]
    assert "type" not in echo["session"] and echo["session"]["input_audio_format"] == "g711_ulaw"
    assert losses == ["temperature_echoed"]
    client(t, {"type": "session.update", "session": {"temperature": 1.1}})
    [echo], _ = server(t, {"type": "session.updated", "session": {"id": "s", **GA_SESSION}})
    assert echo["session"]["temperature"] == 1.1


@pytest.mark.parametrize(
    ("message", "code", "param"),
    [
        (
            {"type": "session.update", "session": {"type": "realtime", "truncation": "auto"}},
            "unknown_parameter",
            "session.truncation",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": {"id": "v"}}}},
            },
            "invalid_value",
            "session.audio.output.voice",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "tools": [{"type": "mcp", "server_label": "x", "server_url": "https://x"}],
                },
            },
            "invalid_value",
            "session.tools[0]",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "data:"}],
                },
            },
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {"type": "response.create", "response": {"reasoning": {"effort": "low"}}},
            "unknown_parameter",
            "response.reasoning",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"model": "m", "languages": ["en"]}}},
                },
            },
            "unknown_parameter",
            "session.audio.input.transcription.languages",
        ),
    ],
)
def test_what_beta_cannot_carry_is_refused_with_the_beta_servers_error(
    message: dict[str, Any], code: str, param: str
) -> None:
    t = ga_to_beta()
    with pytest.raises(Untranslatable) as refused:
        client(t, message)
    assert (refused.value.code, refused.value.param) == (code, param)
    assert t.counts == {}


def test_a_refused_request_changes_no_state() -> None:
    t = ga_to_beta()
    session = {
        "type": "realtime",
        "truncation": "auto",
        "audio": {"input": {"format": {"type": "audio/pcmu"}}},
    }
    with pytest.raises(Untranslatable):
        client(t, {"type": "session.update", "session": session})
    # The refused update's g711 format was not taken: a second of pcm16 is still a second.
    client(t, {"type": "input_audio_buffer.append", "audio": "AAAA" * 12000})
    server(t, {"type": "input_audio_buffer.committed", "item_id": "i", "previous_item_id": None})
    [done], _ = server(
        t,
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "i",
            "content_index": 0,
            "transcript": "hi",
        },
    )
    assert done["usage"] == {"type": "duration", "seconds": 0.75}


def test_input_transcription_usage_is_counted_from_the_clients_audio() -> None:
    t = ga_to_beta()
    client(
        t,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        },
    )
    client(
        t, {"type": "input_audio_buffer.append", "audio": "AAAA" * 2000}
    )  # 6000 bytes, 0.75 s of G.711
    client(t, {"type": "input_audio_buffer.append", "audio": "AAAA" * 2000})
    server(t, {"type": "input_audio_buffer.committed", "item_id": "i", "previous_item_id": None})
    [done], losses = server(
        t,
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "i",
            "content_index": 0,
            "transcript": "hi",
        },
    )
    assert done["usage"] == {"type": "duration", "seconds": 1.5}
    assert losses == ["transcription_usage_invented"]
    given = {"type": "tokens", "input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    [done], losses = server(
        t,
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "i",
            "content_index": 0,
            "transcript": "hi",
            "usage": given,
        },
    )
    assert done["usage"] == given and losses == []


def test_streaming_events_are_renamed_and_obfuscation_is_reported_once() -> None:
    t = beta_to_ga()
    delta = {
        "type": "response.output_text.delta",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hi",
    }
    event = ev.decode_server_event(
        json.dumps({"event_id": "e", **delta, "obfuscation": "xyz"}), dialect="ga"
    )
    first, second = t.server_event(event), t.server_event(event)
    assert (
        first.events
        == second.events
        == (
            beta.ResponseTextDelta(
                event_id="e",
                response_id="r",
                item_id="i",
                output_index=0,
                content_index=0,
                delta="Hi",
            ),
        )
    )
    assert [(loss.kind, loss.first) for loss in first.losses + second.losses] == [
        ("obfuscation_dropped", True),
        ("obfuscation_dropped", False),
    ]
    assert t.counts == {"obfuscation_dropped": 2}
    back = ga_to_beta().server_event(first.events[0])
    assert back.events == (
        ga.ResponseOutputTextDelta(
            event_id="e", response_id="r", item_id="i", output_index=0, content_index=0, delta="Hi"
        ),
    )


def test_unknown_fields_survive_a_translation() -> None:
    [out], _ = server(
        ga_to_beta(),
        {
            "type": "response.audio.delta",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "delta": "AAAA",
            "novel": 1,
        },
    )
    assert out["type"] == "response.output_audio.delta" and out["novel"] == 1
    [out], _ = client(
        beta_to_ga(), {"type": "session.update", "session": {"instructions": "x", "novel": True}}
    )
    assert out["session"] == {"type": "realtime", "instructions": "x", "novel": True}


ASSISTANT_BETA = {
    "type": "message",
    "role": "assistant",
    "id": "i",
    "status": "completed",
    "content": [{"type": "text", "text": "Hi"}],
}
ASSISTANT_GA = {**ASSISTANT_BETA, "content": [{"type": "output_text", "text": "Hi"}]}


def test_ga_items_are_announced_once_to_beta_clients() -> None:
    t = beta_to_ga()
    [created], _ = server(
        t, {"type": "conversation.item.added", "previous_item_id": None, "item": ASSISTANT_GA}
    )
    assert created["type"] == "conversation.item.created" and created["item"] == ASSISTANT_BETA
    assert server(t, {"type": "conversation.item.done", "item": ASSISTANT_GA}) == (
        [],
        ["item_done_dropped"],
    )


def test_a_beta_servers_items_are_added_then_done_for_ga_clients() -> None:
    t = ga_to_beta()
    user = {
        "type": "message",
        "role": "user",
        "id": "u",
        "content": [{"type": "input_text", "text": "Hi"}],
    }
    out, losses = server(
        t, {"type": "conversation.item.created", "previous_item_id": None, "item": user}
    )
    assert [e["type"] for e in out] == ["conversation.item.added", "conversation.item.done"]
    assert out[1]["event_id"] == "event_1_done" and losses == ["item_done_synthesised"]
    # An output item is done only when the response says so.
    in_progress = {**ASSISTANT_BETA, "status": "in_progress", "content": []}
    server(
        t,
        {
            "type": "response.output_item.added",
            "response_id": "r",
            "output_index": 0,
            "item": in_progress,
        },
    )
    out, _ = server(
        t, {"type": "conversation.item.created", "previous_item_id": "u", "item": in_progress}
    )
    assert [e["type"] for e in out] == ["conversation.item.added"]
    out, _ = server(
        t,
        {
            "type": "response.output_item.done",
            "response_id": "r",
            "output_index": 0,
            "item": ASSISTANT_BETA,
        },
    )
    assert [e["type"] for e in out] == ["response.output_item.done", "conversation.item.done"]
    assert out[1]["item"] == ASSISTANT_GA


def test_ga_only_server_events_are_dropped_for_beta_clients() -> None:
    t = beta_to_ga()
    assert server(t, {"type": "mcp_list_tools.in_progress", "item_id": "m"}) == (
        [],
        ["mcp_dropped"],
    )
    mcp = {"type": "mcp_list_tools", "id": "m", "server_label": "x", "tools": []}
    assert server(
        t, {"type": "conversation.item.added", "previous_item_id": None, "item": mcp}
    ) == ([], ["mcp_dropped"])
    response = {
        "id": "r",
        "status": "completed",
        "output": [mcp, ASSISTANT_GA],
        "output_modalities": ["text"],
    }
    [done], losses = server(t, {"type": "response.done", "response": response})
    assert done["response"]["output"] == [ASSISTANT_BETA] and done["response"]["modalities"] == [
        "text"
    ]
    assert losses == ["mcp_dropped"]


def test_transcription_sessions_change_their_event_names() -> None:
    beta_session = {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": None,
    }
    ga_session = {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "turn_detection": None,
            }
        },
    }
    [out], _ = client(
        beta_to_ga(), {"type": "transcription_session.update", "session": beta_session}
    )
    assert out == {"type": "session.update", "session": ga_session}
    [out], _ = client(ga_to_beta(), {"type": "session.update", "session": ga_session})
    assert out == {"type": "transcription_session.update", "session": beta_session}
    [out], _ = server(
        beta_to_ga(), {"type": "session.created", "session": {"id": "s", **ga_session}}
    )
    assert out["type"] == "transcription_session.created" and "temperature" not in out["session"]


def test_response_parameters_and_objects_are_reshaped() -> None:
    params = {
        "modalities": ["text"],
        "voice": "ash",
        "output_audio_format": "g711_alaw",
        "temperature": 0.9,
        "max_response_output_tokens": 5,
        "input": [ASSISTANT_BETA],
    }
    [out], losses = client(beta_to_ga(), {"type": "response.create", "response": params})
    assert out["response"] == {
        "output_modalities": ["text"],
        "audio": {"output": {"voice": "ash", "format": {"type": "audio/pcma"}}},
        "max_output_tokens": 5,
        "input": [ASSISTANT_GA],
    }
    assert losses == ["temperature_dropped"]
    [back], _ = client(ga_to_beta(), {"type": "response.create", "response": out["response"]})
    assert back["response"] == {k: v for k, v in params.items() if k != "temperature"}


def test_same_dialects_pass_every_event_unchanged() -> None:
    t = Translator(client="beta", server="beta")
    event = ev.decode_client_event(
        json.dumps({"type": "session.update", "session": BETA_SESSION}), dialect="beta"
    )
    assert t.client_event(event).events[0] is event and not t.translating


def test_every_loss_kind_is_explained() -> None:
    page = (Path(__file__).parent.parent / "docs" / "protocol" / "relay.md").read_text()
    for anchor in LOSS_KINDS.values():
        path, name = anchor.split("#")
        assert path == "docs/protocol/relay.md" and name.startswith("loss")
        assert "{#" + name + "}" in page


@pytest.mark.parametrize(
    ("beta_type", "ga_type", "member"),
    [
        ("response.text.done", "response.output_text.done", {"text": "Hi"}),
        ("response.audio.done", "response.output_audio.done", {}),
        (
            "response.audio_transcript.delta",
            "response.output_audio_transcript.delta",
            {"delta": "Hi"},
        ),
        (
            "response.audio_transcript.done",
            "response.output_audio_transcript.done",
            {"transcript": "Hi"},
        ),
    ],
)
def test_every_renamed_stream_event_goes_both_ways(
    beta_type: str, ga_type: str, member: dict[str, str]
) -> None:
    ids = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0, **member}
    assert server(beta_to_ga(), {"type": ga_type, **ids}) == (
        [{"type": beta_type, "event_id": "event_1", **ids}],
        [],
    )
    assert server(ga_to_beta(), {"type": beta_type, **ids}) == (
        [{"type": ga_type, "event_id": "event_1", **ids}],
        [],
    )
