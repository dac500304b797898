"""The GA vocabulary and codec (docs/protocol/ga.md): every event, both dialects, and properties.

Given the example messages of ``ga_examples`` (one per GA event type, plus variants), each decodes
with ``dialect="ga"`` to its class, re-encodes to the same JSON and passes strict decoding; together
they set every field of every GA object, and real ``gpt-realtime`` traffic decodes the same way. The
official SDK's GA models accept them, except where docs/protocol/choices.md#disagreements records
where the SDK disagrees with the docs or the server. Then unknown fields and types, beta names in a
GA stream, the session errors of docs/protocol/errors.md#session-update-errors, and hypothesis
properties. Bad values and the nesting limit are tests/test_events_ga_errors.py; the GA audio fast
path is tests/test_ga_audio_fast_path.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from ga_examples import (
    GA_CLIENT_EXAMPLES,
    GA_SERVER_EXAMPLES,
    GA_VARIANTS,
    all_ga_messages,
    ga_client_message,
    ga_server_message,
)
from hypothesis import given
from hypothesis import strategies as st

from examples import client_message, server_message
from rtcore import events as ev
from rtcore.events import DecodeError, beta, encode_event, ga, unknown_fields
from rtcore.testing import (
    JSON_VALUES,
    ga_client_events,
    ga_server_events,
    json_objects,
    mutations,
)

Decoder = Callable[..., Any]


def decode_ga_server(data: bytes | str, strict: bool = False) -> Any:
    return ev.decode_server_event(data, dialect="ga", strict=strict)


def decode_ga_client(data: bytes | str, strict: bool = False) -> Any:
    return ev.decode_client_event(data, dialect="ga", strict=strict)


DECODERS: dict[str, Decoder] = {"server": decode_ga_server, "client": decode_ga_client}
ALL_MESSAGES = all_ga_messages()
MESSAGE_IDS = [name for name, _, _ in ALL_MESSAGES]


def camel(event_type: str) -> str:
    if event_type == "error":
        return "ErrorEvent"
    return "".join(w[:1].upper() + w[1:] for w in event_type.replace(".", "_").split("_"))


# -- coverage of the vocabulary ------------------------------------------------------

GA_CLIENT_TYPES = {
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
}
GA_ONLY_SERVER_TYPES = {
    "conversation.item.added",
    "conversation.item.done",
    "input_audio_buffer.dtmf_event_received",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "mcp_list_tools.failed",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
}
RESHAPED = {
    # Types both dialects have, whose GA wire shape differs: a GA class of their own.
    "session.update",
    "session.created",
    "session.updated",
    "conversation.item.create",
    "conversation.item.created",
    "conversation.item.retrieved",
    "response.create",
    "response.created",
    "response.done",
    "response.output_item.added",
    "response.output_item.done",
}


def test_the_ga_vocabulary_is_the_sdk_unions() -> None:
    assert set(ga.CLIENT_EVENTS) == GA_CLIENT_TYPES and len(GA_CLIENT_TYPES) == 11
    assert len(ga.SERVER_EVENTS) == 46
    assert GA_ONLY_SERVER_TYPES <= set(ga.SERVER_EVENTS)
    # The rest of the 46 are beta names GA kept.
    assert set(ga.SERVER_EVENTS) - GA_ONLY_SERVER_TYPES <= set(beta.SERVER_EVENTS)
    assert ev.server_events("ga") is ga.SERVER_EVENTS
    assert ev.client_events("beta") is beta.CLIENT_EVENTS


def test_ga_class_names_are_the_wire_type_in_camel_case() -> None:
    for table in (ga.CLIENT_EVENTS, ga.SERVER_EVENTS):
        for event_type, cls in table.items():
            assert cls.__name__ == camel(event_type)
            assert cls.type == event_type
            assert getattr(ga, cls.__name__) is cls
            assert cls.__name__ in ga.__all__


def test_classes_are_shared_exactly_where_the_wire_shape_is_the_same() -> None:
    both = set(ga.SERVER_EVENTS) & set(beta.SERVER_EVENTS)
    both |= set(ga.CLIENT_EVENTS) & set(beta.CLIENT_EVENTS)
    differ = {
        t
        for t in both
        if ga.SERVER_EVENTS.get(t, ga.CLIENT_EVENTS.get(t))
        is not beta.SERVER_EVENTS.get(t, beta.CLIENT_EVENTS.get(t))
    }
    assert differ == RESHAPED
    assert ga.InputAudioBufferAppend is ev.InputAudioBufferAppend
    assert ga.ResponseFunctionCallArgumentsDone is ev.ResponseFunctionCallArgumentsDone


def test_every_ga_event_type_has_an_example() -> None:
    assert set(GA_SERVER_EXAMPLES) == set(ga.SERVER_EVENTS)
    assert set(GA_CLIENT_EXAMPLES) == set(ga.CLIENT_EVENTS)
    tolerated = {c.type for c in ga.TOLERATED_EVENT_TYPES}
    variant_types = {m["type"] for role, m in GA_VARIANTS.values() if role == "server"}
    assert tolerated <= variant_types


def _reachable(classes: tuple[type, ...]) -> dict[type, set[str]]:
    """Every struct class reachable from ``classes``, with its field names."""
    out: dict[type, set[str]] = {}
    pending: list[mi.Type] = [mi.type_info(c) for c in classes]
    while pending:
        t = pending.pop()
        if isinstance(t, mi.StructType):
            if t.cls not in out:
                out[t.cls] = {f.name for f in t.fields}
                pending.extend(f.type for f in t.fields)
        elif isinstance(t, mi.UnionType):
            pending.extend(t.types)
        elif isinstance(t, (mi.VarTupleType, mi.ListType)):
            pending.append(t.item_type)
        elif isinstance(t, mi.DictType):
            pending.append(t.value_type)
    return out


def _filled(value: Any, out: dict[type, set[str]]) -> None:
    """Record, per struct class, the fields holding a value (not ``UNSET``, not ``None``)."""
    if isinstance(value, msgspec.Struct):
        fields = out.setdefault(type(value), set())
        for name in value.__struct_fields__:
            member = getattr(value, name)
            if member is not msgspec.UNSET and member is not None:
                fields.add(name)
                _filled(member, out)
    elif isinstance(value, (list, tuple)):
        for member in value:
            _filled(member, out)
    elif isinstance(value, dict):
        for member in value.values():
            _filled(member, out)


NOT_A_GA_SHAPE = {
    # The part events share beta's content-part union, whose item_reference
    # member only exists inside a beta response.create; GA never sends it there.
    ev.ItemReferenceContent,
}


def test_the_examples_fill_every_field_of_every_ga_object() -> None:
    # The tolerated beta events carry beta objects, which tests/examples.py fills.
    wanted = _reachable(ga.CLIENT_EVENT_TYPES + ga.SERVER_EVENT_TYPES)
    seen: dict[type, set[str]] = {}
    for _, role, message in ALL_MESSAGES:
        _filled(DECODERS[role](json.dumps(message)), seen)
    missing = {
        cls.__name__: sorted(fields - seen.get(cls, set()))
        for cls, fields in wanted.items()
        if cls not in NOT_A_GA_SHAPE and (cls not in seen or fields - seen[cls])
    }
    assert missing == {}
    assert not NOT_A_GA_SHAPE & set(seen) - set(_reachable(ga.TOLERATED_EVENT_TYPES))


# -- every example ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role", "message"), ALL_MESSAGES, ids=MESSAGE_IDS)
def test_example_decodes_to_its_class_and_round_trips(
    name: str, role: str, message: dict[str, Any]
) -> None:
    decode = DECODERS[role]
    data = json.dumps(message)
    event = decode(data)
    table = ga.SERVER_EVENTS if role == "server" else ga.CLIENT_EVENTS
    tolerated = {c.type: c for c in ga.TOLERATED_EVENT_TYPES} if role == "server" else {}
    assert type(event) is {**table, **tolerated}[message["type"]]
    assert json.loads(encode_event(event)) == message
    assert unknown_fields(event) == {}
    # Every field of the example is defined: strict decoding accepts it and agrees.
    assert decode(data, strict=True) == event
    assert decode(data.encode()) == event
    # Compact re-encoding is a fixed point.
    assert encode_event(decode(encode_event(event))) == encode_event(event)


@pytest.mark.parametrize("event_type", sorted(GA_CLIENT_EXAMPLES))
def test_ga_client_events_need_no_event_id(event_type: str) -> None:
    message = ga_client_message(event_type)
    del message["event_id"]
    event = decode_ga_client(json.dumps(message), strict=True)
    assert event.event_id is ev.UNSET
    assert json.loads(encode_event(event)) == message


def test_ga_server_events_require_an_event_id_except_dtmf() -> None:
    message = ga_server_message("response.output_text.delta")
    del message["event_id"]
    with pytest.raises(DecodeError) as info:
        decode_ga_server(json.dumps(message))
    assert (info.value.path, info.value.code) == ("event_id", "missing_required_parameter")
    dtmf = decode_ga_server(json.dumps(ga_server_message("input_audio_buffer.dtmf_event_received")))
    assert isinstance(dtmf, ga.InputAudioBufferDtmfEventReceived)
    assert dtmf.event_id is ev.UNSET
    assert encode_event(dtmf) == (
        b'{"type":"input_audio_buffer.dtmf_event_received","event":"5","received_at":1767229435}'
    )


def test_typed_values_are_what_the_ga_json_says() -> None:
    created = decode_ga_server(json.dumps(ga_server_message("session.created")))
    assert isinstance(created, ga.SessionCreated)
    session = created.session
    assert isinstance(session, ga.RealtimeSession)
    assert session.id == "sess_CsOw3N0SQJvA1bW8Zt7aX"
    assert session.max_output_tokens == "inf" and session.truncation == "auto"
    assert session.tracing is None and session.prompt is None and session.include is None
    assert isinstance(session.audio, ga.AudioConfig)
    assert isinstance(session.audio.input, ga.AudioInput)
    assert session.audio.input.format == ga.PcmFormat(rate=24000)
    vad = session.audio.input.turn_detection
    assert isinstance(vad, ga.ServerVad)
    assert vad.silence_duration_ms == 200 and vad.idle_timeout_ms is None

    updated = decode_ga_server(json.dumps(ga_server_message("session.updated")))
    assert isinstance(updated, ga.SessionUpdated)
    full = updated.session
    assert isinstance(full, ga.RealtimeSession) and isinstance(full.audio, ga.AudioConfig)
    assert isinstance(full.audio.output, ga.AudioOutput)
    assert full.audio.output.voice == ga.VoiceId(id="voice_1234")
    assert full.audio.output.format == ga.PcmaFormat()
    assert isinstance(full.truncation, ga.RetentionRatioTruncation)
    assert full.truncation.retention_ratio == 0.8
    assert isinstance(full.tracing, ga.TracingConfig)
    assert isinstance(full.tool_choice, ga.ToolChoiceMcp)
    assert not isinstance(full.tools, (ev.UnsetType, type(None)))
    assert [type(t) for t in full.tools] == [ga.FunctionTool, ga.McpTool, ga.McpTool, ga.McpTool]
    assert isinstance(full.prompt, ga.Prompt)

    done = decode_ga_server(json.dumps(ga_server_message("response.done")))
    assert isinstance(done, ga.ResponseDone)
    kinds = [type(item) for item in done.response.output]
    assert kinds == [
        ga.MessageItem,
        ga.FunctionCallItem,
        ga.McpListToolsItem,
        ga.McpApprovalRequestItem,
        ga.McpCallItem,
    ]
    message = done.response.output[0]
    assert isinstance(message, ga.MessageItem) and not isinstance(message.content, ev.UnsetType)
    assert isinstance(message.content[0], ga.OutputAudioContent)

    audio = decode_ga_server(json.dumps(ga_server_message("response.output_audio.delta")))
    assert isinstance(audio, ga.ResponseOutputAudioDelta)
    assert audio.delta == bytes(range(256)) * 2
    assert audio.obfuscation == "Qz"

    create = decode_ga_client(json.dumps(ga_client_message("conversation.item.create")))
    assert isinstance(create, ga.ConversationItemCreate)
    assert isinstance(create.item, ga.MessageItem)
    assert not isinstance(create.item.content, ev.UnsetType)
    assert isinstance(create.item.content[1], ga.InputImageContent)
    assert create.item.content[1].detail == "high"


def test_ga_events_are_pleasant_to_build() -> None:
    update = ga.SessionUpdate(
        session=ga.RealtimeSessionConfig(
            output_modalities=("text",),
            audio=ga.AudioConfig(
                input=ga.AudioInput(format=ga.PcmuFormat(), turn_detection=ga.SemanticVad()),
                output=ga.AudioOutput(voice=ga.VoiceId(id="voice_1")),
            ),
            max_output_tokens="inf",
            truncation=ga.RetentionRatioTruncation(retention_ratio=0.5),
        )
    )
    assert encode_event(update) == (
        b'{"type":"session.update","session":{"type":"realtime","output_modalities":["text"],'
        b'"audio":{"input":{"format":{"type":"audio/pcmu"},"turn_detection":{"type":"semantic_vad"}},'
        b'"output":{"voice":{"id":"voice_1"}}},"max_output_tokens":"inf",'
        b'"truncation":{"type":"retention_ratio","retention_ratio":0.5}}}'
    )
    assert decode_ga_client(encode_event(update), strict=True) == update
    create = ga.ConversationItemCreate(
        item=ga.MessageItem(
            role="user", content=(ga.InputImageContent(image_url="data:image/png;base64,AA=="),)
        )
    )
    assert encode_event(create) == (
        b'{"type":"conversation.item.create","item":{"type":"message","role":"user",'
        b'"content":[{"type":"input_image","image_url":"data:image/png;base64,AA=="}]}}'
    )
    assert encode_event(ga.ResponseCreate()) == b'{"type":"response.create"}'
    assert repr(ga.ResponseCreate(response=None)) == "ResponseCreate(response=None)"


def test_absent_and_null_stay_different_in_ga() -> None:
    off = b'{"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":null}}}}'
    same = b'{"type":"session.update","session":{"type":"realtime","audio":{"input":{}}}}'
    for data, expected in ((off, None), (same, ev.UNSET)):
        event = decode_ga_client(data, strict=True)
        assert isinstance(event, ga.SessionUpdate)
        session = event.session
        assert isinstance(session, ga.RealtimeSessionConfig)
        assert isinstance(session.audio, ga.AudioConfig)
        assert isinstance(session.audio.input, ga.AudioInput)
        assert session.audio.input.turn_detection is expected
        assert encode_event(event) == data


# -- unknown fields and unknown types --------------------------------------------------


def test_unknown_fields_are_kept_aside_and_written_back() -> None:
    message = ga_client_message("session.update")
    message["future_top"] = 1
    message["session"]["audio"]["input"]["turn_detection"]["foo"] = {"x": [1]}
    message["session"]["audio"]["output"]["voice"]["label"] = "mine"
    message["session"]["tools"][1]["require_approval"]["always"]["future"] = True
    event = decode_ga_client(json.dumps(message))
    assert isinstance(event, ga.SessionUpdate)
    assert unknown_fields(event) == {
        "future_top": 1,
        "session.audio.input.turn_detection.foo": {"x": [1]},
        "session.audio.output.voice.label": "mine",
        "session.tools[1].require_approval.always.future": True,
    }
    assert json.loads(encode_event(event)) == message
    assert event == decode_ga_client(json.dumps(ga_client_message("session.update")))


def test_unknown_fields_in_server_items_are_kept() -> None:
    message = ga_server_message("response.done")
    message["response"]["output"][2]["tools"][0]["future"] = "x"
    message["response"]["output"][4]["extra"] = None
    event = decode_ga_server(json.dumps(message))
    assert unknown_fields(event) == {
        "response.output[2].tools[0].future": "x",
        "response.output[4].extra": None,
    }
    assert json.loads(encode_event(event)) == message


def _struct_paths(value: Any, t: mi.Type, path: tuple[str | int, ...] = ()) -> list[Any]:
    """The paths of the JSON objects in ``value`` that type ``t`` reads as structs."""
    if isinstance(t, mi.UnionType):
        structs = [m for m in t.types if isinstance(m, mi.StructType)]
        arrays = [m for m in t.types if isinstance(m, (mi.VarTupleType, mi.ListType))]
        if isinstance(value, dict) and structs:
            tag = value.get(structs[0].tag_field or "")
            found = [m for m in structs if len(structs) == 1 or m.tag == tag]
            return _struct_paths(value, found[0], path) if found else []
        if isinstance(value, list) and arrays:
            return _struct_paths(value, arrays[0], path)
        return []
    if isinstance(t, mi.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f.type for f in t.fields}
        out = [path]
        for key, member in value.items():
            if key in fields:
                out += _struct_paths(member, fields[key], path + (key,))
        return out
    if isinstance(t, (mi.VarTupleType, mi.ListType)) and isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _struct_paths(v, t.item_type, path + (i,))]
    return []


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@pytest.mark.parametrize(("name", "role", "message"), ALL_MESSAGES, ids=MESSAGE_IDS)
def test_an_unknown_field_in_any_object_is_kept_or_named(
    name: str, role: str, message: dict[str, Any]
) -> None:
    # Every object of every example, one at a time: a field this version does not
    # define is set aside and written back, or (strict) named by its dotted path.
    decode = DECODERS[role]
    cls = (ga.SERVER_EVENTS if role == "server" else ga.CLIENT_EVENTS).get(message["type"])
    cls = cls or beta.SERVER_EVENTS[message["type"]]
    paths = _struct_paths(message, mi.type_info(cls))
    assert () in paths
    for path in paths:
        edited = json.loads(json.dumps(message))
        node = edited
        for seg in path:
            node = node[seg]
        node["x_future"] = {"n": [1]}
        where = _dotted(path + ("x_future",))
        event = decode(json.dumps(edited))
        assert unknown_fields(event) == {where: {"n": [1]}}
        assert json.loads(encode_event(event)) == edited
        with pytest.raises(DecodeError) as info:
            decode(json.dumps(edited), strict=True)
        assert (info.value.code, info.value.path) == ("unknown_parameter", where)


@pytest.mark.parametrize(
    ("role", "edit", "path"),
    [
        (
            "client",
            lambda m: m["session"]["audio"]["input"]["turn_detection"].update(foo=1),
            "session.audio.input.turn_detection.foo",
        ),
        ("client", lambda m: m["session"].update(temperature=0.8), "session.temperature"),
        ("client", lambda m: m["session"].update(modalities=["text"]), "session.modalities"),
        ("client", lambda m: m["session"].update(voice="alloy"), "session.voice"),
        (
            "client",
            lambda m: m["session"].update(input_audio_format="pcm16"),
            "session.input_audio_format",
        ),
        (
            "client",
            lambda m: m["session"]["truncation"]["token_limits"].update(pre=1),
            "session.truncation.token_limits.pre",
        ),
        (
            "client",
            lambda m: m["session"]["tools"][1]["allowed_tools"].update(x=1),
            "session.tools[1].allowed_tools.x",
        ),
        (
            "server",
            lambda m: m["session"]["audio"]["input"].update(vad=1),
            "session.audio.input.vad",
        ),
        ("server", lambda m: m["session"].update(client_secret=None), "session.client_secret"),
    ],
)
def test_strict_mode_names_the_unknown_field(
    role: str, edit: Callable[[dict[str, Any]], None], path: str
) -> None:
    if role == "client":
        message = ga_client_message("session.update")
    else:
        message = ga_server_message("session.updated")
    edit(message)
    data = json.dumps(message)
    with pytest.raises(DecodeError) as info:
        DECODERS[role](data, strict=True)
    assert (info.value.code, info.value.path) == ("unknown_parameter", path)
    assert str(info.value) == f"{path}: unknown field"
    # Not strict: the same message decodes, the field set aside.
    assert unknown_fields(DECODERS[role](data)) == {path: _get(message, path)}


def _get(message: Any, path: str) -> Any:
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        message = message[name] if name else message[int(index)]
    return message


def test_beta_flat_session_fields_in_a_ga_session_update() -> None:
    # docs/protocol/ga.md#session, docs/protocol/choices.md#temperature-from-beta: clients migrating
    # from beta still send these.
    data = json.dumps(
        {
            "type": "session.update",
            "event_id": "evt_7",
            "session": {"type": "realtime", "modalities": ["text"], "temperature": 0.8},
        }
    )
    with pytest.raises(DecodeError) as info:
        decode_ga_client(data, strict=True)
    err = info.value
    assert (err.code, err.path, err.event_id) == (
        "unknown_parameter",
        "session.modalities",
        "evt_7",
    )
    relaxed = decode_ga_client(data)
    assert unknown_fields(relaxed) == {"session.modalities": ["text"], "session.temperature": 0.8}


def test_a_transcription_session_has_no_realtime_fields() -> None:
    # docs/protocol/ga.md#transcription-session: no output_modalities, instructions, tools, voice or
    # output audio.
    for field, value in [
        ("instructions", "Be brief."),
        ("output_modalities", ["text"]),
        ("tools", []),
        ("audio", {"output": {"voice": "alloy"}}),
    ]:
        session = {"type": "transcription", field: value}
        data = json.dumps({"type": "session.update", "session": session})
        with pytest.raises(DecodeError) as info:
            decode_ga_client(data, strict=True)
        path = "session.audio.output" if field == "audio" else f"session.{field}"
        assert (info.value.code, info.value.path) == ("unknown_parameter", path)


def test_a_session_update_without_session_type() -> None:
    # docs/protocol/ga.md#session: missing_required_parameter, param "session.type"
    # (TanStack/ai#586).
    for strict in (False, True):
        for session in (
            {},
            {"instructions": "Be brief."},
            client_message("session.update")["session"],
        ):
            data = json.dumps({"type": "session.update", "event_id": "e1", "session": session})
            with pytest.raises(DecodeError) as info:
                decode_ga_client(data, strict=strict)
            err = info.value
            assert (err.code, err.path) == ("missing_required_parameter", "session.type")
            assert (err.event_id, err.event_type) == ("e1", "session.update")


def test_unknown_types_are_unknown_events() -> None:
    for decode in DECODERS.values():
        data = b'{"type":"response.output_video.delta","event_id":"event_1","delta":"x"}'
        event = decode(data, strict=True)
        assert isinstance(event, ev.UnknownEvent)
        assert event.payload == json.loads(data) and event.event_id == "event_1"
        assert json.loads(encode_event(event)) == json.loads(data)
    # Each role's types are unknown to the other role's decoder.
    assert isinstance(decode_ga_server(b'{"type":"response.create"}'), ev.UnknownEvent)
    assert isinstance(decode_ga_client(b'{"type":"response.created"}'), ev.UnknownEvent)


TOLERATED = {c.type for c in ga.TOLERATED_EVENT_TYPES}
BETA_ONLY_SERVER = sorted(set(beta.SERVER_EVENTS) - set(ga.SERVER_EVENTS) - TOLERATED)
BETA_ONLY_CLIENT = sorted(set(beta.CLIENT_EVENTS) - set(ga.CLIENT_EVENTS))


@pytest.mark.parametrize("event_type", BETA_ONLY_CLIENT)
def test_beta_only_client_names_are_unknown_in_ga(event_type: str) -> None:
    message = client_message(event_type)
    assert isinstance(decode_ga_client(json.dumps(message), strict=True), ev.UnknownEvent)


def test_the_beta_only_names_are_the_ones_ga_dropped() -> None:
    # Every beta server name is either a GA name or one a GA client tolerates.
    assert BETA_ONLY_SERVER == []
    assert BETA_ONLY_CLIENT == ["transcription_session.update"]
    assert TOLERATED == {
        "transcription_session.created",
        "transcription_session.updated",
        "response.text.delta",
        "response.text.done",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.delta",
        "response.audio_transcript.done",
    }
    assert not TOLERATED & set(ga.SERVER_EVENTS)


@pytest.mark.parametrize("event_type", sorted(TOLERATED))
def test_tolerated_beta_streaming_names_decode_in_ga(event_type: str) -> None:
    message = server_message(event_type)
    event = decode_ga_server(json.dumps(message), strict=True)
    assert type(event) is beta.SERVER_EVENTS[event_type]
    assert event == ev.decode_server_event(json.dumps(message), dialect="beta")


@pytest.mark.parametrize("event_type", sorted(GA_ONLY_SERVER_TYPES))
def test_ga_only_names_are_unknown_in_beta(event_type: str) -> None:
    message = ga_server_message(event_type)
    event = ev.decode_server_event(json.dumps(message), dialect="beta", strict=True)
    assert isinstance(event, ev.UnknownEvent)


def test_the_dialect_is_checked_and_ga_is_the_default() -> None:
    data = json.dumps(ga_server_message("response.output_text.delta"))
    assert type(ev.decode_server_event(data)) is ga.ResponseOutputTextDelta
    assert ev.DEFAULT_DIALECT == "ga"
    with pytest.raises(ValueError, match="unknown dialect"):
        ev.decode_server_event(data, dialect="v2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown dialect"):
        ev.decode_client_event(b"{}", dialect="GA")  # type: ignore[arg-type]


def test_a_beta_session_update_is_not_a_ga_one_and_vice_versa() -> None:
    beta = json.dumps(client_message("session.update"))
    with pytest.raises(DecodeError) as info:
        decode_ga_client(beta)
    assert info.value.path == "session.type"
    ga_update = json.dumps(ga_client_message("session.update"))
    with pytest.raises(DecodeError) as info:
        ev.decode_client_event(ga_update, dialect="beta", strict=True)
    assert info.value.code == "unknown_parameter"


# -- properties --------------------------------------------------------------------------


@given(ga_server_events())
def test_generated_ga_server_events_survive_encode_decode(event: Any) -> None:
    data = encode_event(event)
    assert decode_ga_server(data, strict=True) == event
    assert encode_event(decode_ga_server(data)) == data


@given(ga_client_events())
def test_generated_ga_client_events_survive_encode_decode(event: Any) -> None:
    data = encode_event(event)
    assert decode_ga_client(data, strict=True) == event
    assert encode_event(decode_ga_client(data)) == data


@given(st.one_of(ga_server_events(), ga_client_events()), st.sampled_from([None, 1]))
def test_generated_ga_events_survive_any_json_layout(event: Any, indent: int | None) -> None:
    # Whitespace, key order and escapes are the sender's business: the same value
    # written another way decodes to the same event (on the fast path or not).
    value = json.loads(encode_event(event))
    keys = list(value)
    value = {k: value[k] for k in reversed(keys)}
    data = json.dumps(value, indent=indent, ensure_ascii=True)
    decode = decode_ga_server if event.type in SERVER_TYPES else decode_ga_client
    assert decode(data, strict=True) == event


SERVER_TYPES = set(ga.SERVER_EVENTS) | {c.type for c in ga.TOLERATED_EVENT_TYPES}


def _decodes_or_refuses(decode: Decoder, data: bytes | str, strict: bool) -> None:
    """Decoding gives an event that re-encodes to the same JSON, or raises ``DecodeError``."""
    try:
        event = decode(data, strict=strict)
    except DecodeError as err:
        assert str(err)
        return
    assert json.loads(encode_event(event)) == json.loads(data)


SERVER_MESSAGES = [m for _, role, m in ALL_MESSAGES if role == "server"]
CLIENT_MESSAGES = [m for _, role, m in ALL_MESSAGES if role == "client"]


@given(mutations(SERVER_MESSAGES), st.booleans())
def test_mutated_ga_server_messages_decode_or_raise_decode_error(
    message: Any, strict: bool
) -> None:
    _decodes_or_refuses(decode_ga_server, json.dumps(message), strict)


@given(mutations(CLIENT_MESSAGES), st.booleans())
def test_mutated_ga_client_messages_decode_or_raise_decode_error(
    message: Any, strict: bool
) -> None:
    _decodes_or_refuses(decode_ga_client, json.dumps(message), strict)


@given(json_objects(set(ga.SERVER_EVENTS) | set(ga.CLIENT_EVENTS)), st.booleans())
def test_random_ga_shaped_objects_decode_or_raise_decode_error(message: Any, strict: bool) -> None:
    for decode in DECODERS.values():
        _decodes_or_refuses(decode, json.dumps(message), strict)


@given(st.one_of(st.binary(max_size=300), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_random_bytes_and_json_raise_nothing_but_decode_error(data: bytes) -> None:
    for decode in DECODERS.values():
        for strict in (False, True):
            try:
                decode(data, strict=strict)
            except DecodeError:
                pass


@given(st.sampled_from(SERVER_MESSAGES + CLIENT_MESSAGES), st.data())
def test_truncated_ga_messages_raise_decode_error(
    message: dict[str, Any], data: st.DataObject
) -> None:
    raw = json.dumps(message).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    for decode in DECODERS.values():
        with pytest.raises(DecodeError):
            decode(raw[:cut])
