"""The session as a snapshot holds it: one record for both dialects.

A beta server reports its configuration flat (``voice``, ``input_audio_format: "pcm16"``,
``turn_detection``), a GA server nested (``audio.output.voice``, ``audio.input.format: {"type":
"audio/pcm", "rate": 24000}``); both describe the same settings
(docs/protocol/dialects.md#session-fields). ``SessionState`` holds them once, in one vocabulary, so
that the same session told in either dialect gives an equal snapshot. The converters here are the
mapping of docs/protocol/dialects.md#session-fields, read direction:

* formats are named as the audio layer names them (``pcm16``, ``g711_ulaw``,
  ``g711_alaw``);
* modalities become GA's single ``output_modalities`` (beta ``["text",
  "audio"]`` is ``["audio"]``: audio with its transcript);
* nested objects take their GA classes (turn detection, transcription, noise
  reduction, tools, tool choice), which hold every beta member;
* what only one dialect reports stays ``None`` in the other (``truncation``,
  ``prompt``, ``reasoning``). Beta's ``temperature`` is not kept: GA has none,
  and a snapshot must not differ by dialect. The session object exactly as
  reported is ``ClientSession.reported_session``.

The server role uses the same record as its effective configuration, and
writes it back out in its connection's dialect.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec
from msgspec.structs import replace

from .. import events as ev
from ..events import beta, ga

__all__ = [
    "SessionState",
    "format_from_ga",
    "format_to_ga",
    "session_from_wire",
    "turn_detection_from_beta",
    "transcription_from_beta",
    "tool_from_beta",
    "tool_choice_from_beta",
    "modalities_from_beta",
]

TurnDetectionConfig = ga.ServerVad | ga.SemanticVad


class SessionState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The effective session settings, in one vocabulary for both dialects.

    ``None`` means the server did not report the setting (or reported it as
    ``null``: off, for ``transcription``, ``turn_detection``,
    ``noise_reduction`` and ``tracing``).
    """

    kind: Literal["realtime", "transcription"] = "realtime"
    id: str | None = None
    model: str | None = None
    expires_at: int | None = None
    output_modalities: tuple[ev.Modality, ...] | None = None
    instructions: str | None = None
    voice: str | ga.VoiceId | None = None
    speed: float | None = None
    input_format: ev.AudioFormat | None = None
    output_format: ev.AudioFormat | None = None
    transcription: ga.Transcription | None = None
    turn_detection: TurnDetectionConfig | None = None
    noise_reduction: ga.NoiseReduction | None = None
    tools: tuple[ga.Tool, ...] = ()
    tool_choice: ga.ToolChoice | None = None
    max_output_tokens: ev.MaxTokens | None = None
    tracing: ga.Tracing | None = None
    include: tuple[str, ...] | None = None
    truncation: ga.Truncation | None = None
    prompt: ga.Prompt | None = None
    reasoning: ga.Reasoning | None = None
    parallel_tool_calls: bool | None = None

    @property
    def audio_output(self) -> bool:
        """Whether responses speak (``output_modalities`` is ``["audio"]``)."""
        return self.output_modalities is None or "audio" in self.output_modalities


T = TypeVar("T")


def _opt(value: T | None | ev.UnsetType) -> T | None:
    """``UNSET`` read as ``None``: not reported."""
    return None if isinstance(value, ev.UnsetType) else value


_FROM_GA: dict[type[object], ev.AudioFormat] = {
    ga.PcmFormat: "pcm16",
    ga.PcmuFormat: "g711_ulaw",
    ga.PcmaFormat: "g711_alaw",
}


def _normal_vad(value: TurnDetectionConfig | None) -> TurnDetectionConfig | None:
    """Turn detection with ``null`` members read as absent, as both dialects mean them.

    GA echoes an unset ``idle_timeout_ms`` as ``null``, beta leaves it out; the
    record holds both the same way.
    """
    if value is None:
        return None
    nulls = {name: ev.UNSET for name in value.__struct_fields__ if getattr(value, name) is None}
    return replace(value, **nulls) if nulls else value


def format_from_ga(spec: ga.AudioFormatSpec | None | ev.UnsetType) -> ev.AudioFormat | None:
    """A GA format object as the audio layer names it (``None`` when absent)."""
    if spec is None or isinstance(spec, ev.UnsetType):
        return None
    return _FROM_GA[type(spec)]


def format_to_ga(fmt: ev.AudioFormat) -> ga.AudioFormatSpec:
    """An audio format as GA writes it (PCM always with its rate, as servers echo it)."""
    if fmt == "g711_ulaw":
        return ga.PcmuFormat()
    if fmt == "g711_alaw":
        return ga.PcmaFormat()
    return ga.PcmFormat(rate=24000)


def modalities_from_beta(
    modalities: tuple[ev.Modality, ...] | None | ev.UnsetType,
) -> tuple[ev.Modality, ...] | None:
    """Beta ``modalities`` as GA's single output modality
    (docs/protocol/dialects.md#session-fields)."""
    if modalities is None or isinstance(modalities, ev.UnsetType):
        return None
    return ("audio",) if "audio" in modalities else ("text",)


def turn_detection_from_beta(
    value: beta.TurnDetection | None | ev.UnsetType,
) -> TurnDetectionConfig | None:
    """Beta ``turn_detection`` as the GA object of its type."""
    if value is None or isinstance(value, ev.UnsetType):
        return None
    if value.type == "semantic_vad":
        return ga.SemanticVad(
            eagerness=value.eagerness,
            create_response=value.create_response,
            interrupt_response=value.interrupt_response,
        )
    return ga.ServerVad(
        threshold=value.threshold,
        prefix_padding_ms=value.prefix_padding_ms,
        silence_duration_ms=value.silence_duration_ms,
        idle_timeout_ms=value.idle_timeout_ms,
        create_response=value.create_response,
        interrupt_response=value.interrupt_response,
    )


def transcription_from_beta(
    value: beta.InputAudioTranscription | None | ev.UnsetType,
) -> ga.Transcription | None:
    if value is None or isinstance(value, ev.UnsetType):
        return None
    return ga.Transcription(model=value.model, language=value.language, prompt=value.prompt)


def _noise_from_beta(value: beta.NoiseReduction | None | ev.UnsetType) -> ga.NoiseReduction | None:
    if value is None or isinstance(value, ev.UnsetType):
        return None
    return ga.NoiseReduction(type=value.type)


def tool_from_beta(tool: beta.Tool) -> ga.FunctionTool:
    return ga.FunctionTool(name=tool.name, description=tool.description, parameters=tool.parameters)


def tool_choice_from_beta(choice: beta.ToolChoice | None | ev.UnsetType) -> ga.ToolChoice | None:
    if choice is None or isinstance(choice, ev.UnsetType):
        return None
    if isinstance(choice, beta.ToolChoiceFunction):
        name = choice.function_name
        return ga.ToolChoiceFunction(name=name or "")
    return choice


def _from_beta(session: beta.Session) -> SessionState:
    tools = session.tools
    return SessionState(
        id=session.id,
        model=_opt(session.model),
        expires_at=_opt(session.expires_at),
        output_modalities=modalities_from_beta(session.modalities),
        instructions=_opt(session.instructions),
        voice=_opt(session.voice),
        speed=_opt(session.speed),
        input_format=_opt(session.input_audio_format),
        output_format=_opt(session.output_audio_format),
        transcription=transcription_from_beta(session.input_audio_transcription),
        turn_detection=_normal_vad(turn_detection_from_beta(session.turn_detection)),
        noise_reduction=_noise_from_beta(session.input_audio_noise_reduction),
        tools=() if not tools else tuple(tool_from_beta(t) for t in tools),
        tool_choice=tool_choice_from_beta(session.tool_choice),
        max_output_tokens=_opt(session.max_response_output_tokens),
        tracing=_opt(session.tracing),
        include=_opt(session.include),
    )


def _from_beta_transcription(session: beta.TranscriptionSession) -> SessionState:
    return SessionState(
        kind="transcription",
        id=_opt(session.id),
        expires_at=_opt(session.expires_at),
        input_format=_opt(session.input_audio_format),
        transcription=transcription_from_beta(session.input_audio_transcription),
        turn_detection=_normal_vad(turn_detection_from_beta(session.turn_detection)),
        noise_reduction=_noise_from_beta(session.input_audio_noise_reduction),
        include=_opt(session.include),
    )


def _audio_input(audio: ga.AudioInput | None | ev.UnsetType) -> dict[str, Any]:
    if audio is None or isinstance(audio, ev.UnsetType):
        return {}
    return {
        "input_format": format_from_ga(audio.format),
        "transcription": _opt(audio.transcription),
        "turn_detection": _normal_vad(
            None if isinstance(audio.turn_detection, ev.UnsetType) else audio.turn_detection
        ),
        "noise_reduction": _opt(audio.noise_reduction),
    }


def _from_ga(session: ga.RealtimeSession) -> SessionState:
    audio = session.audio
    fields: dict[str, Any] = {}
    if not (audio is None or isinstance(audio, ev.UnsetType)):
        fields.update(_audio_input(audio.input))
        out = audio.output
        if not (out is None or isinstance(out, ev.UnsetType)):
            fields.update(
                output_format=format_from_ga(out.format),
                voice=_opt(out.voice),
                speed=_opt(out.speed),
            )
    tools = session.tools
    return SessionState(
        id=_opt(session.id),
        model=_opt(session.model),
        expires_at=_opt(session.expires_at),
        output_modalities=_opt(session.output_modalities),
        instructions=_opt(session.instructions),
        tools=() if not tools else tuple(tools),
        tool_choice=None if isinstance(session.tool_choice, ev.UnsetType) else session.tool_choice,
        max_output_tokens=_opt(session.max_output_tokens),
        tracing=_opt(session.tracing),
        include=_opt(session.include),
        truncation=_opt(session.truncation),
        prompt=_opt(session.prompt),
        reasoning=_opt(session.reasoning),
        parallel_tool_calls=_opt(session.parallel_tool_calls),
        **fields,
    )


def _from_ga_transcription(session: ga.TranscriptionSession) -> SessionState:
    audio = session.audio
    fields = {} if audio is None or isinstance(audio, ev.UnsetType) else _audio_input(audio.input)
    return SessionState(
        kind="transcription",
        id=_opt(session.id),
        expires_at=_opt(session.expires_at),
        include=_opt(session.include),
        **fields,
    )


def session_from_wire(
    session: beta.Session
    | beta.TranscriptionSession
    | ga.RealtimeSession
    | ga.TranscriptionSession,
) -> SessionState:
    """The session object of ``session.created`` / ``.updated`` (either dialect) as a record."""
    if isinstance(session, ga.RealtimeSession):
        return _from_ga(session)
    if isinstance(session, ga.TranscriptionSession):
        return _from_ga_transcription(session)
    if isinstance(session, beta.TranscriptionSession):
        return _from_beta_transcription(session)
    return _from_beta(session)
