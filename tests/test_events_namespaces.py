"""The namespaces of the vocabulary tell the truth (issue 17).

``rtcore.events.ga`` and ``rtcore.events.beta`` each hold their dialect's
whole vocabulary under the wire's plain names; a class whose wire shape is the
same in both is the same object in both; ``rtcore.events`` holds only what the
two share, so a name that differs between the dialects is an AttributeError
there. Client events given a dict where they take a session, an item or
response parameters convert it through their own dialect's types, with the
codec's errors.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from examples import client_message, server_message
from ga_examples import ga_client_message, ga_server_message

import rtcore.events as ev
from rtcore.events import DecodeError, Dialect, EventBase, beta, encode_event, ga

NAMESPACES: dict[str, types.ModuleType] = {"ga": ga, "beta": beta}


def _public(module: types.ModuleType) -> list[str]:
    names: list[str] = module.__all__
    return names


# -- ga.MessageItem is GA's, beta.MessageItem beta's ------------------------------


def test_ga_message_item_writes_ga_parts() -> None:
    item = ga.MessageItem(role="assistant", content=(ga.OutputTextContent(text="hi"),))
    data = encode_event(ga.ConversationItemCreate(item=item))
    assert json.loads(data)["item"]["content"] == [{"type": "output_text", "text": "hi"}]
    decoded = ev.decode_client_event(data, dialect="ga")
    assert isinstance(decoded, ga.ConversationItemCreate)
    assert type(decoded.item) is ga.MessageItem and decoded.item == item
    audio = ga.MessageItem(role="assistant", content=(ga.OutputAudioContent(transcript="hi"),))
    wire = json.loads(encode_event(ga.ConversationItemCreate(item=audio)))
    assert wire["item"]["content"] == [{"type": "output_audio", "transcript": "hi"}]


def test_beta_message_item_writes_beta_parts() -> None:
    item = beta.MessageItem(role="assistant", content=(beta.TextContent(text="hi"),))
    data = encode_event(beta.ConversationItemCreate(item=item))
    assert json.loads(data)["item"]["content"] == [{"type": "text", "text": "hi"}]
    decoded = ev.decode_client_event(data, dialect="beta")
    assert isinstance(decoded, beta.ConversationItemCreate)
    assert type(decoded.item) is beta.MessageItem and decoded.item == item
    assert ga.MessageItem is not beta.MessageItem
    assert not hasattr(beta, "OutputTextContent")


def test_ga_session_update_carries_a_ga_session() -> None:
    update = ga.SessionUpdate(session=ga.RealtimeSessionConfig(instructions="x"))
    assert json.loads(encode_event(update))["session"] == {"type": "realtime", "instructions": "x"}
    assert ga.SessionConfig != beta.SessionConfig
    assert "voice" in beta.SessionConfig.__struct_fields__
    assert "voice" not in ga.RealtimeSessionConfig.__struct_fields__


# -- shared classes are the same objects -------------------------------------------


def test_the_package_holds_exactly_what_both_dialects_share() -> None:
    dialect_names = set(_public(ga)) & set(_public(beta))
    for name in _public(ev):
        if name in ("ga", "beta"):
            continue
        value = getattr(ev, name)
        if name in dialect_names:
            # In both namespaces, and the very same object there.
            assert getattr(ga, name) is value, name
            assert getattr(beta, name) is value, name
        else:
            # Not vocabulary of either dialect: the codec, base classes, type aliases.
            is_struct = isinstance(value, type) and issubclass(value, msgspec.Struct)
            assert not is_struct or value in (EventBase, ev.UnknownEvent), name
    for name in dialect_names - set(_public(ev)):
        # Every name both dialects use but not for the same thing stays out of the package.
        assert getattr(ga, name) is not getattr(beta, name), name


def test_classes_with_the_same_wire_shape_are_shared() -> None:
    for cls in (
        ev.ErrorEvent,
        ev.InputAudioBufferAppend,
        ev.ResponseCancel,
        ev.ResponseContentPartAdded,
        ev.FunctionCallItem,
        ev.Usage,
        ev.TextContent,
        ev.TracingConfig,
    ):
        assert getattr(ga, cls.__name__) is cls
        assert getattr(beta, cls.__name__) is cls


@pytest.mark.parametrize(
    "name",
    ["SessionUpdate", "MessageItem", "Session", "Item", "ResponseCreate", "TurnDetection"],
)
def test_a_name_that_differs_by_dialect_fails_loudly_at_the_package(name: str) -> None:
    assert hasattr(ga, name) and hasattr(beta, name)
    with pytest.raises(AttributeError, match=name):
        getattr(ev, name)


def test_ga_does_not_hold_the_beta_names_it_tolerates() -> None:
    for cls in ga.TOLERATED_EVENT_TYPES:
        assert not hasattr(ga, cls.__name__), cls
        assert getattr(beta, cls.__name__) is cls
        assert cls.type not in ga.SERVER_EVENTS


# -- every name in a namespace is of that dialect -----------------------------------


EXAMPLES: dict[Dialect, dict[str, Callable[[str], dict[str, Any]]]] = {
    "ga": {"client": ga_client_message, "server": ga_server_message},
    "beta": {"client": client_message, "server": server_message},
}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_every_event_class_of_a_namespace_decodes_in_its_dialect(dialect: Dialect) -> None:
    namespace = NAMESPACES[dialect]
    events = {
        name: value
        for name in _public(namespace)
        if isinstance(value := getattr(namespace, name), type)
        and issubclass(value, EventBase)
        and value not in (ev.ClientEvent, ev.ServerEvent)
    }
    tables = {"client": namespace.CLIENT_EVENTS, "server": namespace.SERVER_EVENTS}
    decoders = {"client": ev.decode_client_event, "server": ev.decode_server_event}
    assert set(events.values()) == set(tables["client"].values()) | set(tables["server"].values())
    for role in ("client", "server"):
        for event_type, cls in tables[role].items():
            event = decoders[role](json.dumps(EXAMPLES[dialect][role](event_type)), dialect=dialect)
            assert type(event) is cls
            assert type(decoders[role](encode_event(event), dialect=dialect)) is cls


def _reachable(classes: list[type]) -> set[type]:
    """Every struct class that the given classes' fields can hold, at any depth."""
    seen: set[type] = set()

    def walk(t: mi.Type) -> None:
        if isinstance(t, mi.StructType):
            if t.cls in seen:
                return
            seen.add(t.cls)
            for field in t.fields:
                walk(field.type)
        elif isinstance(t, mi.UnionType):
            for member in t.types:
                walk(member)
        elif isinstance(t, (mi.VarTupleType, mi.ListType)):
            walk(t.item_type)
        elif isinstance(t, mi.DictType):
            walk(t.value_type)

    for cls in classes:
        walk(mi.type_info(cls))
    return seen


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_every_object_class_of_a_namespace_is_used_by_its_dialect(dialect: Dialect) -> None:
    namespace = NAMESPACES[dialect]
    events = list(namespace.CLIENT_EVENT_TYPES + namespace.SERVER_EVENT_TYPES)
    used = _reachable(events)
    for name in _public(namespace):
        value = getattr(namespace, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            if value in (ev.ClientEvent, ev.ServerEvent):
                continue
            assert value in used, f"{dialect}.{name} is not reachable from {dialect}'s events"


_DIALECT_WORD = re.compile(r"^(GA|Ga|BETA|Beta)(?=[A-Z_]|$)|(GA|Ga|BETA|Beta)$|_(GA|BETA)_")


def test_no_public_name_names_its_dialect() -> None:
    modules = [ev] + [
        importlib.import_module(f"rtcore.events.{info.name}")
        for info in pkgutil.iter_modules(ev.__path__)
    ]
    assert ga in modules and beta in modules
    for module in modules:
        names = set(getattr(module, "__all__", ())) | {n for n in vars(module) if n[0] != "_"}
        for name in names:
            if isinstance(getattr(module, name), types.ModuleType):
                continue
            assert not _DIALECT_WORD.search(name), f"{module.__name__}.{name}"


# -- a dict where an object is expected -------------------------------------------


def test_ga_item_given_as_a_dict_is_read_as_ga_json() -> None:
    event = ga.ConversationItemCreate(
        item={
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "hi"}],
        }
    )
    typed = ga.ConversationItemCreate(
        item=ga.MessageItem(role="assistant", content=(ga.OutputTextContent(text="hi"),))
    )
    assert event == typed
    assert encode_event(event) == encode_event(typed)
    assert type(event.item) is ga.MessageItem


def test_beta_item_given_as_a_dict_is_read_as_beta_json() -> None:
    event = beta.ConversationItemCreate(
        item={"type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}]}
    )
    assert event.item == beta.MessageItem(role="assistant", content=(beta.TextContent(text="hi"),))


def test_a_dict_may_hold_typed_objects() -> None:
    event = ga.ConversationItemCreate(
        item={"type": "message", "role": "user", "content": [ga.InputTextContent(text="hi")]}
    )
    assert event.item == ga.MessageItem(role="user", content=(ga.InputTextContent(text="hi"),))


def test_sessions_and_response_params_as_dicts() -> None:
    update = ga.SessionUpdate(session={"type": "realtime", "audio": {"output": {"voice": "ash"}}})
    assert update.session == ga.RealtimeSessionConfig(
        audio=ga.AudioConfig(output=ga.AudioOutput(voice="ash"))
    )
    assert beta.SessionUpdate(session={"voice": "ash"}).session == beta.SessionConfig(voice="ash")
    assert ga.ResponseCreate(response={"instructions": "x"}).response == ga.ResponseParams(
        instructions="x"
    )
    assert beta.ResponseCreate(response={"temperature": 0.8}).response == beta.ResponseParams(
        temperature=0.8
    )
    transcription = beta.TranscriptionSessionUpdate(session={"input_audio_format": "pcm16"})
    assert transcription.session == beta.TranscriptionSessionConfig(input_audio_format="pcm16")
    assert ga.ResponseCreate(response=None).response is None


@pytest.mark.parametrize(
    ("build", "path", "code"),
    [
        # The GA server's own answer to a beta-shaped session (issue 17).
        (
            lambda: ga.SessionUpdate(session={"voice": "ash"}),
            "session.type",
            "missing_required_parameter",
        ),
        (
            lambda: ga.ConversationItemCreate(
                item={"type": "message", "role": "assistant", "content": [{"type": "bogus"}]}
            ),
            "item.content[0].type",
            "invalid_value",
        ),
        (
            lambda: ga.ConversationItemCreate(
                item={"type": "message", "role": "user", "colour": 1}
            ),
            "item.colour",
            "unknown_parameter",
        ),
        (
            lambda: beta.ConversationItemCreate(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": 3}],
                }
            ),
            "item.content[0].text",
            "invalid_type",
        ),
        (
            lambda: ga.ResponseCreate(response={"output_modalities": "text"}),
            "response.output_modalities",
            "invalid_type",
        ),
    ],
)
def test_a_bad_dict_raises_the_codecs_error_naming_the_path(
    build: Any, path: str, code: str
) -> None:
    with pytest.raises(DecodeError) as raised:
        build()
    assert raised.value.path == path
    assert raised.value.code == code
    assert str(raised.value).startswith(f"{path}: ")


def test_a_bad_dict_error_carries_the_event_id_and_type() -> None:
    with pytest.raises(DecodeError) as raised:
        beta.ConversationItemCreate(event_id="evt_7", item={"type": "message"})
    assert raised.value.event_id == "evt_7"
    assert raised.value.event_type == "conversation.item.create"
    assert raised.value.path == "item.role"


def test_decoding_is_unchanged_by_the_dict_rule() -> None:
    message = json.dumps(ga_client_message("conversation.item.create"))
    event = ev.decode_client_event(message, dialect="ga")
    assert type(event) is ga.ConversationItemCreate
    assert isinstance(event.item, msgspec.Struct)


# -- the package itself ---------------------------------------------------------------


def test_import_rtcore_in_a_fresh_interpreter() -> None:
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    probe = (
        "import rtcore, rtcore.events.codec as codec\n"
        "from rtcore.events import ga, beta\n"
        "assert ga.MessageItem is not beta.MessageItem\n"
        # The decoding tables are made on first use, not by the import.
        "assert not codec._SERVER_TABLES and not codec._CLIENT_TABLES\n"
        'rtcore.decode_server_event(b\'{"type": "x"}\')\n'
        "assert list(codec._SERVER_TABLES) == ['ga']\n"
        "print(rtcore.__version__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_an_unknown_dialect_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown dialect 'v2'"):
        ev.decode_server_event(b"{}", dialect="v2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown dialect"):
        ev.decode_client_event(b"{}", dialect="GA")  # type: ignore[arg-type]
