"""The beta dialect's edge of the server: reading its requests, writing its events.

The server's logic speaks one vocabulary (``rtcore.state.SessionState``,
``ItemState``, ``ResponseSettings``); this module is all that is beta about a
beta connection (EVENTS.md, SEQUENCES.md):

* reading: the flat ``session.update`` session (``modalities`` of
  ``["text"]`` or ``["audio", "text"]``, ``input_audio_format``,
  ``turn_detection``, ``temperature`` 0.6-1.2, ...), the flat
  ``response.create`` parameters, and the item rules of SEQUENCES.md 8.4
  (assistant parts are ``text``);
* writing: the flat session echo (with ``temperature``, 0.8 unless set), items
  with ``object: "realtime.item"`` and ``text`` / ``audio`` parts, the beta
  response object, ``conversation.item.created`` (one event per item), the
  ``response.text.*`` / ``response.audio*`` stream names, and
  ``rate_limits.updated`` right after the response's first output begins.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .. import events as ev
from ..events import beta, ga
from ..state import ItemState
from ..state.session import (
    SessionState,
    modalities_from_beta,
    tool_choice_from_beta,
    tool_from_beta,
    transcription_from_beta,
)
from .edge import EdgeEvents, Streams, check_parts, given_fields, item_text, transcript_text
from .settings import NOT_SET_WHEN_NULL, Invalid, check_range, missing

__all__ = ["BetaEdge"]

_SESSION_NAMES = {
    "modalities": "output_modalities",
    "input_audio_format": "input_format",
    "output_audio_format": "output_format",
    "input_audio_transcription": "transcription",
    "input_audio_noise_reduction": "noise_reduction",
    "max_response_output_tokens": "max_output_tokens",
}
_PATHS = {neutral: f"session.{wire}" for wire, neutral in _SESSION_NAMES.items()}
_RESPONSE_PATHS = {
    "output_modalities": "response.modalities",
    "output_format": "response.output_audio_format",
    "max_output_tokens": "response.max_response_output_tokens",
}
_PARTS_BY_ROLE = {
    "user": ("input_text", "input_audio"),
    "system": ("input_text",),
    "assistant": ("text",),
}


def _check_modalities(param: str, modalities: tuple[str, ...]) -> None:
    if sorted(modalities) not in (["text"], ["audio", "text"]):
        raise Invalid(
            "invalid_value",
            f"Invalid modalities: {list(modalities)!r}. Supported combinations are: ['text'] and ['audio', 'text'].",
            param,
        )


def _turn_detection(param: str, given: beta.TurnDetection) -> ga.ServerVad | ga.SemanticVad:
    """Beta turn detection as its GA object; fields of the other VAD type are unknown (GA.md 2.3)."""
    kind = "server_vad" if isinstance(given.type, ev.UnsetType) else given.type
    if kind == "semantic_vad":
        for name in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            if getattr(given, name) is not None and not isinstance(
                getattr(given, name), ev.UnsetType
            ):
                raise Invalid(
                    "unknown_parameter",
                    f"Unknown parameter: '{param}.{name}' (semantic_vad has no {name}).",
                    f"{param}.{name}",
                )
        return ga.SemanticVad(
            eagerness=given.eagerness,
            create_response=given.create_response,
            interrupt_response=given.interrupt_response,
        )
    if not isinstance(given.eagerness, ev.UnsetType):
        raise Invalid(
            "unknown_parameter", f"Unknown parameter: '{param}.eagerness'.", f"{param}.eagerness"
        )
    return ga.ServerVad(
        threshold=given.threshold,
        prefix_padding_ms=given.prefix_padding_ms,
        silence_duration_ms=given.silence_duration_ms,
        idle_timeout_ms=given.idle_timeout_ms,
        create_response=given.create_response,
        interrupt_response=given.interrupt_response,
    )


def _tools(param: str, tools: tuple[beta.Tool, ...]) -> tuple[ga.Tool, ...]:
    for i, tool in enumerate(tools):
        if not tool.name:
            raise missing(f"{param}[{i}].name")
    return tuple(tool_from_beta(t) for t in tools)


def _tool_choice(param: str, choice: beta.ToolChoice) -> ga.ToolChoice:
    if isinstance(choice, beta.ToolChoiceFunction) and choice.function_name is None:
        raise missing(f"{param}.name")
    converted = tool_choice_from_beta(choice)
    assert converted is not None
    return converted


def _common(fields: dict[str, Any], prefix: str) -> tuple[dict[str, Any], float | None]:
    """The neutral changes of beta fields shared by sessions and responses, and the temperature."""
    out: dict[str, Any] = {}
    temperature: float | None = None
    for wire, value in fields.items():
        name = _SESSION_NAMES.get(wire, wire)
        if value is None and name in NOT_SET_WHEN_NULL | {"temperature", "conversation", "input"}:
            continue
        where = f"{prefix}.{wire}"
        if wire == "modalities":
            _check_modalities(where, value)
            value = modalities_from_beta(value)
        elif wire == "turn_detection" and value is not None:
            value = _turn_detection(where, value)
        elif wire == "input_audio_transcription":
            value = transcription_from_beta(value)
        elif wire == "input_audio_noise_reduction" and value is not None:
            value = ga.NoiseReduction(type=value.type)
        elif wire == "tools":
            value = _tools(where, value)
        elif wire == "tool_choice":
            value = _tool_choice(where, value)
        elif wire == "temperature":
            check_range(where, value, 0.6, 1.2)
            temperature = value
            continue
        out[name] = value
    return out, temperature


def _turn_detection_out(value: ga.ServerVad | ga.SemanticVad | None) -> beta.TurnDetection | None:
    if value is None:
        return None
    if isinstance(value, ga.SemanticVad):
        return beta.TurnDetection(
            type="semantic_vad",
            eagerness=value.eagerness,  # type: ignore[arg-type]
            create_response=value.create_response,  # type: ignore[arg-type]
            interrupt_response=value.interrupt_response,  # type: ignore[arg-type]
        )
    return beta.TurnDetection(
        type="server_vad",
        threshold=value.threshold,  # type: ignore[arg-type]
        prefix_padding_ms=value.prefix_padding_ms,  # type: ignore[arg-type]
        silence_duration_ms=value.silence_duration_ms,  # type: ignore[arg-type]
        create_response=value.create_response,  # type: ignore[arg-type]
        interrupt_response=value.interrupt_response,  # type: ignore[arg-type]
        idle_timeout_ms=ev.UNSET if value.idle_timeout_ms is None else value.idle_timeout_ms,
    )


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
    return voice or "alloy"


class BetaEdge(EdgeEvents):
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
    response_created_class = beta.ResponseCreated
    response_done_class = beta.ResponseDone
    output_item_added_class = beta.ResponseOutputItemAdded
    output_item_done_class = beta.ResponseOutputItemDone
    retrieved_class = beta.ConversationItemRetrieved
    rate_limits_first: ClassVar[bool] = True
    max_event_id_length: ClassVar[int | None] = None

    # -- reading ------------------------------------------------------------------------

    def session_changes(
        self, update: Any, current: SessionState
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
        assert isinstance(update, beta.SessionConfig)
        changes, temperature = _common(given_fields(update), "session")
        extras = {} if temperature is None else {"temperature": temperature}
        return changes, _PATHS, extras

    def response_overrides(self, params: Any) -> tuple[dict[str, Any], dict[str, str]]:
        if params is None or isinstance(params, ev.UnsetType):
            return {}, _RESPONSE_PATHS
        assert isinstance(params, beta.ResponseParams)
        given = given_fields(params)
        # max_output_tokens is the Oct 2024 draft's name for the same cap.
        cap = given.pop("max_output_tokens", None)
        if cap is not None and "max_response_output_tokens" not in given:
            given["max_response_output_tokens"] = cap
            paths = {**_RESPONSE_PATHS, "max_output_tokens": "response.max_output_tokens"}
        else:
            paths = _RESPONSE_PATHS
        inputs = given.pop("input", None)
        overrides, temperature = _common(given, "response")
        if temperature is not None:
            overrides["temperature"] = temperature
        if inputs is not None:
            overrides["input"] = inputs
        return overrides, paths

    def check_item(self, item: Any, param: str, input_format: ev.AudioFormat) -> None:
        if isinstance(item, beta.MessageItem):
            check_parts(item, param, input_format, _PARTS_BY_ROLE, "text")
        elif isinstance(item, ev.FunctionCallItem):
            for name in ("call_id", "name", "arguments"):
                if isinstance(getattr(item, name), ev.UnsetType):
                    raise missing(f"{param}.{name}")
        elif isinstance(item, ev.FunctionCallOutputItem) and isinstance(item.output, ev.UnsetType):
            raise missing(f"{param}.output")
        if isinstance(item.id, str) and not item.id:
            raise Invalid("invalid_value", "Item ids cannot be empty.", f"{param}.id")

    # -- writing ------------------------------------------------------------------------

    def session_event(
        self, created: bool, config: SessionState, extras: dict[str, Any], event_id: str
    ) -> ev.ServerEvent:
        expires = ev.UNSET if config.expires_at is None else config.expires_at
        if config.kind == "transcription":
            session = ev.beta.TranscriptionSession(
                id=config.id or ev.UNSET,
                object="realtime.transcription_session",
                expires_at=expires,
                input_audio_format=config.input_format or "pcm16",
                input_audio_transcription=_transcription_out(config.transcription),
                turn_detection=_turn_detection_out(config.turn_detection),
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
            input_audio_format=config.input_format or "pcm16",
            output_audio_format=config.output_format or "pcm16",
            input_audio_transcription=_transcription_out(config.transcription),
            turn_detection=_turn_detection_out(config.turn_detection),
            tools=tuple(_tool_out(t) for t in config.tools),
            tool_choice=_tool_choice_out(config.tool_choice),
            temperature=extras.get("temperature", 0.8),
            max_response_output_tokens=config.max_output_tokens or "inf",
            input_audio_noise_reduction=(
                None
                if config.noise_reduction is None
                else ev.beta.NoiseReduction(type=config.noise_reduction.type)
            ),
            speed=config.speed if config.speed is not None else 1.0,
            tracing=config.tracing,
            include=config.include,
            client_secret=None,
        )
        kind2 = ev.beta.SessionCreated if created else ev.beta.SessionUpdated
        return kind2(event_id=event_id, session=beta)

    def wire_item(self, item: ItemState, *, with_audio: bool = False) -> Any:
        status = item.status if item.status is not None else ev.UNSET
        if item.type == "function_call":
            return ev.FunctionCallItem(
                id=item.id,
                object="realtime.item",
                status=status,
                name=item.name if item.name is not None else ev.UNSET,
                call_id=item.call_id if item.call_id is not None else ev.UNSET,
                arguments=item.arguments.value if item.arguments is not None else "",
            )
        if item.type == "function_call_output":
            assert item.call_id is not None
            return ev.FunctionCallOutputItem(
                id=item.id,
                object="realtime.item",
                status=status,
                call_id=item.call_id,
                output=item.output if item.output is not None else "",
            )
        parts: list[beta.ContentPart] = []
        for part in item.content:
            audio = part.audio.value if with_audio and part.audio else ev.UNSET
            if part.type == "text":
                parts.append(ev.TextContent(text=item_text(part)))
            elif part.type == "input_text":
                parts.append(ev.InputTextContent(text=item_text(part)))
            elif part.type == "audio":
                parts.append(ev.AudioContent(transcript=transcript_text(part) or "", audio=audio))
            elif part.type == "input_audio":
                parts.append(ev.InputAudioContent(transcript=transcript_text(part), audio=audio))
            else:
                parts.append(ev.ItemReferenceContent(id=part.reference_id or ""))
        assert item.role is not None
        return beta.MessageItem(
            id=item.id, object="realtime.item", status=status, role=item.role, content=tuple(parts)
        )

    def item_added(
        self, ids: Any, previous: str | None, item: ItemState, *, final: bool
    ) -> list[ev.ServerEvent]:
        wire = self.wire_item(item)
        return [
            beta.ConversationItemCreated(
                event_id=ids("event"), previous_item_id=previous, item=wire
            )
        ]

    def item_done(self, ids: Any, previous: str | None, item: ItemState) -> list[ev.ServerEvent]:
        return []  # beta has no "item final" event (GA.md 6.3)

    def response_object(self, **fields: Any) -> Any:
        settings = fields.pop("settings")
        return beta.Response(
            object="realtime.response",
            modalities=settings.modalities,
            voice=_voice_out(settings.voice),
            output_audio_format=settings.output_format,
            temperature=settings.temperature if settings.temperature is not None else 0.8,
            max_output_tokens=settings.max_output_tokens,
            metadata=settings.metadata,
            **fields,
        )
