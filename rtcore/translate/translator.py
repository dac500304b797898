"""``Translator``: one connection's translation between a client's dialect and a server's.

A relay between a client speaking one dialect and a server speaking the other
passes every client event through ``client_event`` and every server event
through ``server_event``; each returns a ``Translation``, the events to send
on (none, one or two) and the ``Loss`` values of what could not be carried.
The rules are on docs/protocol/relay.md; the ones that need memory are why
this is an object rather than a function:

* A beta client's ``temperature`` is remembered and echoed in the sessions a
  GA server reports, since GA has none (docs/protocol/relay.md#loss-temperature).
* A beta server announces an item once (``conversation.item.created``); a GA
  client expects ``conversation.item.added`` then ``conversation.item.done``.
  The ``done`` follows at once for items that arrive complete, and after
  ``response.output_item.done`` for the model's output items
  (docs/protocol/relay.md#loss-item-done).
* GA requires ``usage`` on a completed input transcription; for a beta server
  that leaves it out, the duration of the committed audio is counted from the
  client's appends (docs/protocol/relay.md#loss-transcription-usage).

A client request the other dialect cannot carry raises ``Untranslatable``
(the ``error`` that dialect's server would send) and changes no state.
Events of the same type and class in both dialects pass through as they are,
and renamed streaming events are rebuilt field by field without a JSON round
trip: text and audio deltas cost one object each.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .. import events as ev
from ..events import beta, ga
from .losses import Loss, LossKind
from .objects import (
    Notes,
    Untranslatable,
    item_to_beta,
    item_to_ga,
    params_to_beta,
    params_to_ga,
    response_to_beta,
    response_to_ga,
    session_to_beta,
    session_to_ga,
)

__all__ = ["BETA_DEFAULT_TEMPERATURE", "Translation", "Translator", "Untranslatable"]

BETA_DEFAULT_TEMPERATURE: Final = 0.8
"""What beta servers report when the client set no temperature."""

AnyEvent = ev.ServerEvent | ev.ClientEvent | ev.UnknownEvent


class Translation(msgspec.Struct, frozen=True):
    """The events one event becomes in the other dialect, and what was lost on the way."""

    events: tuple[AnyEvent, ...]
    losses: tuple[Loss, ...] = ()


# Renamed streaming events with the same members (docs/protocol/relay.md#server-events).
_RENAMED_TO_GA: Final[dict[type[Any], type[Any]]] = {
    beta.ResponseTextDelta: ga.ResponseOutputTextDelta,
    beta.ResponseTextDone: ga.ResponseOutputTextDone,
    beta.ResponseAudioDelta: ga.ResponseOutputAudioDelta,
    beta.ResponseAudioDone: ga.ResponseOutputAudioDone,
    beta.ResponseAudioTranscriptDelta: ga.ResponseOutputAudioTranscriptDelta,
    beta.ResponseAudioTranscriptDone: ga.ResponseOutputAudioTranscriptDone,
}
_RENAMED_TO_BETA: Final[dict[type[Any], type[Any]]] = {v: k for k, v in _RENAMED_TO_GA.items()}

# GA server events with no beta form at all (docs/protocol/relay.md#loss-ga-only).
_GA_ONLY_SERVER: Final[dict[type[Any], LossKind]] = {
    ga.InputAudioBufferDtmfEventReceived: "event_dropped",
    ga.McpListToolsInProgress: "mcp_dropped",
    ga.McpListToolsCompleted: "mcp_dropped",
    ga.McpListToolsFailed: "mcp_dropped",
    ga.ResponseMcpCallArgumentsDelta: "mcp_dropped",
    ga.ResponseMcpCallArgumentsDone: "mcp_dropped",
    ga.ResponseMcpCallInProgress: "mcp_dropped",
    ga.ResponseMcpCallCompleted: "mcp_dropped",
    ga.ResponseMcpCallFailed: "mcp_dropped",
}

_asdict: Final = msgspec.structs.asdict
_UNSET: Final = msgspec.UNSET

_BYTES_PER_SECOND: Final[dict[str, int]] = {"pcm16": 48000, "g711_ulaw": 8000, "g711_alaw": 8000}


def _json(event: AnyEvent) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(ev.encode_event(event))
    return decoded


def _shared(kind: str) -> frozenset[type[Any]]:
    ga_classes = getattr(ga, kind)
    beta_classes = getattr(beta, kind)
    return frozenset(c for t, c in ga_classes.items() if beta_classes.get(t) is c)


_SHARED: Final = _shared("SERVER_EVENTS") | _shared("CLIENT_EVENTS")


class Translator:
    """The translation of one connection: ``client`` is the client's dialect, ``server`` the server's.

    With equal dialects every event passes through unchanged. ``counts``
    holds how many losses of each kind this connection has had; a ``Loss``
    with ``first`` set is the first of its kind (the one to log).
    """

    def __init__(self, *, client: ev.Dialect, server: ev.Dialect) -> None:
        self.client: ev.Dialect = client
        self.server: ev.Dialect = server
        self.counts: dict[LossKind, int] = {}
        self._temperature: float = BETA_DEFAULT_TEMPERATURE
        self._open_outputs: dict[str, None] = {}
        self._input_format: str = "pcm16"
        self._appended = 0
        self._committed: dict[str, float] = {}

    @property
    def translating(self) -> bool:
        """Whether the two dialects differ (otherwise every event passes unchanged)."""
        return self.client != self.server

    def summary(self) -> str:
        """The losses so far as one line (``kind=count, ...``), for a connection's last log line."""
        return ", ".join(f"{kind}={n}" for kind, n in sorted(self.counts.items())) or "none"

    # --- the two directions ------------------------------------------------------------

    def client_event(self, event: ev.ClientEvent | ev.UnknownEvent) -> Translation:
        """A client event as the server's dialect writes it (raises ``Untranslatable``)."""
        if self.client == self.server:
            return Translation((event,))
        if type(event) is ev.InputAudioBufferAppend:
            if self.server == "beta":
                self._appended += len(event.audio)
            return Translation((event,))
        if type(event) in _SHARED or type(event) is ev.UnknownEvent:
            if type(event) is ev.InputAudioBufferClear:
                self._appended = 0
            return Translation((event,))
        if self.server == "ga":
            return self._client_to_ga(event)
        return self._client_to_beta(event)

    def server_event(self, event: ev.ServerEvent | ev.UnknownEvent) -> Translation:
        """A server event as the client's dialect writes it: zero, one or two events."""
        if self.client == self.server:
            return Translation((event,))
        renamed = (_RENAMED_TO_GA if self.client == "ga" else _RENAMED_TO_BETA).get(type(event))
        if renamed is not None:
            return self._renamed(event, renamed)
        if self.client == "ga":
            return self._server_to_ga(event)
        return self._server_to_beta(event)

    def _renamed(self, event: ev.ServerEvent | ev.UnknownEvent, renamed: type[Any]) -> Translation:
        """A streaming event under its other name; ``obfuscation`` has no beta form."""
        if event._rtcore_unknown is None:  # type: ignore[union-attr]
            # The common case, a delta: one object built from the other's members.
            fields = _asdict(event)
            if self.client == "ga" or fields.pop("obfuscation", _UNSET) is _UNSET:
                return Translation((renamed(**fields),))
            loss = Loss(kind="obfuscation_dropped", event_type=event.type, path="obfuscation")
            return Translation((renamed(**fields),), self._count([loss]))
        # Members the codec kept aside go with the event: the JSON path.
        notes = Notes(event.type, refuse=False)
        payload = _json(event)
        payload["type"] = renamed.type
        if payload.pop("obfuscation", None) is not None:
            notes.lose("obfuscation_dropped", "obfuscation")
        return self._done([payload], notes, server_side=True)

    # --- helpers -----------------------------------------------------------------------

    def _count(self, losses: list[Loss]) -> tuple[Loss, ...]:
        out = []
        for loss in losses:
            seen = self.counts.get(loss.kind, 0)
            self.counts[loss.kind] = seen + 1
            out.append(msgspec.structs.replace(loss, first=True) if seen == 0 else loss)
        return tuple(out)

    def _done(self, payloads: list[dict[str, Any]], notes: Notes, server_side: bool) -> Translation:
        """Decode the translated payloads in the target dialect."""
        events: list[AnyEvent] = []
        for payload in payloads:
            data = msgspec.json.encode(payload)
            try:
                if server_side:
                    events.append(ev.decode_server_event(data, dialect=self.client))
                else:
                    events.append(ev.decode_client_event(data, dialect=self.server))
            except ev.DecodeError as error:
                if not server_side:
                    raise Untranslatable(
                        "invalid_value",
                        f"The request cannot be carried in the {self.server} dialect: {error}",
                        None,
                    ) from None
                notes.lose("event_dropped", str(payload.get("type")))
        return Translation(tuple(events), self._count(notes.losses))

    # --- client events -----------------------------------------------------------------

    def _client_to_ga(self, event: ev.ClientEvent | ev.UnknownEvent) -> Translation:
        payload = _json(event)
        notes = Notes(event.type, refuse=False)
        temperature: float | None = None
        if isinstance(event, beta.SessionUpdate | beta.TranscriptionSessionUpdate):
            kind = "realtime" if isinstance(event, beta.SessionUpdate) else "transcription"
            session = payload.get("session", {})
            payload = {
                **payload,
                "type": "session.update",
                "session": session_to_ga(session, notes, kind),
            }
            value = session.get("temperature")
            temperature = float(value) if isinstance(value, int | float) else None
        elif isinstance(event, beta.ResponseCreate):
            if "response" in payload:
                payload = {**payload, "response": params_to_ga(payload["response"], notes)}
        elif isinstance(event, beta.ConversationItemCreate):
            payload = {**payload, "item": item_to_ga(payload["item"])}
        translated = self._done([payload], notes, server_side=False)
        if temperature is not None:
            self._temperature = temperature
        return translated

    def _client_to_beta(self, event: ev.ClientEvent | ev.UnknownEvent) -> Translation:
        payload = _json(event)
        notes = Notes(event.type, refuse=True)
        fmt: str | None = None
        if isinstance(event, ga.SessionUpdate):
            session = payload["session"]
            flat = session_to_beta(session, notes, None)
            kind = "session.update"
            if session.get("type") == "transcription":
                kind = "transcription_session.update"
            payload = {**payload, "type": kind, "session": flat}
            value = flat.get("input_audio_format")
            fmt = value if isinstance(value, str) else None
        elif isinstance(event, ga.ResponseCreate):
            if payload.get("response") is not None:
                payload = {**payload, "response": params_to_beta(payload["response"], notes)}
        elif isinstance(event, ga.ConversationItemCreate):
            payload = {**payload, "item": item_to_beta(payload["item"], notes, "item")}
        translated = self._done([payload], notes, server_side=False)
        if fmt is not None:
            self._input_format = fmt
        return translated

    # --- server events -----------------------------------------------------------------

    def _server_to_ga(self, event: ev.ServerEvent | ev.UnknownEvent) -> Translation:
        cls = type(event)
        if cls in _SHARED or cls is ev.UnknownEvent:
            return self._shared_to_ga(event)
        payload = _json(event)
        notes = Notes(event.type, refuse=False)
        out = [payload]
        if isinstance(event, beta.SessionCreated | beta.SessionUpdated):
            payload["session"] = session_to_ga(payload["session"], notes, "realtime")
        elif isinstance(event, beta.TranscriptionSessionCreated | beta.TranscriptionSessionUpdated):
            payload["type"] = event.type.replace("transcription_session", "session")
            payload["session"] = session_to_ga(payload["session"], notes, "transcription")
        elif isinstance(event, beta.ResponseCreated | beta.ResponseDone):
            payload["response"] = response_to_ga(payload["response"], notes)
        elif isinstance(event, beta.ResponseOutputItemAdded):
            payload["item"] = item_to_ga(payload["item"])
            item_id = payload["item"].get("id")
            if isinstance(item_id, str):
                self._open_outputs[item_id] = None
        elif isinstance(event, beta.ResponseOutputItemDone):
            payload["item"] = item_to_ga(payload["item"])
            item_id = payload["item"].get("id")
            if isinstance(item_id, str) and item_id in self._open_outputs:
                del self._open_outputs[item_id]
                out.append(self._item_done(payload, notes))
        elif isinstance(event, beta.ConversationItemCreated):
            payload["type"] = "conversation.item.added"
            payload["item"] = item_to_ga(payload["item"])
            if payload["item"].get("id") not in self._open_outputs:
                out.append(self._item_done(payload, notes))
        elif isinstance(event, beta.ConversationItemRetrieved):
            payload["item"] = item_to_ga(payload["item"])
        return self._done(out, notes, server_side=True)

    def _item_done(self, source: dict[str, Any], notes: Notes) -> dict[str, Any]:
        """The ``conversation.item.done`` GA sends where beta has nothing; its id is derived
        from the event it follows, so that the same input always gives the same output."""
        notes.lose("item_done_synthesised", "conversation.item.done")
        event_id = f"{source.get('event_id', 'event')}_done"
        return {"type": "conversation.item.done", "event_id": event_id, "item": source["item"]}

    def _shared_to_ga(self, event: ev.ServerEvent | ev.UnknownEvent) -> Translation:
        if isinstance(event, ev.InputAudioBufferCommitted):
            rate = _BYTES_PER_SECOND.get(self._input_format, 48000)
            self._committed[event.item_id] = self._appended / rate
            self._appended = 0
            return Translation((event,))
        if isinstance(event, ev.InputAudioBufferCleared):
            self._appended = 0
            return Translation((event,))
        if isinstance(event, ev.ConversationItemInputAudioTranscriptionCompleted) and isinstance(
            event.usage, msgspec.UnsetType
        ):
            seconds = self._committed.get(event.item_id, 0.0)
            usage = ev.TranscriptionUsageDuration(seconds=round(seconds, 3))
            loss = Loss(kind="transcription_usage_invented", event_type=event.type, path="usage")
            return Translation((msgspec.structs.replace(event, usage=usage),), self._count([loss]))
        return Translation((event,))

    def _server_to_beta(self, event: ev.ServerEvent | ev.UnknownEvent) -> Translation:
        cls = type(event)
        if cls in _SHARED or cls is ev.UnknownEvent:
            return Translation((event,))
        notes = Notes(event.type, refuse=False)
        dropped = _GA_ONLY_SERVER.get(cls)
        if dropped is not None:
            notes.lose(dropped, event.type)
            return Translation((), self._count(notes.losses))
        if isinstance(event, ga.ConversationItemDone):
            notes.lose("item_done_dropped", event.type)
            return Translation((), self._count(notes.losses))
        payload = _json(event)
        if isinstance(event, ga.SessionCreated | ga.SessionUpdated):
            session = payload["session"]
            if session.get("type") == "transcription":
                payload["type"] = event.type.replace("session", "transcription_session", 1)
            payload["session"] = session_to_beta(session, notes, self._temperature)
        elif isinstance(event, ga.ResponseCreated | ga.ResponseDone):
            payload["response"] = response_to_beta(payload["response"], notes)
        elif isinstance(
            event,
            ga.ResponseOutputItemAdded
            | ga.ResponseOutputItemDone
            | ga.ConversationItemAdded
            | ga.ConversationItemCreated
            | ga.ConversationItemRetrieved,
        ):
            item = item_to_beta(payload["item"], notes, "item")
            if not isinstance(item, dict):
                return Translation((), self._count(notes.losses))
            payload["item"] = item
            if isinstance(event, ga.ConversationItemAdded):
                payload["type"] = "conversation.item.created"
        return self._done([payload], notes, server_side=True)
