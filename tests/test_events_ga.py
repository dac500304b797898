"""The GA vocabulary and codec (GA.md sections 2-4): every event, the dialect switch, and bad input.

Given the example messages of ``ga_examples`` (one per GA event type, plus
variants), each decodes with ``dialect="ga"`` to its class, re-encodes to the
same JSON and passes strict decoding; together they set every field of every
GA object. The official SDK's GA models accept them, except where GA.md 11
records that the SDK disagrees with the docs or the server. Then the edges:
unknown fields and types, beta names in a GA stream, the session errors GA.md
describes, wrong values named by their path, the nesting limit, and the audio
fast path.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from examples import client_message, server_message
from ga_examples import (
    GA_CLIENT_EXAMPLES,
    GA_SERVER_EXAMPLES,
    GA_VARIANTS,
    PCM,
    all_ga_messages,
    ga_client_message,
    ga_server_message,
)
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    JSON_VALUES,
    ga_client_events,
    ga_server_events,
    json_objects,
    mutations,
)

from rtcore import events as ev
from rtcore.events import DecodeError, encode_event, ga, unknown_fields

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
    assert set(ev.GA_CLIENT_EVENTS) == GA_CLIENT_TYPES and len(GA_CLIENT_TYPES) == 11
    assert len(ev.GA_SERVER_EVENTS) == 46
    assert GA_ONLY_SERVER_TYPES <= set(ev.GA_SERVER_EVENTS)
    # The rest of the 46 are beta names GA kept.
    assert set(ev.GA_SERVER_EVENTS) - GA_ONLY_SERVER_TYPES <= set(ev.SERVER_EVENTS)
    assert ev.server_events("ga") is ev.GA_SERVER_EVENTS
    assert ev.client_events("beta") is ev.CLIENT_EVENTS


def test_ga_class_names_are_the_wire_type_in_camel_case() -> None:
    for table in (ev.GA_CLIENT_EVENTS, ev.GA_SERVER_EVENTS):
        for event_type, cls in table.items():
            assert cls.__name__ == camel(event_type)
            assert cls.type == event_type
            assert getattr(ga, cls.__name__) is cls
            assert cls.__name__ in ga.__all__


def test_classes_are_shared_exactly_where_the_wire_shape_is_the_same() -> None:
    both = set(ev.GA_SERVER_EVENTS) & set(ev.SERVER_EVENTS)
    both |= set(ev.GA_CLIENT_EVENTS) & set(ev.CLIENT_EVENTS)
    differ = {
        t
        for t in both
        if ev.GA_SERVER_EVENTS.get(t, ev.GA_CLIENT_EVENTS.get(t))
        is not ev.SERVER_EVENTS.get(t, ev.CLIENT_EVENTS.get(t))
    }
    assert differ == RESHAPED
    assert ga.InputAudioBufferAppend is ev.InputAudioBufferAppend
    assert ga.ResponseFunctionCallArgumentsDone is ev.ResponseFunctionCallArgumentsDone


def test_every_ga_event_type_has_an_example() -> None:
    assert set(GA_SERVER_EXAMPLES) == set(ev.GA_SERVER_EVENTS)
    assert set(GA_CLIENT_EXAMPLES) == set(ev.GA_CLIENT_EVENTS)
    tolerated = {c.type for c in ga.BETA_NAMES_TOLERATED}
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
    wanted = _reachable(ga.CLIENT_EVENT_TYPES + ga.SERVER_EVENT_TYPES + ga.BETA_NAMES_TOLERATED)
    seen: dict[type, set[str]] = {}
    for _, role, message in ALL_MESSAGES:
        _filled(DECODERS[role](json.dumps(message)), seen)
    missing = {
        cls.__name__: sorted(fields - seen.get(cls, set()))
        for cls, fields in wanted.items()
        if cls not in NOT_A_GA_SHAPE and (cls not in seen or fields - seen[cls])
    }
    assert missing == {}
    assert not NOT_A_GA_SHAPE & set(seen)


# -- every example ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role", "message"), ALL_MESSAGES, ids=MESSAGE_IDS)
def test_example_decodes_to_its_class_and_round_trips(
    name: str, role: str, message: dict[str, Any]
) -> None:
    decode = DECODERS[role]
    data = json.dumps(message)
    event = decode(data)
    table = ev.GA_SERVER_EVENTS if role == "server" else ev.GA_CLIENT_EVENTS
    tolerated = {c.type: c for c in ga.BETA_NAMES_TOLERATED} if role == "server" else {}
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
        ga.GAMessageItem,
        ga.FunctionCallItem,
        ga.McpListToolsItem,
        ga.McpApprovalRequestItem,
        ga.McpCallItem,
    ]
    message = done.response.output[0]
    assert isinstance(message, ga.GAMessageItem) and not isinstance(message.content, ev.UnsetType)
    assert isinstance(message.content[0], ga.OutputAudioContent)

    audio = decode_ga_server(json.dumps(ga_server_message("response.output_audio.delta")))
    assert isinstance(audio, ga.ResponseOutputAudioDelta)
    assert audio.delta == bytes(range(256)) * 2
    assert audio.obfuscation == "Qz"

    create = decode_ga_client(json.dumps(ga_client_message("conversation.item.create")))
    assert isinstance(create, ga.ConversationItemCreate)
    assert isinstance(create.item, ga.GAMessageItem)
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
        item=ga.GAMessageItem(
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


# -- real GA traffic ---------------------------------------------------------------------

REAL_GA = Path(__file__).parent / "data" / "ga-sip-bridge.server-events.jsonl"
"""Server messages from ``gpt-realtime`` (Dec 2025), quoted in full in the comments of the
SIP bridge GA.md 13 names ("yonge-liu trace"); one line each, as received."""


@pytest.mark.parametrize("line", REAL_GA.read_bytes().splitlines(), ids=lambda b: str(b[9:45]))
def test_real_ga_traffic_decodes_strictly_and_losslessly(line: bytes) -> None:
    event = decode_ga_server(line, strict=True)
    assert type(event) is ev.GA_SERVER_EVENTS[json.loads(line)["type"]]
    assert json.loads(encode_event(event)) == json.loads(line)
    server_models, _ = _sdk_models()
    server_models[event.type].model_validate_json(line, strict=True)


def test_a_real_ga_session_update_decodes_strictly() -> None:
    # What the same bridge sends (nlohmann::json writes keys in sorted order).
    data = (
        b'{"session":{"instructions":"You are a polite AI assistant on a phone call. Keep '
        b'answers short.","model":"gpt-realtime","output_modalities":["audio"],'
        b'"type":"realtime"},"type":"session.update"}'
    )
    event = decode_ga_client(data, strict=True)
    assert isinstance(event, ga.SessionUpdate)
    assert isinstance(event.session, ga.RealtimeSessionConfig)
    assert event.session.output_modalities == ("audio",)
    assert json.loads(encode_event(event)) == json.loads(data)


# -- the official SDK's GA models (GA.md 11.1) -----------------------------------------


@functools.cache
def _sdk_models() -> tuple[dict[str, Any], dict[str, Any]]:
    realtime = pytest.importorskip("openai.types.realtime")

    def by_type(union: Any) -> dict[str, Any]:
        # The SDK's discriminator is its own marker, not pydantic's: pick the member by type.
        (members, *_) = typing.get_args(union)
        out = {}
        for model in typing.get_args(members):
            (event_type,) = typing.get_args(model.model_fields["type"].annotation)
            out[event_type] = model
        return out

    return by_type(realtime.RealtimeServerEvent), by_type(realtime.RealtimeClientEvent)


def _without_item_references(message: dict[str, Any]) -> dict[str, Any]:
    response = message["response"]
    kept = [i for i in response["input"] if i["type"] != "item_reference"]
    return {**message, "response": {**response, "input": kept}}


SDK_DISAGREEMENTS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]] | None]] = {
    # GA.md 11.1 / 11.2 #10: the pydantic ResponseCreateEvent has no item_reference in
    # response.input (only the TypedDict used for sending does); the rest is checked.
    "response.create": ("item_reference in response.input", _without_item_references),
    # GA.md 11.1 / 11.2 #11: response.audio.output.voice is typed str in the SDK.
    "custom voice in a response": ("custom voice object in a response", None),
    # GA.md 11.1, 11.2 #14: the SDK allows only output_text/output_audio in assistant items.
    "beta part names in a retrieved item": ("beta part names in item content", None),
    # GA.md 11.2 #2: beta streaming names are not in the GA SDK union at all.
    **{
        name: ("beta streaming name in a GA stream", None)
        for name, (_, m) in GA_VARIANTS.items()
        if m["type"] in {c.type for c in ga.BETA_NAMES_TOLERATED}
    },
}


@pytest.mark.parametrize(("name", "role", "message"), ALL_MESSAGES, ids=MESSAGE_IDS)
def test_examples_validate_against_the_sdk_ga_models(
    name: str, role: str, message: dict[str, Any]
) -> None:
    pydantic = pytest.importorskip("pydantic")
    server_models, client_models = _sdk_models()
    model = (server_models if role == "server" else client_models).get(message["type"])
    if name in SDK_DISAGREEMENTS:
        _, fix = SDK_DISAGREEMENTS[name]
        # The exclusion is exact: the SDK does refuse the message as it stands ...
        if model is not None:
            with pytest.raises(pydantic.ValidationError):
                model.model_validate_json(json.dumps(message), strict=True)
        if fix is None:
            return
        message = fix(message)  # ... and accepts it without the disputed part.
    assert model is not None, message["type"]
    model.model_validate_json(json.dumps(message), strict=True)


def _sdk_paths(model: Any, prefix: str = "") -> set[str]:
    """The dotted field paths of an SDK model (list items and union members merged)."""

    def models(annotation: Any) -> list[Any]:
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in models(arg)]

    pydantic = pytest.importorskip("pydantic")
    out: set[str] = set()
    for name, field in model.model_fields.items():
        out.add(prefix + name)
        for member in models(field.annotation):
            out |= _sdk_paths(member, f"{prefix}{name}.")
    return out


def _our_paths(t: mi.Type, prefix: str = "") -> set[str]:
    if isinstance(t, mi.StructType):
        out = {prefix + t.tag_field} if t.tag_field else set()
        for field in t.fields:
            out.add(prefix + field.encode_name)
            out |= _our_paths(field.type, f"{prefix}{field.encode_name}.")
        return out
    if isinstance(t, mi.UnionType):
        return {p for member in t.types for p in _our_paths(member, prefix)}
    if isinstance(t, (mi.VarTupleType, mi.ListType)):
        return _our_paths(t.item_type, prefix)
    return set()


def test_every_field_of_the_sdk_ga_models_is_in_the_vocabulary() -> None:
    server_models, client_models = _sdk_models()
    for models, table in (
        (server_models, ev.GA_SERVER_EVENTS),
        (client_models, ev.GA_CLIENT_EVENTS),
    ):
        assert set(models) == set(table)
        for event_type, model in models.items():
            ours = _our_paths(mi.type_info(table[event_type]))
            # Prompt variables are any JSON here (GA.md 2.1: strings or input objects).
            theirs = {p for p in _sdk_paths(model) if ".prompt.variables." not in p}
            assert theirs - ours == set(), event_type


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
    cls = (ev.GA_SERVER_EVENTS if role == "server" else ev.GA_CLIENT_EVENTS).get(message["type"])
    cls = cls or ev.SERVER_EVENTS[message["type"]]
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
    # GA.md 2.1 and 11.2 #19: clients migrating from beta still send these.
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
    # GA.md 2.9: no output_modalities, instructions, tools, voice or output audio.
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
    # GA.md 2.1: missing_required_parameter, param "session.type" (TanStack/ai#586).
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


TOLERATED = {c.type for c in ga.BETA_NAMES_TOLERATED}
BETA_ONLY_SERVER = sorted(set(ev.SERVER_EVENTS) - set(ev.GA_SERVER_EVENTS) - TOLERATED)
BETA_ONLY_CLIENT = sorted(set(ev.CLIENT_EVENTS) - set(ev.GA_CLIENT_EVENTS))


@pytest.mark.parametrize("event_type", BETA_ONLY_SERVER)
def test_beta_only_server_names_are_unknown_in_ga(event_type: str) -> None:
    message = server_message(event_type)
    event = decode_ga_server(json.dumps(message), strict=True)
    assert isinstance(event, ev.UnknownEvent) and event.payload == message


@pytest.mark.parametrize("event_type", BETA_ONLY_CLIENT)
def test_beta_only_client_names_are_unknown_in_ga(event_type: str) -> None:
    message = client_message(event_type)
    assert isinstance(decode_ga_client(json.dumps(message), strict=True), ev.UnknownEvent)


def test_the_beta_only_names_are_the_ones_ga_dropped() -> None:
    assert BETA_ONLY_SERVER == [
        "transcription_session.created",
        "transcription_session.updated",
    ]
    assert BETA_ONLY_CLIENT == ["transcription_session.update"]
    assert TOLERATED == {
        "response.text.delta",
        "response.text.done",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.delta",
        "response.audio_transcript.done",
    }
    assert not TOLERATED & set(ev.GA_SERVER_EVENTS)


@pytest.mark.parametrize("event_type", sorted(TOLERATED))
def test_tolerated_beta_streaming_names_decode_in_ga(event_type: str) -> None:
    message = server_message(event_type)
    event = decode_ga_server(json.dumps(message), strict=True)
    assert type(event) is ev.SERVER_EVENTS[event_type]
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


# -- bad input ---------------------------------------------------------------------------

REALTIME = {"type": "realtime"}
PART = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}


def _update(**session: Any) -> dict[str, Any]:
    return {"type": "session.update", "event_id": "evt_1", "session": {**REALTIME, **session}}


def _audio_in(**fields: Any) -> dict[str, Any]:
    return _update(audio={"input": fields})


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item}


def _user(*parts: dict[str, Any]) -> dict[str, Any]:
    return _item({"type": "message", "role": "user", "content": list(parts)})


def _out(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "event_id": "e",
        "response_id": "r",
        "output_index": 0,
        "item": item,
    }


MCP_CALL = {"type": "mcp_call", "id": "m", "server_label": "s", "name": "n", "arguments": "{}"}

BAD_GA_INPUTS: list[tuple[str, dict[str, Any], str, str, str]] = [
    # (role, message, path, code, words the message must contain)
    (
        "client",
        _update(type="conversation"),
        "session.type",
        "invalid_value",
        "'realtime', 'transcription'",
    ),
    ("client", _update(type=None), "session.type", "invalid_type", "expected string, got null"),
    ("client", _update(type=["realtime"]), "session.type", "invalid_type", "got array"),
    ("client", _item({"type": {"t": 1}}), "item.type", "invalid_type", "got object"),
    (
        "client",
        _update(tools=[{"type": None, "name": "f"}]),
        "session.tools[0].type",
        "invalid_type",
        "expected string, got null",
    ),
    (
        "client",
        _audio_in(format={"type": "audio/pcm", "rate": 16000}),
        "session.audio.input.format.rate",
        "invalid_value",
        "supported values are: 24000",
    ),
    (
        "client",
        _audio_in(format={"type": "pcm16"}),
        "session.audio.input.format.type",
        "invalid_value",
        "'audio/pcm', 'audio/pcmu', 'audio/pcma'",
    ),
    (
        "client",
        _audio_in(format="pcm16"),
        "session.audio.input.format",
        "invalid_type",
        "expected object or null, got string",
    ),
    (
        "client",
        _audio_in(format={}),
        "session.audio.input.format.type",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "server_vad", "threshold": "high"}),
        "session.audio.input.turn_detection.threshold",
        "invalid_type",
        "expected number or null, got string",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "semantic_vad", "eagerness": "eager"}),
        "session.audio.input.turn_detection.eagerness",
        "invalid_value",
        "'auto', 'high', 'low', 'medium'",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "server_vad", "idle_timeout_ms": 1.5}),
        "session.audio.input.turn_detection.idle_timeout_ms",
        "invalid_type",
        "expected integer or null, got number",
    ),
    (
        "client",
        _audio_in(turn_detection={"threshold": 0.5}),
        "session.audio.input.turn_detection.type",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "push_to_talk"}),
        "session.audio.input.turn_detection.type",
        "invalid_value",
        "'server_vad', 'semantic_vad'",
    ),
    (
        "client",
        _audio_in(noise_reduction={"type": "studio"}),
        "session.audio.input.noise_reduction.type",
        "invalid_value",
        "'far_field', 'near_field'",
    ),
    (
        "client",
        _audio_in(transcription={"delay": "instant"}),
        "session.audio.input.transcription.delay",
        "invalid_value",
        "'xhigh'",
    ),
    (
        "client",
        _audio_in(transcription={"languages": "en"}),
        "session.audio.input.transcription.languages",
        "invalid_type",
        "expected array or null, got string",
    ),
    (
        "client",
        _update(audio={"output": {"voice": 7}}),
        "session.audio.output.voice",
        "invalid_type",
        "expected string or object or null, got integer",
    ),
    (
        "client",
        _update(audio={"output": {"voice": {}}}),
        "session.audio.output.voice.id",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(audio={"output": {"speed": "fast"}}),
        "session.audio.output.speed",
        "invalid_type",
        "expected number or null, got string",
    ),
    (
        "client",
        _update(output_modalities=["text", "video"]),
        "session.output_modalities[1]",
        "invalid_value",
        "'video'",
    ),
    (
        "client",
        _update(max_output_tokens="lots"),
        "session.max_output_tokens",
        "invalid_value",
        "supported values are: 'inf'",
    ),
    (
        "client",
        _update(max_output_tokens=1.5),
        "session.max_output_tokens",
        "invalid_type",
        "expected integer or string or null, got number",
    ),
    (
        "client",
        _update(tracing="on"),
        "session.tracing",
        "invalid_value",
        "supported values are: 'auto'",
    ),
    (
        "client",
        _update(tracing={"group_id": 1}),
        "session.tracing.group_id",
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "client",
        _update(truncation="sometimes"),
        "session.truncation",
        "invalid_value",
        "'auto', 'disabled'",
    ),
    (
        "client",
        _update(truncation={"type": "retention_ratio"}),
        "session.truncation.retention_ratio",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(
            truncation={
                "type": "retention_ratio",
                "retention_ratio": 0.5,
                "token_limits": {"post_instructions": "many"},
            }
        ),
        "session.truncation.token_limits.post_instructions",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "client",
        _update(prompt={"version": "1"}),
        "session.prompt.id",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(reasoning={"effort": "max"}),
        "session.reasoning.effort",
        "invalid_value",
        "'minimal'",
    ),
    (
        "client",
        _update(include=[1]),
        "session.include[0]",
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "client",
        _update(tools=[{"type": "code_interpreter"}]),
        "session.tools[0].type",
        "invalid_value",
        "'function', 'mcp'",
    ),
    (
        "client",
        _update(tools=[{"type": "mcp"}]),
        "session.tools[0].server_label",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(tools=[{"type": "mcp", "server_label": "x", "require_approval": "sometimes"}]),
        "session.tools[0].require_approval",
        "invalid_value",
        "'always', 'never'",
    ),
    (
        "client",
        _update(tools=[{"type": "mcp", "server_label": "x", "allowed_callers": ["robot"]}]),
        "session.tools[0].allowed_callers[0]",
        "invalid_value",
        "'direct', 'programmatic'",
    ),
    (
        "client",
        _update(tools=[{"type": "function", "parameters": []}]),
        "session.tools[0].parameters",
        "invalid_type",
        "expected object, got array",
    ),
    (
        "client",
        _update(tool_choice={"type": "function"}),
        "session.tool_choice.name",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(tool_choice={"type": "file_search"}),
        "session.tool_choice.type",
        "invalid_value",
        "'function', 'mcp'",
    ),
    (
        "client",
        _user({"type": "input_image", "image_url": "x", "detail": "ultra"}),
        "item.content[0].detail",
        "invalid_value",
        "'auto', 'high', 'low'",
    ),
    (
        "client",
        _user({"type": "output_image"}),
        "item.content[0].type",
        "invalid_value",
        "'input_image'",
    ),
    (
        "client",
        _item(
            {
                "type": "mcp_approval_response",
                "id": "a",
                "approval_request_id": "b",
                "approve": "yes",
            }
        ),
        "item.approve",
        "invalid_type",
        "expected boolean, got string",
    ),
    (
        "client",
        _item({"type": "item_reference", "id": "a"}),
        "item.type",
        "invalid_value",
        "'mcp_approval_response'",
    ),
    (
        "client",
        {"type": "response.create", "response": {"input": [{"type": "item_reference"}]}},
        "response.input[0].id",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        {"type": "response.create", "response": {"conversation": 5}},
        "response.conversation",
        "invalid_type",
        "expected string or null, got integer",
    ),
    (
        "client",
        {"type": "response.create", "response": {"metadata": {"k": 1}}},
        "response.metadata[...]",  # msgspec names no dict key
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "client",
        {"type": "response.create", "response": {"audio": {"output": {"format": {"type": "mp3"}}}}},
        "response.audio.output.format.type",
        "invalid_value",
        "'audio/pcm'",
    ),
    (
        "client",
        {"type": "input_audio_buffer.append", "audio": "***"},
        "audio",
        "invalid_value",
        "invalid base64",
    ),
    (
        "client",
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": "1",
        },
        "audio_end_ms",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        {"type": "response.output_audio.delta", "event_id": "e", **PART, "delta": "not base64!"},
        "delta",
        "invalid_value",
        "invalid base64",
    ),
    (
        "server",
        {
            "type": "response.output_audio.delta",
            "event_id": "e",
            **PART,
            "delta": "QUJD",
            "obfuscation": 5,
        },
        "obfuscation",
        "invalid_type",
        "expected string or null, got integer",
    ),
    (
        "server",
        {
            "type": "response.output_text.delta",
            "event_id": "e",
            **PART,
            "output_index": "0",
            "delta": "x",
        },
        "output_index",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        {"type": "input_audio_buffer.dtmf_event_received", "event": "1", "received_at": "now"},
        "received_at",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        {"type": "input_audio_buffer.dtmf_event_received", "received_at": 1},
        "event",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "server",
        _out({**MCP_CALL, "error": {"type": "timeout"}}),
        "item.error.type",
        "invalid_value",
        "'protocol_error', 'tool_execution_error', 'http_error'",
    ),
    (
        "server",
        _out({**MCP_CALL, "error": {"type": "http_error", "code": "500", "message": "x"}}),
        "item.error.code",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        _out({"type": "mcp_list_tools", "server_label": "s", "tools": [{"name": "t"}]}),
        "item.tools[0].input_schema",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "server",
        _out({"type": "mcp_approval_request", "id": "a", "server_label": "s", "name": "n"}),
        "item.arguments",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "server",
        {
            "type": "response.done",
            "event_id": "e",
            "response": {"id": "r", "status": "done", "output": []},
        },
        "response.status",
        "invalid_value",
        "'cancelled', 'completed'",
    ),
    (
        "server",
        {
            "type": "response.done",
            "event_id": "e",
            "response": {
                "id": "r",
                "status": "completed",
                "output": [],
                "max_output_tokens": "all",
            },
        },
        "response.max_output_tokens",
        "invalid_value",
        "'inf'",
    ),
    (
        "server",
        {
            "type": "session.created",
            "event_id": "e",
            "session": {"type": "realtime", "object": "realtime.transcription_session"},
        },
        "session.object",
        "invalid_value",
        "'realtime.session'",
    ),
    (
        "server",
        {
            "type": "response.content_part.added",
            "event_id": "e",
            **PART,
            "part": {"type": "output_image"},
        },
        "part.type",
        "invalid_value",
        "'text', 'audio'",
    ),
    (
        "server",
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "i",
            "content_index": 0,
            "transcript": "x",
            "usage": {"type": "minutes"},
        },
        "usage.type",
        "invalid_value",
        "'tokens', 'duration'",
    ),
    (
        "server",
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "i",
            "content_index": 0,
            "transcript": "x",
            "languages": [{"code": 1}],
        },
        "languages[0].code",
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "server",
        {"type": "response.mcp_call.in_progress", "event_id": "e", "item_id": "m"},
        "output_index",
        "missing_required_parameter",
        "missing required field",
    ),
]


@pytest.mark.parametrize(
    ("role", "message", "path", "code", "words"),
    BAD_GA_INPUTS,
    ids=[f"{row[2]}-{row[3]}" for row in BAD_GA_INPUTS],
)
def test_bad_ga_input_raises_decode_error_naming_the_path(
    role: str, message: dict[str, Any], path: str, code: str, words: str
) -> None:
    for strict in (False, True):
        with pytest.raises(DecodeError) as info:
            DECODERS[role](json.dumps(message), strict=strict)
        err = info.value
        assert (err.path, err.code) == (path, code)
        assert words in str(err) and str(err).startswith(f"{path}: ")
        assert err.event_type == message["type"]
        assert err.event_id == message.get("event_id")


def test_bad_base64_in_an_output_audio_delta() -> None:
    message = ga_server_message("response.output_audio.delta")
    for bad in ("not base64!", PCM[:-1], PCM + "=", PCM[:100] + "*" + PCM[101:], "QUJD\\n"):
        message["delta"] = bad
        with pytest.raises(DecodeError) as info:
            decode_ga_server(json.dumps(message))
        err = info.value
        assert (err.path, err.code, err.reason) == ("delta", "invalid_value", "invalid base64")
        assert err.event_id == "event_000000000000000000001"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_any_bytes_like_input_decodes_as_bytes(dialect: str) -> None:
    audio = _fast_message("response.output_audio.delta", "delta", BIG).encode()
    beta_audio = audio.replace(b"output_audio", b"audio")
    messages = [audio, beta_audio, json.dumps(ga_server_message("response.done")).encode()]
    messages += [b'{"type":"input_audio_buffer.cleared","event_id":"e"}', b"{bad", b"[" * 100]
    for data in messages:
        expected = _outcome(lambda d, strict: _decode("server", dialect, d, strict), data, False)
        for form in (bytearray(data), memoryview(data)):
            got = _outcome(lambda d, strict: _decode("server", dialect, d, strict), form, False)
            assert got == expected
    for wrong in (None, 5, [b"{}"]):
        with pytest.raises(TypeError):
            _decode("client", dialect, wrong)  # type: ignore[arg-type]


# -- the nesting limit -----------------------------------------------------------------

LIMIT = ev.MAX_NESTING_DEPTH
KNOWN = {
    ("server", "ga"): '{"type":"input_audio_buffer.cleared","event_id":"e","x":%s}',
    ("server", "beta"): '{"type":"input_audio_buffer.cleared","event_id":"e","x":%s}',
    ("client", "ga"): '{"type":"input_audio_buffer.commit","x":%s}',
    ("client", "beta"): '{"type":"input_audio_buffer.commit","x":%s}',
}
ROLES_AND_DIALECTS = sorted(KNOWN)


def _decode(role: str, dialect: str, data: bytes | str, strict: bool = False) -> Any:
    decode = ev.decode_server_event if role == "server" else ev.decode_client_event
    return decode(data, dialect=dialect, strict=strict)


def _nested(depth: int, inner: str = "1", opener: str = "[") -> str:
    """A JSON value ``depth`` levels deep, alternating arrays and objects."""
    out = inner
    for level in range(depth):
        out = f"[{out}]" if (level % 2 == 0) == (opener == "[") else f'{{"k":{out}}}'
    return out


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
def test_nesting_up_to_the_limit_decodes_and_beyond_it_is_refused(role: str, dialect: str) -> None:
    for opener in "[{":
        # The message's own object is the first level.
        fits = KNOWN[role, dialect] % _nested(LIMIT - 1, opener=opener)
        event = _decode(role, dialect, fits)
        assert json.loads(encode_event(event)) == json.loads(fits)
        too_deep = KNOWN[role, dialect] % _nested(LIMIT, opener=opener)
        for data in (too_deep, too_deep.encode()):
            for strict in (False, True):
                with pytest.raises(DecodeError, match=f"nested deeper than {LIMIT} levels"):
                    _decode(role, dialect, data, strict)


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
def test_a_bracket_bomb_is_a_decode_error_not_a_recursion_error(role: str, dialect: str) -> None:
    for data in ("[" * 100_000, "{" * 50_000, '{"a":' * 50_000, "[" * 100_000 + "]" * 100_000):
        with pytest.raises(DecodeError):
            _decode(role, dialect, data)
    unknown_type = '{"type":"no.such.event","x":' + _nested(200) + "}"
    with pytest.raises(DecodeError):
        _decode(role, dialect, unknown_type)


TRICKY_STRINGS = [
    "[" * 200,
    "{" * 200,
    '"[[[[' * 50,  # escaped quotes do not end the string
    "\\" + "[" * 100,  # an escaped backslash before brackets
    '\\\\"' + "{" * 100,  # backslashes and a quote
    "]" * 100 + "[" * 100,
]


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=range(len(TRICKY_STRINGS)))
def test_brackets_inside_strings_do_not_count(role: str, dialect: str, text: str) -> None:
    string = json.dumps(text)
    fits = KNOWN[role, dialect] % f"[{string},{{{string}:{_nested(LIMIT - 3, string)}}}]"
    assert fits.count("[") + fits.count("{") > LIMIT
    event = _decode(role, dialect, fits, strict=False)
    assert json.loads(encode_event(event)) == json.loads(fits)
    too_deep = KNOWN[role, dialect] % f"[{string},{{{string}:{_nested(LIMIT - 2, string)}}}]"
    with pytest.raises(DecodeError, match="nested deeper"):
        _decode(role, dialect, too_deep)


def test_deep_json_schema_in_a_typed_field() -> None:
    # A tool's parameters are any JSON Schema: nesting there counts like anywhere else.
    # Levels: message, session, tools, tool, parameters: the schema starts at level 5.
    def update(depth: int) -> str:
        schema = _nested(depth - 5, opener="{")
        return (
            '{"type":"session.update","session":{"type":"realtime","tools":'
            '[{"type":"function","name":"f","parameters":{"x":' + schema + "}}]}}"
        )

    event = decode_ga_client(update(LIMIT), strict=True)
    assert isinstance(event, ga.SessionUpdate)
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_ga_client(update(LIMIT + 1), strict=True)


MARKED_BOMBS = {
    # A large message holding the audio fast path's marker (in a schema, where any JSON
    # goes) and a bracket bomb: the fast path must not hand the bomb to the parser.
    ("client", "ga"): '{"type":"session.update","session":{"type":"realtime","tools":'
    '[{"type":"function","parameters":{"audio":"%s","x":%s}}]}}',
    ("client", "beta"): '{"type":"session.update","session":{"tools":'
    '[{"name":"f","parameters":{"audio":"%s","x":%s}}]}}',
    ("server", "ga"): '{"type":"session.updated","event_id":"e","session":{"type":"realtime",'
    '"tools":[{"type":"function","parameters":{"delta":"%s","x":%s}}]}}',
    ("server", "beta"): '{"type":"session.updated","event_id":"e","session":{"id":"s",'
    '"tools":[{"name":"f","parameters":{"delta":"%s","x":%s}}]}}',
}


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
def test_a_bracket_bomb_behind_the_audio_marker_is_a_decode_error(role: str, dialect: str) -> None:
    template = MARKED_BOMBS[role, dialect]
    fits = template % (BIG, _nested(LIMIT - 5))  # the schema is at level 5
    assert _decode(role, dialect, fits, strict=True).type.startswith("session.update")
    for depth in (LIMIT - 4, 5000):
        with pytest.raises(DecodeError, match="nested deeper"):
            _decode(role, dialect, template % (BIG, _nested(depth)))


def test_deep_nesting_in_a_large_audio_message_is_refused() -> None:
    head = {"type": "response.output_audio.delta", "event_id": "e", **PART}
    fits = json.dumps({**head, "x": json.loads(_nested(LIMIT - 1)), "delta": BIG})
    assert len(fits) > 2048
    assert isinstance(decode_ga_server(fits), ga.ResponseOutputAudioDelta)
    too_deep = json.dumps({**head, "x": json.loads(_nested(LIMIT)), "delta": BIG})
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_ga_server(too_deep)
    # Brackets inside strings of an audio message do not count either.
    noisy = json.dumps({**head, "obfuscation": "[" * 500, "delta": BIG})
    event = decode_ga_server(noisy)
    assert isinstance(event, ga.ResponseOutputAudioDelta) and event.obfuscation == "[" * 500


# -- the GA audio fast path agrees with the JSON parser ---------------------------------
# As tests/test_audio_fast_path.py does for beta: each message is decoded as written
# (the fast path when it can) and with a space after the audio field's colon (never).


def _audio(n: int) -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(n))


BIG = base64.b64encode(_audio(3000)).decode()
FAST_KINDS = [
    pytest.param("server", "response.output_audio.delta", "delta", id="output_audio"),
    pytest.param("client", "input_audio_buffer.append", "audio", id="append"),
    # The tolerated beta name: the marker matches, the shell is another class.
    pytest.param("server", "response.audio.delta", "delta", id="beta-name"),
]


def _fast_message(event_type: str, field: str, b64: str, *, last: bool = True, **extra: Any) -> str:
    fields: dict[str, Any] = {"event_id": "event_1"}
    if event_type != "input_audio_buffer.append":
        fields.update(PART)
    if event_type == "response.output_audio.delta":
        fields["obfuscation"] = "x9Qz"
    body = {"type": event_type, **fields, **extra}
    head = json.dumps(body, separators=(",", ":"))[:-1]
    audio = f'"{field}":"{b64}"'
    if last:
        return head + "," + audio + "}"
    return '{"type":"' + event_type + '",' + audio + "," + head[len(event_type) + 11 :] + "}"


def _reference(message: bytes | str, field: str) -> bytes | str:
    if isinstance(message, bytes):
        return message.replace(f'"{field}":"'.encode(), f'"{field}": "'.encode())
    return message.replace(f'"{field}":"', f'"{field}": "')


def _outcome(decode: Decoder, message: bytes | str, strict: bool) -> Any:
    try:
        event = decode(message, strict=strict)
    except DecodeError as err:
        return ("error", err.code, err.path, err.event_id, re.sub(r"byte \d+", "byte N", str(err)))
    return ("event", type(event), event, unknown_fields(event))


def _check(role: str, field: str, message: str) -> Any:
    assert len(message) >= 2048, "too short to take the fast path"
    decode = DECODERS[role]
    for strict in (False, True):
        for form in (message, message.encode()):
            assert _outcome(decode, form, strict) == _outcome(
                decode, _reference(form, field), strict
            )
    return _outcome(decode, message, False)


@pytest.mark.parametrize(("role", "event_type", "field"), FAST_KINDS)
@given(
    audio=st.integers(min_value=1600, max_value=6000).map(lambda n: _audio(n - n % 2)),
    last=st.booleans(),
)
def test_valid_ga_audio_messages_agree(
    role: str, event_type: str, field: str, audio: bytes, last: bool
) -> None:
    text = _fast_message(event_type, field, base64.b64encode(audio).decode(), last=last)
    outcome = _check(role, field, text)
    assert outcome[0] == "event" and outcome[1].type == event_type
    assert getattr(outcome[2], field) == audio and outcome[3] == {}


@pytest.mark.parametrize(("role", "event_type", "field"), FAST_KINDS)
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("escaped slash", lambda t, f: _fast_message(t, f, BIG.replace("/", "\\/"))),
        ("bad base64 character", lambda t, f: _fast_message(t, f, BIG[:100] + "*" + BIG[101:])),
        ("bad padding", lambda t, f: _fast_message(t, f, BIG + "=")),
        ("unknown field", lambda t, f: _fast_message(t, f, BIG, extra_field={"x": 1})),
        ("nested marker first", lambda t, f: _fast_message(t, f, BIG, a={f: "QUJD"})),
        ("nested marker last", lambda t, f: _fast_message(t, f, BIG, last=False, z={f: "QUJD"})),
        ("duplicate field", lambda t, f: _fast_message(t, f, BIG)[:-1] + f',"{f}":"QUJD"' + "}"),
        ("non-ASCII elsewhere", lambda t, f: _fast_message(t, f, BIG, event_id="évènement")),
        ("wrong field type", lambda t, f: _fast_message(t, f, BIG, event_id=7)),
        ("null obfuscation", lambda t, f: _fast_message(t, f, BIG, obfuscation=None)),
        ("marker in obfuscation", lambda t, f: _fast_message(t, f, BIG, obfuscation=f'"{f}":"')),
        ("not JSON after the payload", lambda t, f: _fast_message(t, f, BIG)[:-1] + ",}"),
        ("unterminated payload", lambda t, f: _fast_message(t, f, BIG)[:-2]),
    ],
)
def test_unusual_ga_audio_messages_agree(
    role: str, event_type: str, field: str, name: str, make: Callable[[str, str], str]
) -> None:
    _check(role, field, make(event_type, field))


def test_the_ga_fast_path_builds_a_fresh_event_each_time() -> None:
    message = _fast_message("response.output_audio.delta", "delta", BIG).encode()
    first, second = decode_ga_server(message), decode_ga_server(message)
    assert isinstance(first, ga.ResponseOutputAudioDelta)
    assert first == second and first is not second
    assert first.delta == _audio(3000) and first.obfuscation == "x9Qz"


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


SERVER_TYPES = set(ev.GA_SERVER_EVENTS) | {c.type for c in ga.BETA_NAMES_TOLERATED}


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


@given(json_objects(set(ev.GA_SERVER_EVENTS) | set(ev.GA_CLIENT_EVENTS)), st.booleans())
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
