"""The GA dialect's edge of the server: reading its requests, writing its events.

All that is GA about a GA connection (GA.md sections 2, 3 and 10):

* reading: the nested session (``session.type`` required and matching the
  connection, ``audio.input`` / ``audio.output`` merged field by field,
  format objects, MCP tools, ``truncation``, ``prompt``, ``tracing``), the
  ``response.create`` parameters (``output_modalities``,
  ``audio.output``, ``max_output_tokens``, ``metadata``, ``input``), and
  GA's item rules: assistant text is ``output_text``, users may send
  ``input_image`` (a PNG or JPEG data URI), MCP approval responses are items;
  a client ``event_id`` has at most 512 characters;
* writing: the nested session echo with every nullable member as ``null``,
  items without ``object`` and with ``output_text`` / ``output_audio``
  parts, the GA response object (``output_modalities``, ``audio.output``),
  ``conversation.item.added`` followed by ``conversation.item.done`` (at once
  for complete items, after ``response.output_item.done`` for output items),
  the ``response.output_*`` stream names, and ``rate_limits.updated`` once per
  response after its last part, before ``response.done``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from msgspec.structs import replace

from .. import events as ev
from ..events import ga
from ..state import ItemState
from ..state.session import SessionState, format_from_ga, format_to_ga
from .edge import EdgeEvents, Streams, check_parts, given_fields, item_text, transcript_text
from .settings import NOT_SET_WHEN_NULL, Invalid, missing

__all__ = ["GAEdge"]

_PATHS = {
    "input_format": "session.audio.input.format",
    "transcription": "session.audio.input.transcription",
    "turn_detection": "session.audio.input.turn_detection",
    "noise_reduction": "session.audio.input.noise_reduction",
    "output_format": "session.audio.output.format",
    "voice": "session.audio.output.voice",
    "speed": "session.audio.output.speed",
}
_RESPONSE_PATHS = {
    "output_format": "response.audio.output.format",
    "voice": "response.audio.output.voice",
}
_PARTS_BY_ROLE = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text",),
}
_IMAGE_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,")


def _keep(changes: dict[str, Any], name: str, value: Any) -> None:
    """Record a change; ``null`` means "not set" for fields without an off state."""
    if value is None and name in NOT_SET_WHEN_NULL:
        return
    if name in ("input_format", "output_format"):
        value = format_from_ga(value)
    changes[name] = value


def _audio_changes(audio: Any, changes: dict[str, Any]) -> None:
    given = given_fields(audio)
    for name, value in given_fields(given.get("input")).items():
        _keep(changes, "input_format" if name == "format" else name, value)
    for name, value in given_fields(given.get("output")).items():
        _keep(changes, "output_format" if name == "format" else name, value)


def _voice_out(voice: str | ga.VoiceId | None) -> str | ga.VoiceId:
    return voice if voice is not None else "alloy"


class GAEdge(EdgeEvents):
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
    response_created_class = ga.ResponseCreated
    response_done_class = ga.ResponseDone
    output_item_added_class = ga.ResponseOutputItemAdded
    output_item_done_class = ga.ResponseOutputItemDone
    retrieved_class = ga.ConversationItemRetrieved
    rate_limits_first: ClassVar[bool] = False
    # The spec's maxLength of every client event_id but output_audio_buffer.clear's (GA.md 1.6).
    max_event_id_length: ClassVar[int | None] = 512

    # -- reading ------------------------------------------------------------------------

    def session_changes(
        self, update: Any, current: SessionState
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
        if update.type != current.kind:
            # GA.md 12.5 leaves open whether a session may change type; we say no.
            raise Invalid(
                "invalid_value",
                f"Invalid value: '{update.type}'. This is a {current.kind} session; its type"
                " cannot be changed (connect with ?intent=transcription for a transcription session).",
                "session.type",
            )
        changes: dict[str, Any] = {}
        for name, value in given_fields(update).items():
            if name == "audio":
                _audio_changes(value, changes)
            else:
                _keep(changes, name, value)
        return changes, _PATHS, {}

    def response_overrides(self, params: Any) -> tuple[dict[str, Any], dict[str, str]]:
        overrides: dict[str, Any] = {}
        for name, value in given_fields(params).items():
            if name == "audio":
                for member, setting in given_fields(given_fields(value).get("output")).items():
                    _keep(overrides, "output_format" if member == "format" else member, setting)
            elif value is not None:
                overrides[name] = value
        return overrides, _RESPONSE_PATHS

    def check_item(self, item: Any, param: str, input_format: ev.AudioFormat) -> None:
        if isinstance(item, ga.MessageItem):
            check_parts(item, param, input_format, _PARTS_BY_ROLE, "output_text")
            for i, part in enumerate(item.content):  # type: ignore[arg-type]
                if isinstance(part, ga.InputImageContent):
                    where = f"{param}.content[{i}].image_url"
                    if not isinstance(part.image_url, str):
                        raise missing(where)
                    if not part.image_url.startswith(_IMAGE_PREFIXES):
                        raise Invalid(
                            "invalid_value",
                            "Invalid image_url: expected a PNG or JPEG data URI"
                            " (data:image/png;base64,... or data:image/jpeg;base64,...).",
                            where,
                        )
                elif isinstance(part, ga.OutputTextContent) and not isinstance(part.text, str):
                    raise missing(f"{param}.content[{i}].text")
        elif isinstance(item, ev.FunctionCallItem):
            for name in ("call_id", "name", "arguments"):
                if isinstance(getattr(item, name), ev.UnsetType):
                    raise missing(f"{param}.{name}")
        elif isinstance(item, ev.FunctionCallOutputItem) and isinstance(item.output, ev.UnsetType):
            raise missing(f"{param}.output")
        item_id = getattr(item, "id", ev.UNSET)
        if isinstance(item_id, str) and not item_id:
            raise Invalid("invalid_value", "Item ids cannot be empty.", f"{param}.id")

    # -- writing ------------------------------------------------------------------------

    def _audio_input(self, config: SessionState) -> ga.AudioInput:
        return ga.AudioInput(
            format=format_to_ga(config.input_format or "pcm16"),
            transcription=config.transcription,
            noise_reduction=config.noise_reduction,
            turn_detection=config.turn_detection,
        )

    def session_event(
        self, created: bool, config: SessionState, extras: dict[str, Any], event_id: str
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
                        format=format_to_ga(config.output_format or "pcm16"),
                        voice=_voice_out(config.voice),
                        speed=config.speed if config.speed is not None else 1.0,
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

    def wire_item(self, item: ItemState, *, with_audio: bool = False) -> Any:
        status = item.status if item.status is not None else ev.UNSET
        kind = item.type
        if kind == "function_call":
            return ev.FunctionCallItem(
                id=item.id,
                status=status,
                name=item.name if item.name is not None else ev.UNSET,
                call_id=item.call_id if item.call_id is not None else ev.UNSET,
                arguments=item.arguments.value if item.arguments is not None else "",
            )
        if kind == "function_call_output":
            assert item.call_id is not None
            return ev.FunctionCallOutputItem(
                id=item.id, status=status, call_id=item.call_id, output=item.output or ""
            )
        if kind == "mcp_list_tools":
            return ga.McpListToolsItem(
                id=item.id, server_label=item.server_label or "", tools=item.tools or ()
            )
        if kind == "mcp_call":
            return ga.McpCallItem(
                id=item.id,
                server_label=item.server_label or "",
                name=item.name or "",
                arguments=item.arguments.value if item.arguments is not None else "",
                approval_request_id=item.approval_request_id,
                output=item.output,
                error=item.error,
            )
        if kind == "mcp_approval_request":
            return ga.McpApprovalRequestItem(
                id=item.id,
                server_label=item.server_label or "",
                name=item.name or "",
                arguments=item.arguments.value if item.arguments is not None else "",
            )
        if kind == "mcp_approval_response":
            return ga.McpApprovalResponseItem(
                id=item.id,
                approval_request_id=item.approval_request_id or "",
                approve=bool(item.approve),
                reason=item.reason if item.reason is not None else ev.UNSET,
            )
        parts: list[ga.ContentPart] = []
        for part in item.content:
            audio = part.audio.value if with_audio and part.audio else ev.UNSET
            if part.type == "text":
                parts.append(ga.OutputTextContent(text=item_text(part)))
            elif part.type == "input_text":
                parts.append(ev.InputTextContent(text=item_text(part)))
            elif part.type == "audio":
                parts.append(
                    ga.OutputAudioContent(transcript=transcript_text(part) or "", audio=audio)
                )
            elif part.type == "input_audio":
                parts.append(ev.InputAudioContent(transcript=transcript_text(part), audio=audio))
            elif part.type == "input_image":
                parts.append(
                    ga.InputImageContent(
                        image_url=part.image_url or ev.UNSET,
                        detail=part.detail or ev.UNSET,  # type: ignore[arg-type]
                    )
                )
        assert item.role is not None
        return ga.MessageItem(id=item.id, status=status, role=item.role, content=tuple(parts))

    def item_added(
        self, ids: Any, previous: str | None, item: ItemState, *, final: bool
    ) -> list[ev.ServerEvent]:
        wire = self.wire_item(item)
        added = ga.ConversationItemAdded(
            event_id=ids("event"), previous_item_id=previous, item=wire
        )
        if not final:
            return [added]
        done = ga.ConversationItemDone(event_id=ids("event"), previous_item_id=previous, item=wire)
        return [added, done]

    def item_done(self, ids: Any, previous: str | None, item: ItemState) -> list[ev.ServerEvent]:
        wire = self.wire_item(item)
        return [
            ga.ConversationItemDone(event_id=ids("event"), previous_item_id=previous, item=wire)
        ]

    def response_object(self, **fields: Any) -> Any:
        settings = fields.pop("settings")
        usage = fields.get("usage")
        if isinstance(usage, ev.Usage):
            fields["usage"] = with_image_tokens(usage)
        return ga.Response(
            object="realtime.response",
            output_modalities=settings.output_modalities,
            max_output_tokens=settings.max_output_tokens,
            audio=ga.ResponseAudio(
                output=ga.ResponseAudioOutput(
                    format=format_to_ga(settings.output_format), voice=settings.voice
                )
            ),
            metadata=settings.metadata,
            **fields,
        )


def with_image_tokens(usage: ev.Usage) -> ev.Usage:
    """``usage`` with GA's image counters, 0 where a backend left them out.

    A GA server sends every counter of ``usage``, the image ones included
    (GA.md 2.11); backends count in dialect-neutral terms and rarely see
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
