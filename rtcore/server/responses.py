"""Writing responses: output chunks in, the exact event sequence out
(docs/protocol/flows.md#responses, docs/protocol/flows.md#cancellation).

For every response the writer emits, in order: ``response.created``; per
item ``response.output_item.added`` then the item's announcement in the
conversation (beta ``conversation.item.created``, GA
``conversation.item.added``; none for out-of-band responses); per part
``response.content_part.added``, the deltas, the part's ``*.done`` events
(audio before its transcript), ``response.content_part.done``; then
``response.output_item.done`` (and, in GA, ``conversation.item.done``) and,
exactly once, ``response.done``. ``rate_limits.updated`` comes once per
response that produced output: in beta right when the first output begins,
in GA after the last part closes (docs/protocol/flows.md#responses; a response cancelled before
any output gets none). The names and shapes are the connection's edge's.

Every ``*.added`` is closed on every path - completion, cancellation by the
client or by speech, failure, disconnect, shutdown - with the values
produced so far, the open item marked ``incomplete``; a response that does not
end ``completed`` always has ``status_details`` (at least its ``type``, when
the backend gave none; docs/protocol/ga.md#response-object). Items are produced one
at a time (the first is closed before the second opens). Output for a
response that has ended is refused with ``LocalProtocolError``.

MCP calls (GA, docs/protocol/flows.md#mcp; the rules are in ``rtcore.server.mcp``): an
``McpCallChunk`` the conversation approves (or that needs no approval) opens
an ``mcp_call`` item - ``output_item.added`` (and ``conversation.item.added``)
with empty arguments, ``response.mcp_call_arguments.delta`` and ``.done``,
``response.mcp_call.in_progress`` - and the item waits for its
``McpResultChunk``: ``response.mcp_call.completed`` (or ``.failed``), then
``output_item.done`` / ``conversation.item.done`` carrying ``output`` (or
``error``). The response then goes on (the answer may follow in the same
response). Anything else while a call waits for its result is refused,
except the response's end: a call cut by it (finish, cancel, disconnect)
ends ``failed`` with a ``tool_execution_error``. A call that needs an
approval the conversation does not give becomes an ``mcp_approval_request``
item instead (added and done at once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from .. import events as ev
from ..audio.formats import FORMATS
from ..errors import LocalProtocolError
from ..events import beta, ga
from ..ids import IdFactory
from ..state import ItemState, TextChunks
from .core import Emit, SessionView
from .edge import Edge
from .effects import (
    ArgumentsChunk,
    AudioChunk,
    EndItem,
    Finish,
    FunctionCallChunk,
    McpCallChunk,
    McpResultChunk,
    OutputChunk,
    ResponseSettings,
    TextChunk,
    TranscriptChunk,
)
from .mcp import mcp_verdict

__all__ = ["ResponseWriter", "Run", "zero_usage"]

_Kind = Literal["message", "function_call", "mcp_call", "mcp_approval_request"]

_CUT_CALL = ga.McpToolExecutionError(message="The response ended before the MCP call returned.")


def zero_usage() -> ev.Usage:
    """Usage with every counter at 0, as real servers report for responses cut before any output."""
    return ev.Usage(
        total_tokens=0,
        input_tokens=0,
        output_tokens=0,
        input_token_details=ev.InputTokenDetails(
            cached_tokens=0,
            text_tokens=0,
            audio_tokens=0,
            cached_tokens_details=ev.CachedTokensDetails(text_tokens=0, audio_tokens=0),
        ),
        output_token_details=ev.OutputTokenDetails(text_tokens=0, audio_tokens=0),
    )


class Run(msgspec.Struct, kw_only=True):
    """The writer's bookkeeping for one response in progress."""

    id: str
    settings: ResponseSettings
    conversation_id: str | None
    trigger: Literal["client", "vad"]
    number: int = 0
    """How many responses the session started before this one."""
    items: list[str] = msgspec.field(default_factory=list)
    previous: dict[str, str | None] = msgspec.field(default_factory=dict)
    """The conversation item each output item was placed after (for GA's ``item.done``)."""
    open_item: str | None = None
    open_kind: _Kind | None = None
    open_part: int | None = None
    part_kind: Literal["text", "audio"] | None = None
    started_output: bool = False

    @property
    def out_of_band(self) -> bool:
        return self.settings.conversation == "none"


_CONVERSATION_FULL = ev.StatusDetails(
    type="failed",
    error=ev.StatusError(
        type="invalid_request_error",
        code="conversation_full",
        message="The conversation holds the maximum number of items; delete some first.",
    ),
)


def _opens_item(run: Run, chunk: OutputChunk) -> bool:
    """Whether ``chunk`` starts a new output item of ``run`` (what counts toward ``max_items``)."""
    if isinstance(chunk, (FunctionCallChunk, McpCallChunk)):
        return True
    if isinstance(chunk, (TextChunk, AudioChunk, TranscriptChunk)):
        return run.open_item is None or run.open_kind == "function_call"
    return False


class ResponseWriter:
    """Turns output chunks into server events for the responses in progress."""

    __slots__ = (
        "_edge",
        "_emit",
        "_ids",
        "_max_items",
        "_on_finish",
        "_rate_limits",
        "_streams",
        "_view",
        "audio_produced",
        "call_ids",
        "runs",
        "started",
    )

    def __init__(
        self,
        *,
        view: SessionView,
        emit: Emit,
        ids: IdFactory,
        edge: Edge,
        rate_limits: Callable[[int], tuple[ev.RateLimit, ...]] | None,
        max_items: int,
        on_finish: Callable[[Run], None],
    ) -> None:
        self._edge = edge
        self._streams = edge.streams
        self._emit = emit
        self._view = view
        self._ids = ids
        self._rate_limits = rate_limits
        self._max_items = max_items
        """A response that would add an item to a conversation at ``max_items`` ends
        ``failed`` (``conversation_full``)."""
        self._on_finish = on_finish
        self.runs: dict[str, Run] = {}
        self.started = 0
        self.call_ids: set[str] = set()
        """Every function call id of the session, for the check of ``function_call_output``."""
        self.audio_produced = False
        """Whether any response has produced audio (the session's voice is locked from then on)."""

    # -- lifecycle -----------------------------------------------------------------------

    def active_in_conversation(self) -> Run | None:
        for run in self.runs.values():
            if not run.out_of_band:
                return run
        return None

    def _response_object(self, run: Run, status: ev.ResponseStatus, **final: Any) -> Any:
        return self._edge.response_object(
            id=run.id,
            status=status,
            status_details=final.get("status_details"),
            output=final.get("output", ()),
            conversation_id=run.conversation_id,
            usage=final.get("usage"),
            settings=run.settings,
        )

    def start(
        self,
        response_id: str,
        settings: ResponseSettings,
        conversation_id: str,
        trigger: Literal["client", "vad"],
    ) -> Run:
        run = Run(
            id=response_id,
            settings=settings,
            conversation_id=None if settings.conversation == "none" else conversation_id,
            trigger=trigger,
            number=self.started,
        )
        self.runs[response_id] = run
        self.started += 1
        self._emit(
            self._edge.response_created(
                self._ids("event"), self._response_object(run, "in_progress")
            )
        )
        return run

    def _run(self, response_id: str) -> Run:
        run = self.runs.get(response_id)
        if run is None:
            raise LocalProtocolError(
                f"response {response_id!r} is not in progress (it ended, or never began)",
                code="response_not_active",
            )
        return run

    # -- output ------------------------------------------------------------------------------

    def produce(self, response_id: str, chunk: OutputChunk) -> None:
        run = self._run(response_id)
        if run.open_kind == "mcp_call" and not isinstance(chunk, (McpResultChunk, Finish)):
            raise LocalProtocolError(
                f"the MCP call {run.open_item!r} waits for its result (McpResultChunk)",
                code="mcp_call_pending",
            )
        if (
            not run.out_of_band
            and _opens_item(run, chunk)
            and len(self._view.state.order) >= self._max_items
        ):
            self.finish(run, "failed", _CONVERSATION_FULL, None, "incomplete")
            return
        if isinstance(chunk, TextChunk):
            self._open_part(run, "text")
            self._delta(run, self._streams.text_delta, delta=chunk.text)
        elif isinstance(chunk, AudioChunk):
            if not run.settings.audio:
                raise LocalProtocolError(
                    f"response {response_id!r} has audio output off (output modalities {list(run.settings.output_modalities)})",
                    code="audio_disabled",
                )
            fmt = run.settings.output_format
            if len(chunk.audio) % FORMATS[fmt].sample_width:
                raise LocalProtocolError(
                    f"{len(chunk.audio)} bytes is not a whole number of {fmt} samples",
                    code="invalid_audio",
                )
            self._open_part(run, "audio")
            self.audio_produced = True
            self._delta(run, self._streams.audio_delta, delta=chunk.audio)
        elif isinstance(chunk, TranscriptChunk):
            self._open_part(run, "audio")
            self._delta(run, self._streams.transcript_delta, delta=chunk.text)
        elif isinstance(chunk, FunctionCallChunk):
            self._open_call(run, chunk)
        elif isinstance(chunk, ArgumentsChunk):
            if run.open_kind != "function_call" or run.open_item is None:
                raise LocalProtocolError(
                    "there is no function call to add arguments to", code="no_function_call"
                )
            self._arguments(run, chunk.delta)
        elif isinstance(chunk, McpCallChunk):
            self._mcp_call(run, chunk)
        elif isinstance(chunk, McpResultChunk):
            self._mcp_result(run, chunk)
        elif isinstance(chunk, EndItem):
            self._close_item(run, "completed")
        elif isinstance(chunk, Finish):
            item_status: ev.ItemStatus = (
                "completed" if chunk.status == "completed" else "incomplete"
            )
            self.finish(run, chunk.status, chunk.details, chunk.usage, item_status)

    def _rate_limits_update(self, run: Run) -> None:
        if self._rate_limits is not None:
            self._emit(
                ev.RateLimitsUpdated(
                    event_id=self._ids("event"), rate_limits=self._rate_limits(run.number)
                )
            )

    def _begin_output(self, run: Run) -> None:
        if run.started_output:
            return
        run.started_output = True
        if self._edge.rate_limits_first:
            self._rate_limits_update(run)

    def _open_item(self, run: Run, item: ItemState, kind: _Kind) -> None:
        self._begin_output(run)
        previous = self._view.state.order[-1] if self._view.state.order else None
        self._emit(
            self._edge.output_item(
                True,
                event_id=self._ids("event"),
                response_id=run.id,
                output_index=len(run.items),
                item=self._edge.wire_item(item),
            )
        )
        if not run.out_of_band:
            for event in self._edge.item_added(self._ids, previous, item, final=False):
                self._emit(event)
        run.items.append(item.id)
        run.previous[item.id] = previous
        run.open_item, run.open_kind = item.id, kind

    def _open_part(self, run: Run, kind: Literal["text", "audio"]) -> None:
        if run.open_kind == "function_call":
            self._close_item(run, "completed")
        if run.open_item is None:
            item = ItemState(
                id=self._ids("item"), type="message", status="in_progress", role="assistant"
            )
            self._open_item(run, item, "message")
        if run.open_part is not None and run.part_kind == kind:
            return
        if run.open_part is not None:
            self._close_part(run)
        assert run.open_item is not None
        item_state = self._view.state.item(run.open_item)
        assert item_state is not None
        index = len(item_state.content)
        part: beta.ContentPart = (
            ev.TextContent(text="") if kind == "text" else ev.AudioContent(transcript="")
        )
        self._emit(
            ev.ResponseContentPartAdded(
                event_id=self._ids("event"),
                response_id=run.id,
                item_id=run.open_item,
                output_index=len(run.items) - 1,
                content_index=index,
                part=part,
            )
        )
        run.open_part, run.part_kind = index, kind

    def _delta(self, run: Run, cls: Callable[..., ev.ServerEvent], **fields: object) -> None:
        assert run.open_item is not None and run.open_part is not None
        self._emit(
            cls(
                event_id=self._ids("event"),
                response_id=run.id,
                item_id=run.open_item,
                output_index=len(run.items) - 1,
                content_index=run.open_part,
                **fields,
            )
        )

    def _open_call(self, run: Run, chunk: FunctionCallChunk) -> None:
        if run.open_item is not None:
            self._close_item(run, "completed")
        call_id = chunk.call_id or self._ids("call")
        self.call_ids.add(call_id)
        item = ItemState(
            id=self._ids("item"),
            type="function_call",
            status="in_progress",
            name=chunk.name,
            call_id=call_id,
            arguments=TextChunks.of(""),
        )
        self._open_item(run, item, "function_call")
        if chunk.arguments:
            self._arguments(run, chunk.arguments)

    def _arguments(self, run: Run, delta: str) -> None:
        assert run.open_item is not None
        item = self._view.state.item(run.open_item)
        assert item is not None and item.call_id is not None
        self._emit(
            ev.ResponseFunctionCallArgumentsDelta(
                event_id=self._ids("event"),
                response_id=run.id,
                item_id=run.open_item,
                output_index=len(run.items) - 1,
                call_id=item.call_id,
                delta=delta,
            )
        )

    def _mcp_call(self, run: Run, chunk: McpCallChunk) -> None:
        label, name, arguments = chunk.server_label, chunk.name, chunk.arguments
        # Checked before anything is sent: a call that can never be made changes nothing.
        verdict = mcp_verdict(
            run.settings.tools, self._view.state.conversation, label, name, arguments
        )
        if run.open_item is not None:
            self._close_item(run, "completed")
        if verdict.action != "call":
            request = ItemState(
                id=self._ids("mcpr"),
                type="mcp_approval_request",
                server_label=label,
                name=name,
                arguments=TextChunks.of(arguments),
            )
            self._open_item(run, request, "mcp_approval_request")
            self._close_item(run, "completed")
            return
        item = ItemState(
            id=self._ids("mcp"),
            type="mcp_call",
            server_label=label,
            name=name,
            arguments=TextChunks.of(""),
            approval_request_id=verdict.approval_request_id,
        )
        self._open_item(run, item, "mcp_call")
        for event in self._edge.mcp_call_opened(
            self._ids, run.id, item.id, len(run.items) - 1, arguments
        ):
            self._emit(event)

    def _mcp_result(self, run: Run, chunk: McpResultChunk) -> None:
        if run.open_kind != "mcp_call":
            raise LocalProtocolError(
                "there is no MCP call waiting for a result", code="no_mcp_call"
            )
        if (chunk.output is None) == (chunk.error is None):
            raise LocalProtocolError(
                "an MCP result has exactly one of output and error", code="invalid_mcp_result"
            )
        self._end_mcp_call(run, chunk.output, chunk.error)

    def _end_mcp_call(self, run: Run, output: str | None, error: ga.McpError | None) -> None:
        assert run.open_item is not None
        self._emit(
            self._edge.mcp_call_closed(
                self._ids("event"), run.open_item, len(run.items) - 1, failed=error is not None
            )
        )
        self._close_item(run, "completed", output=output, error=error)

    # -- closing ---------------------------------------------------------------------------------

    def _close_part(self, run: Run) -> None:
        assert run.open_item is not None and run.open_part is not None
        item = self._view.state.item(run.open_item)
        assert item is not None
        part = item.content[run.open_part]
        final: beta.ContentPart
        if run.part_kind == "text":
            text = part.text.value if part.text is not None else ""
            self._delta(run, self._streams.text_done, text=text)
            final = ev.TextContent(text=text)
        else:
            transcript = part.transcript.value if part.transcript is not None else ""
            self._delta(run, self._streams.audio_done)
            self._delta(run, self._streams.transcript_done, transcript=transcript)
            final = ev.AudioContent(transcript=transcript)
        self._delta(run, ev.ResponseContentPartDone, part=final)
        run.open_part = run.part_kind = None

    def _close_item(self, run: Run, status: ev.ItemStatus, **result: Any) -> None:
        """Close the open item; ``result``: an MCP call's ``output`` / ``error``."""
        if run.open_item is None:
            return
        if run.open_kind == "mcp_call" and not result:
            self._end_mcp_call(run, None, _CUT_CALL)  # cut by the response's end
            return
        if run.open_part is not None:
            self._close_part(run)
        item = self._view.state.item(run.open_item)
        assert item is not None
        if run.open_kind == "function_call":
            assert item.call_id is not None
            self._emit(
                ev.ResponseFunctionCallArgumentsDone(
                    event_id=self._ids("event"),
                    response_id=run.id,
                    item_id=item.id,
                    output_index=len(run.items) - 1,
                    call_id=item.call_id,
                    name=item.name or "",
                    arguments=item.arguments.value if item.arguments is not None else "",
                )
            )
        self._emit(
            self._edge.output_item(
                False,
                event_id=self._ids("event"),
                response_id=run.id,
                output_index=len(run.items) - 1,
                item=self._edge.wire_item(msgspec.structs.replace(item, status=status, **result)),
            )
        )
        if not run.out_of_band:
            final = self._view.state.item(item.id)
            assert final is not None
            for event in self._edge.item_done(self._ids, run.previous[item.id], final):
                self._emit(event)
        run.open_item = run.open_kind = None

    def finish(
        self,
        run: Run,
        status: ev.ResponseStatus,
        details: ev.StatusDetails | None,
        usage: ev.Usage | None,
        item_status: ev.ItemStatus,
    ) -> None:
        """Close what is open and send the one ``response.done``."""
        if details is None and status in ("cancelled", "incomplete", "failed"):
            # Only a completed response has null details (docs/protocol/ga.md#response-object,
            # docs/protocol/beta.md#response-object).
            details = ev.StatusDetails(type=status)
        self._close_item(run, item_status)
        if run.started_output and not self._edge.rate_limits_first:
            self._rate_limits_update(run)
        state = self._view.state
        output = []
        for item_id in run.items:
            item = state.item(item_id)
            assert item is not None  # output items cannot be deleted while their response runs
            output.append(self._edge.wire_item(item))
        response = self._response_object(
            run, status, status_details=details, output=tuple(output), usage=usage or zero_usage()
        )
        del self.runs[run.id]
        self._emit(self._edge.response_done(self._ids("event"), response))
        self._on_finish(run)
