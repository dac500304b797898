"""Conversation items of a ``ServerSession`` (docs/protocol/flows.md#items).

* ``conversation.item.create`` puts a client's item after ``previous_item_id``
  (absent or ``null``: at the end; ``"root"``: first; an id: after that item,
  which must exist) and announces it in the connection's dialect. The
  dialect's item rules apply (``BetaEdge.check_item`` / ``GAEdge.check_item``);
  a ``function_call_output`` must name a call that exists and an
  ``mcp_approval_response`` an approval request that exists. User audio is
  kept by the server (until a response hands it to the backend, unless the
  session retains audio) and never echoed. The item counts toward
  ``max_items`` and its content toward ``max_session_bytes``.
* ``conversation.item.truncate`` cuts assistant audio that is complete, at
  most at the audio actually produced (``unsupported_content_type`` for
  anything else).
* ``conversation.item.delete`` removes an item that no response is writing;
  ``conversation.item.retrieve`` answers with the item, its audio included
  while the server still holds it (always with ``retain_audio=True``; by
  default only until the backend has been handed the audio); the answer is paid for
  from the session's echo budget (``echoes``: the item's charged size, its held audio
  as base64), or refused (``echo_rate_exceeded``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from msgspec.structs import replace

from .. import events as ev
from ..ids import IdFactory
from ..rules.conversation import (
    check_anchor,
    check_deletable,
    check_new_item,
    check_references,
    check_truncate,
    conversation_item,
)
from ..rules.requests import check_kind
from ..state import ByteChunks, ItemState
from ..state.wire import item_from_wire
from .bounds import check_item_size
from .config import ServerLimits
from .core import Emit, SessionView, check_room, item_cost
from .costs import CALL_ID_BYTES
from .echoes import Echoes
from .edge import Edge
from .effects import Effect
from .memory import Holdings
from .responses import ResponseWriter, Run
from .transcriptions import Transcriptions

__all__ = ["Items"]


class Items:
    """The conversation items clients create, truncate, delete and retrieve.

    Reads the configuration and the snapshot (``view``), the responses in
    progress and the session's function call ids (``writer``); records what
    items hold in ``holdings``; forgets a deleted item's transcription.
    """

    __slots__ = (
        "_edge",
        "_emit",
        "_end_response",
        "_holdings",
        "_ids",
        "_limits",
        "_transcriptions",
        "_view",
        "_writer",
        "_echoes",
    )

    def __init__(
        self,
        *,
        view: SessionView,
        emit: Emit,
        ids: IdFactory,
        edge: Edge,
        limits: ServerLimits,
        writer: ResponseWriter,
        holdings: Holdings,
        transcriptions: Transcriptions,
        end_response: Callable[[Run, Literal["client_cancelled"]], list[Effect]],
        echoes: Echoes,
    ) -> None:
        self._echoes = echoes
        self._view = view
        self._emit = emit
        self._ids = ids
        self._edge = edge
        self._limits = limits
        self._writer = writer
        self._holdings = holdings
        self._transcriptions = transcriptions
        self._end_response = end_response

    def _item(self, item_id: str, param: str = "item_id") -> ItemState:
        return conversation_item(self._view.state, item_id, param)

    def create(self, e: Any, event_id: str | None) -> list[Effect]:
        config = self._view.config
        check_kind(config.kind, e.type, self._edge.dialect)
        item = e.item
        fmt = config.input_format or "pcm16"
        self._edge.check_item(item, "item", fmt)
        check_item_size(item, self._limits, "item")
        snapshot = self._view.state
        order = snapshot.order
        anchor = e.previous_item_id
        check_anchor(snapshot, anchor)
        check_new_item(snapshot, item.id)
        check_references(snapshot, item, self._writer.call_ids, "item")
        check_room(snapshot, self._limits)
        item_id = item.id if isinstance(item.id, str) else self._ids("item")
        previous: str | None
        if anchor == "root":
            previous = None  # first of the conversation
        elif isinstance(anchor, str):
            previous = anchor
        else:
            previous = order[-1] if order else None  # absent or null: at the end
        state = item_from_wire(
            replace(item, id=item_id), fmt, config.output_format or "pcm16", done=True
        )
        audio = b"".join(
            p.audio.value for p in state.content if p.type == "input_audio" and p.audio is not None
        )
        state = replace(
            state,
            status="completed" if state.type in _HAS_STATUS else None,
            content=tuple(
                replace(p, audio=None) if p.type == "input_audio" else p for p in state.content
            ),
        )
        cost = item_cost(state) + len(audio)
        call_ids = self._writer.call_ids
        new_call = state.call_id if state.type == "function_call" else None
        if new_call in call_ids:
            new_call = None
        # A call's id outlives its item (an output may still name it): it stays charged.
        kept = 0 if new_call is None else CALL_ID_BYTES + len(new_call)
        self._holdings.check(cost + kept, "item")
        if audio:
            self._holdings.hold(item_id, audio)
        self._holdings.charge(item_id, cost)
        if new_call is not None:
            call_ids.add(new_call)
            self._holdings.keep(kept)
        for event in self._edge.item_added(self._ids, previous, state, final=True):
            self._emit(event)
        return []

    def truncate(self, e: ev.ConversationItemTruncate, event_id: str | None) -> list[Effect]:
        """Audio still being generated stops first: its response is cancelled as by
        ``response.cancel`` (docs/protocol/flows.md#truncate-while-generating), so that a
        client's interrupt works whether or not it also cancels."""
        writing = check_truncate(self._view.state, e)
        run = self._writer.runs.get(writing) if writing is not None else None
        effects = self._end_response(run, "client_cancelled") if run is not None else []
        self._emit(
            ev.ConversationItemTruncated(
                event_id=self._ids("event"),
                item_id=e.item_id,
                content_index=e.content_index,
                audio_end_ms=e.audio_end_ms,
            )
        )
        truncated = self._view.state.item(e.item_id)
        if truncated is not None:  # it holds less audio (or transcript) now
            self._holdings.charge(e.item_id, item_cost(truncated))
        return effects

    def delete(self, e: ev.ConversationItemDelete, event_id: str | None) -> list[Effect]:
        check_deletable(self._view.state, e.item_id)
        self._emit(ev.ConversationItemDeleted(event_id=self._ids("event"), item_id=e.item_id))
        self._holdings.forget(e.item_id)
        self._transcriptions.forget(e.item_id)
        return []

    def retrieve(self, e: ev.ConversationItemRetrieve, event_id: str | None) -> list[Effect]:
        item = self._item(e.item_id)
        holdings = self._holdings
        user_audio = holdings.audio.get(item.id)
        # Base64 is a third larger than the audio the item's cost counts.
        echo = holdings.costs.get(item.id, 0) + (len(user_audio) // 3 if user_audio else 0)
        self._echoes.check(echo, "its conversation.item.retrieved")
        self._echoes.spend(echo)
        if user_audio is not None:
            item = replace(
                item,
                content=tuple(
                    replace(p, audio=ByteChunks.of(user_audio)) if p.type == "input_audio" else p
                    for p in item.content
                ),
            )
        wire = self._edge.wire_item(item, with_audio=True)
        self._emit(self._edge.retrieved(self._ids("event"), wire))
        return []


_HAS_STATUS = frozenset({"message", "function_call", "function_call_output"})
