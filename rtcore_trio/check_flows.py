"""The conversations ``rtcore check`` holds with a server, one function per flow.

Each flow works with any model behind the server: it asks for what every
Realtime server must do (answer a message, call the one tool it is required
to call, cancel, truncate, keep items) and checks the events owed, in the
order the protocol gives them (docs/protocol/flows.md#event-order-per-flow), never
the model's words. Names differ between the dialects (``_Names``); the flows
do not.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore_sim import speech_like

from .check import Conversation, Flow

__all__ = ["FLOWS"]

CHUNK_MS = 100
PCM16_BYTES_PER_MS = 48
"""pcm16 at 24 kHz, the default input format of both dialects."""
TOOL = "get_weather"
TRANSCRIBER = "whisper-1"


class _Names(msgspec.Struct, frozen=True):
    item_added: str
    text_delta: str
    text_done: str
    audio_delta: str
    transcript_done: str


_NAMES = {
    "ga": _Names(
        "conversation.item.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
    ),
    "beta": _Names(
        "conversation.item.created",
        "response.text.delta",
        "response.text.done",
        "response.audio.delta",
        "response.audio_transcript.done",
    ),
}


def _names(c: Conversation) -> _Names:
    return _NAMES[c.dialect]


def _session(c: Conversation, **fields: Any) -> ev.ClientEvent:
    """A ``session.update`` in the dialect: ``text_only``, ``vad``, ``transcription``, ``tools``,
    ``instructions``."""
    tools = fields.get("tools", False)
    if c.dialect == "ga":
        config: dict[str, Any] = {}
        if fields.get("text_only"):
            config["output_modalities"] = ("text",)
        audio_input: dict[str, Any] = {}
        if "vad" in fields:
            detection = ga.ServerVad(silence_duration_ms=300) if fields["vad"] else None
            audio_input["turn_detection"] = detection
        if fields.get("transcription"):
            audio_input["transcription"] = ga.Transcription(model=TRANSCRIBER)
        if audio_input:
            config["audio"] = ga.AudioConfig(input=ga.AudioInput(**audio_input))
        if tools:
            config["tools"] = (
                ga.FunctionTool(
                    name=TOOL, description="The weather in a city.", parameters=_SCHEMA
                ),
            )
            config["tool_choice"] = "required"
        if "instructions" in fields:
            config["instructions"] = fields["instructions"]
        return ga.SessionUpdate(session=ga.RealtimeSessionConfig(**config))
    beta_config: dict[str, Any] = {}
    if fields.get("text_only"):
        beta_config["modalities"] = ("text",)
    if "vad" in fields:
        beta_config["turn_detection"] = (
            beta.TurnDetection(type="server_vad", silence_duration_ms=300)
            if fields["vad"]
            else None
        )
    if fields.get("transcription"):
        beta_config["input_audio_transcription"] = beta.InputAudioTranscription(model=TRANSCRIBER)
    if tools:
        beta_config["tools"] = (
            beta.Tool(
                name=TOOL, type="function", description="The weather in a city.", parameters=_SCHEMA
            ),
        )
        beta_config["tool_choice"] = "required"
    if "instructions" in fields:
        beta_config["instructions"] = fields["instructions"]
    return beta.SessionUpdate(session=beta.SessionConfig(**beta_config))


_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _create(c: Conversation, item: Any) -> ev.ClientEvent:
    if c.dialect == "ga":
        return ga.ConversationItemCreate(item=item)
    return beta.ConversationItemCreate(item=item)


def _user(c: Conversation, text: str, item_id: str | ev.UnsetType = ev.UNSET) -> ev.ClientEvent:
    content = (ev.InputTextContent(text=text),)
    cls = ga.MessageItem if c.dialect == "ga" else beta.MessageItem
    return _create(c, cls(role="user", content=content, id=item_id))


def _response_create(c: Conversation) -> ev.ClientEvent:
    return ga.ResponseCreate() if c.dialect == "ga" else beta.ResponseCreate()


async def _configure(c: Conversation, step: str, **fields: Any) -> list[Any]:
    await c.send(_session(c, **fields))
    return await c.take(step, "session.updated", ["session.updated"])


def _status(events: list[Any]) -> str | None:
    done = [e for e in events if e.type == "response.done"]
    return str(done[-1].response.status) if done else None


def _completed(c: Conversation, events: list[Any]) -> None:
    status = _status(events)
    if status is not None and status != "completed":
        c.note(
            "unexpected", f"response.done with status {status}, expected completed", "response.done"
        )


# -- the flows ------------------------------------------------------------------------------------


async def text(c: Conversation) -> None:
    """A written answer: the response's events in their order, ending completed."""
    n = _names(c)
    await _configure(c, "session.update", text_only=True, vad=False)
    await c.send(_user(c, "Say hello."))
    await c.take("user message", n.item_added, [n.item_added])
    await c.send(_response_create(c))
    events = await c.take(
        "response",
        "response.done",
        [
            "response.created",
            "response.output_item.added",
            "response.content_part.added",
            n.text_done,
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
        ],
    )
    _completed(c, events)


async def audio(c: Conversation) -> None:
    """Server VAD hears synthetic speech, commits it and answers in audio."""
    n = _names(c)
    await _configure(c, "session.update", vad=True)
    c.step = "speech"
    await _speak(c, speech_like(1200) + bytes(PCM16_BYTES_PER_MS * 1500))
    events = await c.take(
        "speech",
        "response.done",
        [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "response.created",
            "response.content_part.added",
            n.audio_delta,
            n.transcript_done,
            "response.content_part.done",
            "response.done",
        ],
    )
    _completed(c, events)


async def _speak(c: Conversation, speech: bytes) -> None:
    step = CHUNK_MS * PCM16_BYTES_PER_MS
    for at in range(0, len(speech), step):
        await c.send(ev.InputAudioBufferAppend(audio=speech[at : at + step]))


async def transcription(c: Conversation) -> None:
    """Speech committed by hand with input transcription on: its transcription ends.

    Completed or failed both conform (a transcriber may not make out
    synthetic speech); what the client machine checks is that it ends once,
    for the committed item, after its deltas.
    """
    await _configure(c, "session.update", vad=False, transcription=True)
    c.step = "speech"
    await _speak(c, speech_like(800))
    await c.send(ev.InputAudioBufferCommit())
    events = await c.take(
        "commit", "input_audio_buffer.committed", ["input_audio_buffer.committed"]
    )
    committed = [e.item_id for e in events if e.type == "input_audio_buffer.committed"]
    ends = (
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
    )
    # The result may already have come with the commit's events.
    if not any(e.type in ends for e in events):
        events = await c.take("transcribe", ends)
    done = [e for e in events if e.type in ends]
    if committed and done and done[-1].item_id != committed[0]:
        c.note(
            "unexpected",
            f"transcribed item {done[-1].item_id!r}, committed {committed[0]!r}",
            done[-1].type,
        )


async def tool_call(c: Conversation) -> None:
    """The model calls the tool it must, the client answers it, the model reads the answer."""
    n = _names(c)
    await _configure(c, "session.update", text_only=True, vad=False, tools=True)
    await c.send(_user(c, f"Call {TOOL} for Paris."))
    await c.take("user message", n.item_added, [n.item_added])
    await c.send(_response_create(c))
    events = await c.take(
        "call",
        "response.done",
        ["response.created", "response.function_call_arguments.done", "response.done"],
    )
    _completed(c, events)
    calls = [e for e in events if e.type == "response.function_call_arguments.done"]
    if not calls:
        return
    await c.send(
        _create(
            c,
            ev.FunctionCallOutputItem(
                call_id=calls[0].call_id, output=json.dumps({"sky": "clear"})
            ),
        )
    )
    await c.take("tool output", n.item_added, [n.item_added])
    await c.send(_response_create(c))
    _completed(c, await c.take("answer", "response.done", ["response.created", "response.done"]))


async def cancel(c: Conversation) -> None:
    """A cancel is answered: a cancelled ``response.done``, or an error when it came too late."""
    await _configure(c, "session.update", vad=False)
    n = _names(c)
    await c.send(_user(c, "Tell me a long story about the sea. " * 8))
    await c.take("user message", n.item_added, [n.item_added])
    await c.send(_response_create(c))
    await c.send(ev.ResponseCancel(), unchecked=True)
    events = await c.take(
        "cancel", "response.done", ["response.created", "response.done"], errors_ok=True
    )
    if _status(events) == "cancelled":
        return
    # Finished before the cancel came: the cancel is then answered with an error.
    errors = [e for e in events if e.type == "error"]
    if not errors:
        errors = [
            e
            for e in await c.take("cancel", "error", errors_ok=True, timeout=2.0)
            if e.type == "error"
        ]
    if not errors:
        c.note(
            "missing",
            f"response.cancel was not answered: the response ended {_status(events)} and no error came",
            "response.cancel",
        )


async def truncate(c: Conversation) -> None:
    """The assistant's audio is cut where the user stopped hearing it."""
    n = _names(c)
    await _configure(c, "session.update", vad=False)
    await c.send(_user(c, "Say something."))
    await c.take("user message", n.item_added, [n.item_added])
    await c.send(_response_create(c))
    events = await c.take(
        "response", "response.done", ["response.created", n.audio_delta, "response.done"]
    )
    spoken = [e.item_id for e in events if e.type == n.audio_delta]
    if not spoken:
        return
    await c.send(ev.ConversationItemTruncate(item_id=spoken[0], content_index=0, audio_end_ms=50))
    await c.take("truncate", "conversation.item.truncated", ["conversation.item.truncated"])


async def items(c: Conversation) -> None:
    """An item created, retrieved, deleted; retrieving it again is an error."""
    n = _names(c)
    await c.send(_user(c, "Remember me.", item_id="item_check_1"))
    await c.take("create", n.item_added, [n.item_added])
    await c.send(ev.ConversationItemRetrieve(item_id="item_check_1"))
    await c.take("retrieve", "conversation.item.retrieved", ["conversation.item.retrieved"])
    await c.send(ev.ConversationItemDelete(item_id="item_check_1"))
    await c.take("delete", "conversation.item.deleted", ["conversation.item.deleted"])
    await c.send(ev.ConversationItemRetrieve(item_id="item_check_1"), unchecked=True)
    await c.take("retrieve deleted", "error", ["error"], errors_ok=True)


async def session(c: Conversation) -> None:
    """A session update is applied and reported back."""
    events = await _configure(c, "session.update", instructions="Answer in one word.")
    updated = [e for e in events if e.type == "session.updated"]
    if updated and getattr(updated[0].session, "instructions", None) != "Answer in one word.":
        c.note(
            "unexpected", "session.updated does not report the instructions sent", "session.updated"
        )


async def errors(c: Conversation) -> None:
    """Invalid events get an ``error`` each (wrong ids, nothing to cancel or commit, a
    message that is not JSON, an unknown type, an unknown member), and the session goes on."""
    invalid: list[tuple[str, ev.ClientEvent]] = [
        ("delete unknown item", ev.ConversationItemDelete(item_id="item_does_not_exist")),
        ("retrieve unknown item", ev.ConversationItemRetrieve(item_id="item_does_not_exist")),
        (
            "truncate unknown item",
            ev.ConversationItemTruncate(
                item_id="item_does_not_exist", content_index=0, audio_end_ms=0
            ),
        ),
        ("cancel with nothing running", ev.ResponseCancel()),
        ("commit an empty buffer", ev.InputAudioBufferCommit()),
    ]
    for step, event in invalid:
        await c.send(event, unchecked=True)
        await c.take(step, "error", ["error"], errors_ok=True)
    # Messages the client machine would never make: not JSON, no such event, a member too many.
    undecodable = [
        ("not JSON", b"{not json"),
        ("unknown event type", b'{"type": "no.such.event"}'),
        ("unknown member", b'{"type": "input_audio_buffer.clear", "bogus": 1}'),
    ]
    for step, data in undecodable:
        await c.send_raw(data)
        await c.take(step, "error", ["error"], errors_ok=True)
    await _configure(c, "still alive", instructions="Still here?")


FLOWS: dict[str, Flow] = {
    "text": text,
    "audio": audio,
    "tool_call": tool_call,
    "cancel": cancel,
    "truncate": truncate,
    "items": items,
    "session": session,
    "transcription": transcription,
    "errors": errors,
}
