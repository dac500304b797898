"""Responses of a ``ServerSession``: starting and stopping them (SEQUENCES.md 11-14, GA.md 10.4, 10.12).

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
from ..state import ItemState
from ..state.model import ConversationView
from ..state.wire import item_from_wire
from .core import SessionCore, item_cost
from .effects import CancelResponse, Effect, StartResponse
from .responses import Run
from .settings import Invalid, response_settings

__all__ = ["Requests"]

_CANCELLED = {
    "client_cancelled": ev.StatusDetails(type="cancelled", reason="client_cancelled"),
    "turn_detected": ev.StatusDetails(type="cancelled", reason="turn_detected"),
}


class Requests(SessionCore):
    """The responses part of ``ServerSession``."""

    def _response_create(self, e: Any, event_id: str | None) -> list[Effect]:
        self._conversation_only("A transcription session does not produce responses.")
        return self._start_response(e.response, event_id, "client")

    def _start_response(
        self, params: Any, event_id: str | None, trigger: Literal["client", "vad"]
    ) -> list[Effect]:
        overrides, paths = self._edge.response_overrides(params)
        settings = response_settings(
            self._config,
            overrides,
            paths,
            audio_produced=self._audio_produced(),
            temperature=self._extras.get("temperature"),
        )
        if settings.conversation == "auto":
            active = self._writer.active_in_conversation()
            if active is not None:
                raise Invalid(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {active.id}. "
                    "Wait until the response is finished before creating a new one.",
                )
        else:
            running = sum(1 for run in self._writer.runs.values() if run.out_of_band)
            if running >= self.limits.max_out_of_band_responses:
                raise Invalid(
                    "too_many_out_of_band_responses",
                    f"{running} out-of-band responses are already in progress (the limit is "
                    f"{self.limits.max_out_of_band_responses}); wait for one to finish.",
                    "response.conversation",
                )
        # A response adds content; once the session holds its budget no new one starts. (A VAD
        # turn's commit has been checked already, and a refusal here would follow a commit.)
        if trigger == "client":
            self._check_budget(1)
        items = self._prompt(overrides.get("input"))
        response_id = self._ids("resp")
        self._writer.start(response_id, settings, self.conversation_id, trigger)
        if isinstance(items, ConversationView):
            # Held user audio belongs to conversation items only (a delete drops it).
            audio = dict(self._item_audio)
        else:
            audio = {i.id: self._item_audio[i.id] for i in items if i.id in self._item_audio}
        # The backend now has this audio: without retention the session keeps only durations.
        self._release_audio(audio)
        return [
            StartResponse(
                response_id=response_id,
                settings=settings,
                items=items,
                input_audio=audio,
                snapshot=self._state,
                trigger=trigger,
                event_id=event_id,
            )
        ]

    def _prompt(self, entries: Any) -> Sequence[ItemState]:
        """The items a response is about: the conversation, or its own ``input``.

        The conversation is handed over as a view of the snapshot, not a copy, so that
        starting a response costs the same at item 10 and at item 4000.
        """
        if entries is None:
            return self._state.conversation
        fmt = self._input_format()
        out: list[ItemState] = []
        for i, entry in enumerate(entries):
            where = f"response.input[{i}]"
            if isinstance(entry, ev.ItemReference):
                out.append(self._item(entry.id, f"{where}.id"))
                continue
            self._edge.check_item(entry, where, fmt)
            if isinstance(entry, beta.MessageItem) and not isinstance(entry.content, ev.UnsetType):
                for j, part in enumerate(entry.content):
                    if isinstance(part, ev.ItemReferenceContent):
                        self._item(part.id, f"{where}.content[{j}].id")
            entry_id = getattr(entry, "id", ev.UNSET)
            if not isinstance(entry_id, str):
                entry = replace(entry, id=self._ids("item"))
            out.append(item_from_wire(entry, fmt, self._config.output_format or "pcm16"))
        return tuple(out)

    def _cancel(self, e: ev.ResponseCancel, event_id: str | None) -> list[Effect]:
        if isinstance(e.response_id, str):
            run = self._writer.runs.get(e.response_id)
        else:
            run = self._writer.active_in_conversation()
        if run is None:
            named = f" with id '{e.response_id}'" if isinstance(e.response_id, str) else ""
            raise Invalid(
                "response_cancel_not_active",
                f"Cancellation failed: no active response found{named}",
                "response_id" if named else None,
            )
        return self._end_run(run, "client_cancelled")

    def _end_run(
        self, run: Run, reason: Literal["client_cancelled", "turn_detected"]
    ) -> list[Effect]:
        self._writer.finish(run, "cancelled", _CANCELLED[reason], None, "incomplete")
        return [CancelResponse(response_id=run.id, reason=reason)]

    def _response_ended(self, run: Run) -> None:
        # The response's output is counted toward max_session_bytes once, when it ends.
        state = self._state
        played_ms = 0
        for item_id in run.items:
            item = state.item(item_id)
            if item is not None:
                self._charge(item_id, item_cost(item))
                played_ms += sum(p.audio_ms for p in item.content if p.type == "audio")
        # idle_timeout_ms counts from the end of the response's playback: the time of its
        # response.done plus the duration of the audio it produced (GA.md 2.3, 10.13).
        audio = self._audio
        self._idle_from = audio.clock + audio.rate * played_ms // 1000

    def _output_audio_clear(
        self, e: ev.OutputAudioBufferClear, event_id: str | None
    ) -> list[Effect]:
        raise Invalid(
            "invalid_value",
            "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
            "type",
        )
