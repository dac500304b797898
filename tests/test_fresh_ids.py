"""Ids the server mints skip ids a client chose (``rtcore.server.core.FreshIds``).

A client names its items and function calls; with ``SequentialIds`` it can take the very id the
server would mint next. Before, the server then built an item that already existed and raised
``LocalProtocolError("the server built an inconsistent event")`` out of ``receive_message``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from serverkit import silence, tone

from rtcore import SequentialIds
from rtcore.server import ServerSession, StartResponse
from rtcore.server.core import FreshIds


def user_text(item_id: str | None = None, text: str = "hi") -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    return {"type": "conversation.item.create", "item": item}


def sent(server: ServerSession) -> list[dict[str, Any]]:
    return [json.loads(m) for m in server.messages_to_send()]


def item_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["item"]["id"] for e in events if e["type"] == "conversation.item.added"]


def test_an_item_without_an_id_after_one_named_as_the_server_would() -> None:
    server = ServerSession(id_factory=SequentialIds())
    sent(server)
    server.receive_message(json.dumps(user_text("item_1")))
    server.receive_message(json.dumps(user_text()))
    server.receive_message(json.dumps(user_text("item_3")))
    server.receive_message(json.dumps(user_text()))
    events = sent(server)
    assert all(e["type"] != "error" for e in events)
    assert item_ids(events) == ["item_1", "item_2", "item_3", "item_4"]
    assert tuple(server.state.order) == ("item_1", "item_2", "item_3", "item_4")


def test_a_response_skips_item_and_call_ids_in_use() -> None:
    server = ServerSession(id_factory=SequentialIds())
    sent(server)
    call = {
        "id": "item_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": "f",
        "arguments": "{}",
    }
    server.receive_message(json.dumps({"type": "conversation.item.create", "item": call}))
    server.receive_message(json.dumps(user_text("mcpl_1")))  # any prefix: an item's id
    [start] = [
        e
        for e in server.receive_message(json.dumps({"type": "response.create"}))
        if isinstance(e, StartResponse)
    ]
    assert server.start_function_call(start.response_id, "g") == "call_2"
    server.finish_response(start.response_id)
    events = sent(server)
    assert all(e["type"] != "error" for e in events)
    assert item_ids(events) == ["item_1", "mcpl_1", "item_2"]


def append(server: ServerSession, audio: bytes) -> list[dict[str, Any]]:
    for offset in range(0, len(audio), 4800):
        chunk = base64.b64encode(audio[offset : offset + 4800]).decode()
        server.receive_message(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
    return sent(server)


def test_speech_announced_as_an_id_a_client_then_took() -> None:
    # speech_started names the item the speech will become; a client creating an item with that
    # id before the speech ends does not make the server build the item twice.
    server = ServerSession(id_factory=SequentialIds())
    sent(server)
    [started] = [e for e in append(server, tone(400)) if e["type"].endswith("speech_started")]
    assert started["item_id"] == "item_1"
    server.receive_message(json.dumps(user_text("item_1")))
    events = append(server, silence(1000))
    assert all(e["type"] != "error" for e in events), events
    [committed] = [e for e in events if e["type"] == "input_audio_buffer.committed"]
    assert committed["item_id"] == "item_2"
    assert tuple(server.state.order[:2]) == ("item_1", "item_2")


def test_fresh_ids_skip_what_is_in_use_and_never_events() -> None:
    taken = {"item_1", "item_2", "event_1"}
    ids = FreshIds(SequentialIds(), taken.__contains__)
    assert [ids("item"), ids("item"), ids("event")] == ["item_3", "item_4", "event_1"]
