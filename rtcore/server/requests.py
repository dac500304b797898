"""Responses of a ``ServerSession``: starting and stopping them (docs/protocol/flows.md#responses,
docs/protocol/flows.md#cancellation).

* ``response.create`` (or a VAD stop with ``create_response``) starts a
  response with the session's settings and the request's overrides, read by
  the connection's edge; at most one response writes to the conversation at
  a time (``conversation_already_has_active_response``), out-of-band ones
  (``conversation: "none"``) run beside it, at most
  ``max_out_of_band_responses`` at once (``too_many_out_of_band_responses``).
  A session over ``max_session_bytes`` starts none
  (``session_memory_exceeded``). The prompt is the conversation,
  or the request's own ``input`` (items and references to existing items).
  The backend is asked for the content with a ``StartResponse`` effect.
* ``response.cancel`` (or speech with ``interrupt_response``) closes every
  open part and item and ends the response ``cancelled`` with its reason;
  nothing running is ``response_cancel_not_active``.
* ``output_audio_buffer.clear`` exists only on WebRTC and SIP connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from msgspec.structs import replace

from .. import events as ev
from ..events import beta
from ..ids import IdFactory
from ..rules.conversation import conversation_item
from ..rules.reading import Extras
from ..rules.requests import (
    check_kind,
    check_no_active_response,
    no_response_to_cancel,
    output_audio_clear_refused,
)
from ..state import ItemState
from ..state.model import ConversationView
from ..state.wire import item_from_wire
from .bounds import check_item_size, check_tools_size
from .config import ServerLimits
from .core import SessionView, item_cost
from .edge import Edge
from .effects import CancelResponse, Effect, StartResponse
from .memory import Holdings
from .responses import ResponseWriter, Run
from .settings import Invalid, response_settings

__all__ = ["Requests"]

_CANCELLED = {
    "client_cancelled": ev.StatusDetails(type="cancelled", reason="client_cancelled"),
    "turn_detected": ev.StatusDetails(type="cancelled", reason="turn_detected"),
}


class Requests:
    """Starting and stopping responses; the ``writer`` writes them.

    Reads the configuration and the snapshot (``view``) and the session's
    dialect extras (``extras``, the edge reads them); hands the backend the
    user audio ``holdings`` keeps, and records what a finished response holds.
    """

    __slots__ = (
        "_conversation_id",
        "_edge",
        "_extras",
        "_holdings",
        "_ids",
        "_limits",
        "_view",
        "_writer",
    )

    def __init__(
        self,
        *,
        view: SessionView,
        ids: IdFactory,
        edge: Edge,
        limits: ServerLimits,
        writer: ResponseWriter,
        holdings: Holdings,
        extras: Extras,
        conversation_id: str,
    ) -> None:
        self._view = view
        self._ids = ids
        self._edge = edge
        self._limits = limits
        self._writer = writer
        self._holdings = holdings
        self._extras = extras
        self._conversation_id = conversation_id

    def create(self, e: Any, event_id: str | None) -> list[Effect]:
        check_kind(self._view.config.kind, e.type, self._edge.dialect)
        return self.start(e.response, event_id, "client")

    def start_by_vad(self) -> list[Effect]:
        """The response turn detection starts (``create_response``)."""
        return self.start(ev.UNSET, None, "vad")

    def start(
        self, params: Any, event_id: str | None, trigger: Literal["client", "vad"]
    ) -> list[Effect]:
        writer = self._writer
        config = self._view.config
        overrides, paths = self._edge.response_overrides(params)
        if "tools" in overrides:
            tools = overrides["tools"]
            if isinstance(tools, (tuple, list)):
                check_tools_size(tools, self._limits, paths.get("tools", "response.tools"))
        settings = response_settings(
            config,
            overrides,
            paths,
            audio_produced=writer.audio_produced,
            temperature=self._edge.session_temperature(self._extras),
        )
        if settings.conversation == "auto":
            active = writer.active_in_conversation()
            check_no_active_response(active.id if active is not None else None)
        else:
            running = sum(1 for run in writer.runs.values() if run.out_of_band)
            if running >= self._limits.max_out_of_band_responses:
                raise Invalid(
                    "too_many_out_of_band_responses",
                    f"{running} out-of-band responses are already in progress (the limit is "
                    f"{self._limits.max_out_of_band_responses}); wait for one to finish.",
                    "response.conversation",
                )
        # A response adds content; once the session holds its budget no new one starts. (A VAD
        # turn's commit has been checked already, and a refusal here would follow a commit.)
        if trigger == "client":
            self._holdings.check(1)
        items = self._prompt(overrides.get("input"))
        response_id = self._ids("resp")
        writer.start(response_id, settings, self._conversation_id, trigger)
        held = self._holdings.audio
        if isinstance(items, ConversationView):
            # Held user audio belongs to conversation items only (a delete drops it).
            audio = dict(held)
        else:
            audio = {i.id: held[i.id] for i in items if i.id in held}
        # The backend now has this audio: without retention the session keeps only durations.
        self._holdings.release(audio)
        return [
            StartResponse(
                response_id=response_id,
                settings=settings,
                items=items,
                input_audio=audio,
                snapshot=self._view.state,
                trigger=trigger,
                event_id=event_id,
            )
        ]

    def _prompt(self, entries: Any) -> Sequence[ItemState]:
        """The items a response is about: the conversation, or its own ``input``.

        The conversation is handed over as a view of the snapshot, not a copy, so that
        starting a response costs the same at item 10 and at item 4000.
        """
        state = self._view.state
        if entries is None:
            return state.conversation
        config = self._view.config
        fmt = config.input_format or "pcm16"
        out: list[ItemState] = []
        for i, entry in enumerate(entries):
            where = f"response.input[{i}]"
            if isinstance(entry, ev.ItemReference):
                out.append(conversation_item(state, entry.id, f"{where}.id"))
                continue
            self._edge.check_item(entry, where, fmt)
            check_item_size(entry, self._limits, where)
            if isinstance(entry, beta.MessageItem) and not isinstance(entry.content, ev.UnsetType):
                for j, part in enumerate(entry.content):
                    if isinstance(part, ev.ItemReferenceContent):
                        conversation_item(state, part.id, f"{where}.content[{j}].id")
            entry_id = getattr(entry, "id", ev.UNSET)
            if not isinstance(entry_id, str):
                entry = replace(entry, id=self._ids("item"))
            out.append(item_from_wire(entry, fmt, config.output_format or "pcm16"))
        return tuple(out)

    def cancel(self, e: ev.ResponseCancel, event_id: str | None) -> list[Effect]:
        if isinstance(e.response_id, str):
            run = self._writer.runs.get(e.response_id)
        else:
            run = self._writer.active_in_conversation()
        if run is None:
            raise no_response_to_cancel(e.response_id)
        return self.end(run, "client_cancelled")

    def interrupt(self, run: Run) -> list[Effect]:
        """The user started speaking over response ``run`` (``interrupt_response``)."""
        return self.end(run, "turn_detected")

    def end(self, run: Run, reason: Literal["client_cancelled", "turn_detected"]) -> list[Effect]:
        self._writer.finish(run, "cancelled", _CANCELLED[reason], None, "incomplete")
        return [CancelResponse(response_id=run.id, reason=reason)]

    def ended(self, run: Run) -> int:
        """Count what response ``run`` wrote toward ``max_session_bytes``; returns the
        milliseconds of audio it produced (its playback time)."""
        state = self._view.state
        played_ms = 0
        for item_id in run.items:
            item = state.item(item_id)
            if item is not None:
                self._holdings.charge(item_id, item_cost(item))
                played_ms += sum(p.audio_ms for p in item.content if p.type == "audio")
        return played_ms

    def output_audio_clear(
        self, e: ev.OutputAudioBufferClear, event_id: str | None
    ) -> list[Effect]:
        raise output_audio_clear_refused()
