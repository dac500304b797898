"""GA events against real GA traffic and the official SDK's GA models
(docs/protocol/ga.md#sdk-types).

Real ``gpt-realtime`` server messages decode strictly and losslessly; every GA example validates
against ``openai.types.realtime`` (openai 3.57.0), the model picked by ``type`` from the
``RealtimeServerEvent`` / ``RealtimeClientEvent`` unions as docs/protocol/ga.md#sdk-types advises,
except exactly where docs/protocol/choices.md#disagreements records where the SDK disagrees with the
docs or the live server; and every field those models define is a field of the vocabulary.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec.inspect as mi
import pytest
from ga_examples import GA_VARIANTS, all_ga_messages

from rtcore import events as ev
from rtcore.events import encode_event, ga


def decode_ga_server(data: bytes | str, strict: bool = False) -> Any:
    return ev.decode_server_event(data, dialect="ga", strict=strict)


def decode_ga_client(data: bytes | str, strict: bool = False) -> Any:
    return ev.decode_client_event(data, dialect="ga", strict=strict)


ALL_MESSAGES = all_ga_messages()
MESSAGE_IDS = [name for name, _, _ in ALL_MESSAGES]

# -- real GA traffic ---------------------------------------------------------------------

REAL_GA = Path(__file__).parent / "data" / "ga-sip-bridge.server-events.jsonl"
"""Server messages from ``gpt-realtime`` (Dec 2025), quoted in full in the comments of the
SIP bridge docs/protocol/index.md#sources names ("yonge-liu trace"); one line each, as received."""


@pytest.mark.parametrize("line", REAL_GA.read_bytes().splitlines(), ids=lambda b: str(b[9:45]))
def test_real_ga_traffic_decodes_strictly_and_losslessly(line: bytes) -> None:
    event = decode_ga_server(line, strict=True)
    assert type(event) is ga.SERVER_EVENTS[json.loads(line)["type"]]
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


# -- the official SDK's GA models (docs/protocol/ga.md#sdk-types) ------------------------


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
    # docs/protocol/ga.md#sdk-types, docs/protocol/choices.md#item-reference: the pydantic
    # ResponseCreateEvent has no item_reference in response.input (only the TypedDict used for
    # sending does); the rest is checked.
    "response.create": ("item_reference in response.input", _without_item_references),
    # docs/protocol/ga.md#sdk-types, docs/protocol/choices.md#custom-voice-in-response:
    # response.audio.output.voice is typed str in the SDK.
    "custom voice in a response": ("custom voice object in a response", None),
    # docs/protocol/ga.md#sdk-types, docs/protocol/choices.md#beta-part-names-in-items: the SDK
    # allows only output_text/output_audio in assistant items.
    "beta part names in a retrieved item": ("beta part names in item content", None),
    # docs/protocol/choices.md#beta-names-in-ga: beta streaming names are not in the GA SDK union at
    # all.
    **{
        name: ("beta streaming name in a GA stream", None)
        for name, (_, m) in GA_VARIANTS.items()
        if m["type"] in {c.type for c in ga.TOLERATED_EVENT_TYPES}
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
        (server_models, ga.SERVER_EVENTS),
        (client_models, ga.CLIENT_EVENTS),
    ):
        assert set(models) == set(table)
        for event_type, model in models.items():
            ours = _our_paths(mi.type_info(table[event_type]))
            # Prompt variables are any JSON here (docs/protocol/ga.md#session: strings or input
            # objects).
            theirs = {p for p in _sdk_paths(model) if ".prompt.variables." not in p}
            assert theirs - ours == set(), event_type
