"""The GA dialect's edge of the server: reading its requests, writing its events.

All that is GA about a GA connection (docs/protocol/ga.md#objects,
docs/protocol/ga.md#client-events, docs/protocol/flows.md):

* reading: GA's reader, ``rtcore.rules.ga_read`` and
  ``rtcore.rules.items.check_ga_item`` (the client reads with the same); a
  client ``event_id`` has at most 512 characters (``rtcore.rules.event_id``);
* writing: the nested session echo with every nullable member as ``null``,
  items without ``object`` and with ``output_text`` / ``output_audio``
  parts, the GA response object (``output_modalities``, ``audio.output``),
  ``conversation.item.added`` followed by ``conversation.item.done`` (at once
  for complete items, after ``response.output_item.done`` for output items),
  the ``response.output_*`` stream names, and ``rate_limits.updated`` once per
  response after its last part, before ``response.done``.
"""

from __future__ import annotations

from typing import ClassVar

from msgspec.structs import replace

from .. import events as ev
from ..events import ga
from ..ids import IdFactory
from ..rules import ga_read
from ..rules.defaults import DEFAULT_FORMAT, DEFAULT_SPEED, DEFAULT_VOICE
from ..rules.event_id import GA_MAX_EVENT_ID_LENGTH
from ..rules.items import check_ga_item
from ..rules.reading import Changes, Extras, Paths
from ..rules.wire_items import ga_wire_item
from ..state import ItemState
from ..state.session import SessionState, format_to_ga
from .config import DEFAULT_GA_MODEL
from .edge import Edge, SessionGiven, SessionRequest, Streams
from .effects import ResponseSettings

__all__ = ["GAEdge"]


def _voice_out(voice: str | ga.VoiceId | None) -> str | ga.VoiceId:
    return voice if voice is not None else DEFAULT_VOICE


class GAEdge(
    Edge[
        ga.SessionConfig,
        ga.ResponseParams | None | ev.UnsetType,
        ga.Item,
        ga.Item,
        ga.Response,
    ]
):
    """What is GA about a GA connection."""

    dialect: ClassVar[ev.Dialect] = "ga"
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]] = frozenset(ga.CLIENT_EVENTS.values())
    streams: ClassVar[Streams] = Streams(
        text_delta=ga.ResponseOutputTextDelta,
        text_done=ga.ResponseOutputTextDone,
        audio_delta=ga.ResponseOutputAudioDelta,
        audio_done=ga.ResponseOutputAudioDone,
        transcript_delta=ga.ResponseOutputAudioTranscriptDelta,
        transcript_done=ga.ResponseOutputAudioTranscriptDone,
    )
    rate_limits_first: ClassVar[bool] = False
    max_event_id_length: ClassVar[int | None] = GA_MAX_EVENT_ID_LENGTH

    # -- reading ------------------------------------------------------------------------

    def session_changes(
        self, update: ga.SessionConfig, current: SessionState
    ) -> tuple[Changes, Paths, Extras]:
        return ga_read.session_changes(update, current)

    def response_overrides(
        self, params: ga.ResponseParams | None | ev.UnsetType
    ) -> tuple[Changes, Paths]:
        return ga_read.response_overrides(params)

    def check_item(self, item: ga.Item, param: str, input_format: ev.AudioFormat) -> None:
        check_ga_item(item, param, input_format)

    # -- writing ------------------------------------------------------------------------

    def _audio_input(self, config: SessionState) -> ga.AudioInput:
        return ga.AudioInput(
            format=format_to_ga(config.input_format or DEFAULT_FORMAT),
            transcription=config.transcription,
            noise_reduction=config.noise_reduction,
            turn_detection=config.turn_detection,
        )

    def session_event(
        self, created: bool, config: SessionState, extras: Extras, event_id: str
    ) -> ev.ServerEvent:
        expires = ev.UNSET if config.expires_at is None else config.expires_at
        session: ga.Session
        if config.kind == "transcription":
            session = ga.TranscriptionSession(
                id=config.id or ev.UNSET,
                object="realtime.transcription_session",
                expires_at=expires,
                audio=ga.TranscriptionAudio(input=self._audio_input(config)),
                include=config.include,
            )
        else:
            session = ga.RealtimeSession(
                id=config.id or ev.UNSET,
                object="realtime.session",
                model=config.model or ev.UNSET,
                output_modalities=config.output_modalities or ("audio",),
                instructions=config.instructions or "",
                tools=config.tools,
                tool_choice=config.tool_choice or "auto",
                max_output_tokens=config.max_output_tokens or "inf",
                tracing=config.tracing,
                truncation=config.truncation or "auto",
                prompt=config.prompt,
                expires_at=expires,
                audio=ga.AudioConfig(
                    input=self._audio_input(config),
                    output=ga.AudioOutput(
                        format=format_to_ga(config.output_format or DEFAULT_FORMAT),
                        voice=_voice_out(config.voice),
                        speed=config.speed if config.speed is not None else DEFAULT_SPEED,
                    ),
                ),
                include=config.include,
                reasoning=config.reasoning if config.reasoning is not None else ev.UNSET,
                parallel_tool_calls=(
                    config.parallel_tool_calls
                    if config.parallel_tool_calls is not None
                    else ev.UNSET
                ),
            )
        kind = ga.SessionCreated if created else ga.SessionUpdated
        return kind(event_id=event_id, session=session)

    def wire_item(self, item: ItemState, *, with_audio: bool = False) -> ga.Item:
        return ga_wire_item(item, with_audio=with_audio)

    def item_added(
        self, ids: IdFactory, previous: str | None, item: ItemState, *, final: bool
    ) -> list[ev.ServerEvent]:
        wire = self.wire_item(item)
        added = ga.ConversationItemAdded(
            event_id=ids("event"), previous_item_id=previous, item=wire
        )
        if not final:
            return [added]
        done = ga.ConversationItemDone(event_id=ids("event"), previous_item_id=previous, item=wire)
        return [added, done]

    def item_done(
        self, ids: IdFactory, previous: str | None, item: ItemState
    ) -> list[ev.ServerEvent]:
        wire = self.wire_item(item)
        return [
            ga.ConversationItemDone(event_id=ids("event"), previous_item_id=previous, item=wire)
        ]

    def response_object(
        self,
        *,
        id: str,
        status: ev.ResponseStatus,
        status_details: ev.StatusDetails | None,
        output: tuple[ga.Item, ...],
        conversation_id: str | None,
        usage: ev.Usage | None,
        settings: ResponseSettings,
    ) -> ga.Response:
        return ga.Response(
            id=id,
            object="realtime.response",
            status=status,
            status_details=status_details,
            output=output,
            conversation_id=conversation_id,
            usage=with_image_tokens(usage) if usage is not None else None,
            output_modalities=settings.output_modalities,
            max_output_tokens=settings.max_output_tokens,
            audio=ga.ResponseAudio(
                output=ga.ResponseAudioOutput(
                    format=format_to_ga(settings.output_format), voice=settings.voice
                )
            ),
            metadata=settings.metadata,
        )

    def response_created(self, event_id: str, response: ga.Response) -> ev.ServerEvent:
        return ga.ResponseCreated(event_id=event_id, response=response)

    def response_done(self, event_id: str, response: ga.Response) -> ev.ServerEvent:
        return ga.ResponseDone(event_id=event_id, response=response)

    def output_item(
        self, added: bool, *, event_id: str, response_id: str, output_index: int, item: ga.Item
    ) -> ev.ServerEvent:
        kind = ga.ResponseOutputItemAdded if added else ga.ResponseOutputItemDone
        return kind(
            event_id=event_id, response_id=response_id, output_index=output_index, item=item
        )

    def retrieved(self, event_id: str, item: ga.Item) -> ev.ServerEvent:
        return ga.ConversationItemRetrieved(event_id=event_id, item=item)

    # -- what else is GA's -----------------------------------------------------------------

    default_model: ClassVar[str] = DEFAULT_GA_MODEL

    def session_of(self, request: SessionRequest, current: SessionState) -> SessionGiven:
        """``session.update`` changes either kind of GA session (its ``session.type`` says which)."""
        if not isinstance(request, ga.SessionUpdate):
            raise TypeError(f"a GA session takes no {type(request).__name__}")
        return request.session

    def session_temperature(self, extras: Extras) -> float | None:
        return None  # GA sessions have no temperature (docs/protocol/ga.md#session)

    def mcp_call_opened(
        self, ids: IdFactory, response_id: str, item_id: str, output_index: int, arguments: str
    ) -> list[ev.ServerEvent]:
        return [
            ga.ResponseMcpCallArgumentsDelta(
                event_id=ids("event"),
                response_id=response_id,
                item_id=item_id,
                output_index=output_index,
                delta=arguments,
            ),
            ga.ResponseMcpCallArgumentsDone(
                event_id=ids("event"),
                response_id=response_id,
                item_id=item_id,
                output_index=output_index,
                arguments=arguments,
            ),
            ga.ResponseMcpCallInProgress(
                event_id=ids("event"), item_id=item_id, output_index=output_index
            ),
        ]

    def mcp_call_closed(
        self, event_id: str, item_id: str, output_index: int, *, failed: bool
    ) -> ev.ServerEvent:
        ended = ga.ResponseMcpCallFailed if failed else ga.ResponseMcpCallCompleted
        return ended(event_id=event_id, item_id=item_id, output_index=output_index)

    def mcp_listing_opened(self, event_id: str, item_id: str) -> ev.ServerEvent:
        return ga.McpListToolsInProgress(event_id=event_id, item_id=item_id)

    def mcp_listing_closed(self, event_id: str, item_id: str, *, failed: bool) -> ev.ServerEvent:
        ended = ga.McpListToolsFailed if failed else ga.McpListToolsCompleted
        return ended(event_id=event_id, item_id=item_id)


def with_image_tokens(usage: ev.Usage) -> ev.Usage:
    """``usage`` with GA's image counters, 0 where a backend left them out.

    A GA server sends every counter of ``usage``, the image ones included
    (docs/protocol/ga.md#response-object); backends count in dialect-neutral terms and rarely see
    images, so the edge fills the gaps rather than every backend.
    """
    details = usage.input_token_details
    if not isinstance(details, ev.InputTokenDetails):
        return usage
    cached = details.cached_tokens_details
    if isinstance(cached, ev.CachedTokensDetails) and cached.image_tokens is ev.UNSET:
        cached = replace(cached, image_tokens=0)
    images = 0 if details.image_tokens is ev.UNSET else details.image_tokens
    details = replace(details, image_tokens=images, cached_tokens_details=cached)
    return replace(usage, input_token_details=details)
