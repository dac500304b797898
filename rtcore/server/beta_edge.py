"""The beta dialect's edge of the server: reading its requests, writing its events.

The server's logic speaks one vocabulary (``rtcore.state.session.SessionState``,
``ItemState``, ``ResponseSettings``); this module is all that is beta about a
beta connection (docs/protocol/beta.md, docs/protocol/flows.md):

* reading: beta's reader, ``rtcore.rules.beta_read`` and
  ``rtcore.rules.items.check_beta_item`` (the client reads with the same);
* writing: the flat session echo (with ``temperature``, 0.8 unless set), items
  with ``object: "realtime.item"`` and ``text`` / ``audio`` parts, the beta
  response object, ``conversation.item.created`` (one event per item), the
  ``response.text.*`` / ``response.audio*`` stream names, and
  ``rate_limits.updated`` right after the response's first output begins.
"""

from __future__ import annotations

from typing import ClassVar

from .. import events as ev
from ..errors import LocalProtocolError
from ..events import beta, ga
from ..ids import IdFactory
from ..rules import beta_read
from ..rules.defaults import DEFAULT_FORMAT, DEFAULT_SPEED, DEFAULT_TEMPERATURE, DEFAULT_VOICE
from ..rules.items import check_beta_item
from ..rules.reading import Changes, Extras, Paths
from ..rules.turn_detection import to_beta as turn_detection_to_beta
from ..rules.wire_items import beta_wire_item
from ..state import ItemState
from ..state.session import SessionState
from .config import DEFAULT_MODEL
from .edge import Edge, SessionGiven, SessionRequest, Streams
from .effects import ResponseSettings

__all__ = ["BetaEdge"]


def _transcription_out(value: ga.Transcription | None) -> beta.InputAudioTranscription | None:
    if value is None:
        return None
    model = value.model if isinstance(value.model, str) else ev.UNSET
    return beta.InputAudioTranscription(model=model, language=value.language, prompt=value.prompt)


def _tool_out(tool: ga.Tool) -> beta.Tool:
    assert isinstance(tool, ga.FunctionTool)  # a beta session holds function tools only
    assert isinstance(tool.name, str)
    return beta.Tool(
        type="function", name=tool.name, description=tool.description, parameters=tool.parameters
    )


def _tool_choice_out(choice: ga.ToolChoice | None) -> beta.ToolChoice:
    if isinstance(choice, ga.ToolChoiceFunction):
        return beta.ToolChoiceFunction(type="function", name=choice.name)
    assert not isinstance(choice, ga.ToolChoiceMcp)
    return choice or "auto"


def _voice_out(voice: str | ga.VoiceId | None) -> str:
    if isinstance(voice, ga.VoiceId):
        return voice.id
    return voice or DEFAULT_VOICE


class BetaEdge(
    Edge[
        beta.SessionConfig,
        beta.ResponseParams | None | ev.UnsetType,
        beta.Item,
        beta.Item,
        beta.Response,
    ]
):
    """What is beta about a beta connection."""

    dialect: ClassVar[ev.Dialect] = "beta"
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]] = frozenset(
        beta.CLIENT_EVENTS.values()
    )
    streams: ClassVar[Streams] = Streams(
        text_delta=beta.ResponseTextDelta,
        text_done=beta.ResponseTextDone,
        audio_delta=beta.ResponseAudioDelta,
        audio_done=beta.ResponseAudioDone,
        transcript_delta=beta.ResponseAudioTranscriptDelta,
        transcript_done=beta.ResponseAudioTranscriptDone,
    )
    rate_limits_first: ClassVar[bool] = True
    max_event_id_length: ClassVar[int | None] = None

    # -- reading ------------------------------------------------------------------------

    def session_changes(
        self, update: beta.SessionConfig, current: SessionState
    ) -> tuple[Changes, Paths, Extras]:
        return beta_read.session_changes(update)

    def response_overrides(
        self, params: beta.ResponseParams | None | ev.UnsetType
    ) -> tuple[Changes, Paths]:
        return beta_read.response_overrides(params)

    def check_item(self, item: beta.Item, param: str, input_format: ev.AudioFormat) -> None:
        check_beta_item(item, param, input_format)

    # -- writing ------------------------------------------------------------------------

    def session_event(
        self, created: bool, config: SessionState, extras: Extras, event_id: str
    ) -> ev.ServerEvent:
        expires = ev.UNSET if config.expires_at is None else config.expires_at
        if config.kind == "transcription":
            session = ev.beta.TranscriptionSession(
                id=config.id or ev.UNSET,
                object="realtime.transcription_session",
                expires_at=expires,
                input_audio_format=config.input_format or DEFAULT_FORMAT,
                input_audio_transcription=_transcription_out(config.transcription),
                turn_detection=turn_detection_to_beta(config.turn_detection),
                input_audio_noise_reduction=(
                    None
                    if config.noise_reduction is None
                    else ev.beta.NoiseReduction(type=config.noise_reduction.type)
                ),
                include=config.include,
                modalities=("text",),
                client_secret=None,
            )
            kind = (
                ev.beta.TranscriptionSessionCreated
                if created
                else ev.beta.TranscriptionSessionUpdated
            )
            return kind(event_id=event_id, session=session)
        assert config.id is not None
        beta = ev.beta.Session(
            id=config.id,
            object="realtime.session",
            model=config.model or ev.UNSET,
            expires_at=expires,
            modalities=("text", "audio") if config.audio_output else ("text",),
            instructions=config.instructions or "",
            voice=_voice_out(config.voice),
            input_audio_format=config.input_format or DEFAULT_FORMAT,
            output_audio_format=config.output_format or DEFAULT_FORMAT,
            input_audio_transcription=_transcription_out(config.transcription),
            turn_detection=turn_detection_to_beta(config.turn_detection),
            tools=tuple(_tool_out(t) for t in config.tools),
            tool_choice=_tool_choice_out(config.tool_choice),
            temperature=extras.get("temperature", DEFAULT_TEMPERATURE),
            max_response_output_tokens=config.max_output_tokens or "inf",
            input_audio_noise_reduction=(
                None
                if config.noise_reduction is None
                else ev.beta.NoiseReduction(type=config.noise_reduction.type)
            ),
            speed=config.speed if config.speed is not None else DEFAULT_SPEED,
            tracing=config.tracing,
            include=config.include,
            client_secret=None,
        )
        kind2 = ev.beta.SessionCreated if created else ev.beta.SessionUpdated
        return kind2(event_id=event_id, session=beta)

    def wire_item(self, item: ItemState, *, with_audio: bool = False) -> beta.Item:
        return beta_wire_item(item, with_audio=with_audio)

    def item_added(
        self, ids: IdFactory, previous: str | None, item: ItemState, *, final: bool
    ) -> list[ev.ServerEvent]:
        wire = self.wire_item(item)
        return [
            beta.ConversationItemCreated(
                event_id=ids("event"), previous_item_id=previous, item=wire
            )
        ]

    def item_done(
        self, ids: IdFactory, previous: str | None, item: ItemState
    ) -> list[ev.ServerEvent]:
        return []  # beta has no "item final" event (docs/protocol/dialects.md#server-events)

    def response_object(
        self,
        *,
        id: str,
        status: ev.ResponseStatus,
        status_details: ev.StatusDetails | None,
        output: tuple[beta.Item, ...],
        conversation_id: str | None,
        usage: ev.Usage | None,
        settings: ResponseSettings,
    ) -> beta.Response:
        return beta.Response(
            id=id,
            object="realtime.response",
            status=status,
            status_details=status_details,
            output=output,
            conversation_id=conversation_id,
            usage=usage,
            modalities=settings.modalities,
            voice=_voice_out(settings.voice),
            output_audio_format=settings.output_format,
            temperature=(
                settings.temperature if settings.temperature is not None else DEFAULT_TEMPERATURE
            ),
            max_output_tokens=settings.max_output_tokens,
            metadata=settings.metadata,
        )

    def response_created(self, event_id: str, response: beta.Response) -> ev.ServerEvent:
        return beta.ResponseCreated(event_id=event_id, response=response)

    def response_done(self, event_id: str, response: beta.Response) -> ev.ServerEvent:
        return beta.ResponseDone(event_id=event_id, response=response)

    def output_item(
        self, added: bool, *, event_id: str, response_id: str, output_index: int, item: beta.Item
    ) -> ev.ServerEvent:
        kind = beta.ResponseOutputItemAdded if added else beta.ResponseOutputItemDone
        return kind(
            event_id=event_id, response_id=response_id, output_index=output_index, item=item
        )

    def retrieved(self, event_id: str, item: beta.Item) -> ev.ServerEvent:
        return beta.ConversationItemRetrieved(event_id=event_id, item=item)

    # -- what else is beta's ------------------------------------------------------------

    default_model: ClassVar[str] = DEFAULT_MODEL

    def session_of(self, request: SessionRequest, current: SessionState) -> SessionGiven:
        """``session.update`` carries a flat session; ``transcription_session.update`` the
        members of one a transcription session has (which update a session of
        ``current.kind`` takes is ``rtcore.rules.requests.check_kind``'s rule)."""
        if isinstance(request, beta.SessionUpdate):
            return request.session
        if isinstance(request, beta.TranscriptionSessionUpdate):
            return beta_read.transcription_session_config(request.session)
        raise TypeError(f"a beta session takes no {type(request).__name__}")

    def session_temperature(self, extras: Extras) -> float | None:
        return extras.get("temperature")

    def mcp_call_opened(
        self, ids: IdFactory, response_id: str, item_id: str, output_index: int, arguments: str
    ) -> list[ev.ServerEvent]:
        raise _NO_MCP

    def mcp_call_closed(
        self, event_id: str, item_id: str, output_index: int, *, failed: bool
    ) -> ev.ServerEvent:
        raise _NO_MCP

    def mcp_listing_opened(self, event_id: str, item_id: str) -> ev.ServerEvent:
        raise _NO_MCP

    def mcp_listing_closed(self, event_id: str, item_id: str, *, failed: bool) -> ev.ServerEvent:
        raise _NO_MCP


_NO_MCP = LocalProtocolError(
    "the beta dialect has no MCP tools (a beta session configures function tools only)",
    code="mcp_not_in_dialect",
)
