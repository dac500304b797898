"""Reshaping the objects inside events between beta and GA, as plain JSON values.

Sessions, response parameters, response objects, items and tools change shape
between the dialects (docs/protocol/relay.md#objects): beta's flat session
becomes GA's ``audio.input`` / ``audio.output`` tree, format names become
format objects, assistant parts ``text`` / ``audio`` become ``output_text`` /
``output_audio``, and so on. The functions here work on the JSON values of
the wire (``dict`` / ``list``) so that members neither dialect's vocabulary
knows yet pass through untouched, and they never change their argument.

What has no form in the other dialect goes to ``Notes``: a request from a
client is refused (``Untranslatable``, the ``error`` the other dialect's
server would send), anything else is dropped and reported as a ``Loss``.
"""

from __future__ import annotations

from typing import Any, Final

from ..rules.refusal import Invalid
from .losses import Loss, LossKind

__all__ = [
    "Notes",
    "Untranslatable",
    "item_to_beta",
    "item_to_ga",
    "params_to_beta",
    "params_to_ga",
    "response_to_beta",
    "response_to_ga",
    "session_to_beta",
    "session_to_ga",
]

Json = dict[str, Any]


class Untranslatable(Invalid):
    """A client request the other dialect cannot carry; the relay answers it with an ``error``.

    Its ``code`` and ``param`` are those of the server that would receive it:
    ``unknown_parameter`` for a member that dialect does not define,
    ``invalid_value`` for a value it does not accept.
    """


class Notes:
    """The losses of one event's translation, and whether to refuse instead of drop."""

    def __init__(self, event_type: str, refuse: bool) -> None:
        self.event_type = event_type
        self.refuse = refuse
        self.losses: list[Loss] = []

    def lose(self, kind: LossKind, path: str) -> None:
        self.losses.append(Loss(kind=kind, event_type=self.event_type, path=path))

    def cannot(self, kind: LossKind, path: str, unknown_member: bool = True) -> None:
        """A value with no form in the target dialect: refused in requests, else dropped."""
        if self.refuse:
            if unknown_member:
                raise Untranslatable(
                    "unknown_parameter",
                    f"Unknown parameter: '{path}'. The upstream server speaks the beta "
                    "dialect, which has no such parameter.",
                    path,
                )
            raise Untranslatable(
                "invalid_value",
                f"Invalid value at '{path}': the upstream server speaks the beta dialect, "
                "which cannot carry it.",
                path,
            )
        self.lose(kind, path)


# --- audio formats and the output modality (docs/protocol/relay.md#objects) -------------

_FORMAT_TO_GA: Final[dict[str, Json]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_TO_BETA: Final[dict[str, str]] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}


def format_to_ga(value: Any) -> Any:
    if isinstance(value, str):
        return dict(_FORMAT_TO_GA.get(value, {"type": value}))
    return value


def format_to_beta(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("type")
        return _FORMAT_TO_BETA.get(kind, kind) if isinstance(kind, str) else value
    return value


def modalities_to_ga(value: Any, notes: Notes, path: str) -> Any:
    """Beta's "either" set collapses to GA's single modality: audio when audio is allowed."""
    if not isinstance(value, list):
        return value
    if "audio" in value:
        if "text" in value:
            notes.lose("modalities_collapsed", path)
        return ["audio"]
    return ["text"] if value else value


def modalities_to_beta(value: Any) -> Any:
    """GA ``["audio"]`` is what beta servers echo as ``["text", "audio"]``."""
    if isinstance(value, list) and value == ["audio"]:
        return ["text", "audio"]
    return value


# --- tools ---------------------------------------------------------------------------------


def tools_to_ga(tools: Any) -> Any:
    if not isinstance(tools, list):
        return tools
    return [
        {"type": "function", **t} if isinstance(t, dict) and "type" not in t else t for t in tools
    ]


def tools_to_beta(tools: Any, notes: Notes, path: str) -> Any:
    if not isinstance(tools, list):
        return tools
    kept = []
    for index, tool in enumerate(tools):
        if isinstance(tool, dict) and tool.get("type", "function") != "function":
            notes.cannot("mcp_dropped", f"{path}[{index}]", unknown_member=False)
            continue
        kept.append(tool)
    return kept


def tool_choice_to_ga(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" not in choice:
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        return {"type": "function", "name": name} if isinstance(name, str) else choice
    return choice


def tool_choice_to_beta(choice: Any, notes: Notes, path: str) -> Any:
    if isinstance(choice, dict) and choice.get("type") not in (None, "function"):
        notes.cannot("mcp_dropped", path, unknown_member=False)
        return _DROP
    return choice


_DROP: Final = object()
"""Marks a member to leave out of the translated object."""


# --- sessions (docs/protocol/relay.md#sessions) ------------------------------------------

_INPUT_TO_GA: Final = (
    ("input_audio_format", "format"),
    ("input_audio_transcription", "transcription"),
    ("turn_detection", "turn_detection"),
    ("input_audio_noise_reduction", "noise_reduction"),
)
_OUTPUT_TO_GA: Final = (("voice", "voice"), ("output_audio_format", "format"), ("speed", "speed"))
_VAD_MEMBERS: Final[dict[str, frozenset[str]]] = {
    "server_vad": frozenset(
        {
            "type",
            "threshold",
            "prefix_padding_ms",
            "silence_duration_ms",
            "idle_timeout_ms",
            "create_response",
            "interrupt_response",
        }
    ),
    "semantic_vad": frozenset({"type", "eagerness", "create_response", "interrupt_response"}),
}


def _turn_detection_to_ga(value: Any, notes: Notes, path: str) -> Any:
    if not isinstance(value, dict):
        return value
    # Beta leaves ``type`` out to mean its default, server VAD; GA names it always.
    kind = value.get("type") or "server_vad"
    allowed = _VAD_MEMBERS.get(kind)
    if allowed is None:
        return value
    out = {"type": kind}
    for name, member in value.items():
        if name in allowed:
            out[name] = member
        elif member is not None:
            notes.lose("turn_detection_field_dropped", f"{path}.{name}")
    return out


def _input_to_ga(name: str, value: Any, notes: Notes, path: str) -> Any:
    if name == "input_audio_format":
        return format_to_ga(value)
    if name == "turn_detection":
        return _turn_detection_to_ga(value, notes, path)
    return value


def session_to_ga(session: Json, notes: Notes, kind: str, path: str = "session") -> Json:
    """A beta session (``session.update``'s or the server's echo) as GA's nested session."""
    out: Json = {"type": kind}
    audio_in: Json = {}
    audio_out: Json = {}
    input_names = dict(_INPUT_TO_GA)
    output_names = dict(_OUTPUT_TO_GA)
    for name, value in session.items():
        if name in input_names:
            audio_in[input_names[name]] = _input_to_ga(name, value, notes, f"{path}.{name}")
        elif name in output_names and kind == "realtime":
            audio_out[output_names[name]] = (
                format_to_ga(value) if name.endswith("format") else value
            )
        elif name == "modalities":
            if kind == "realtime":
                out["output_modalities"] = modalities_to_ga(value, notes, f"{path}.modalities")
            elif value is not None:
                notes.lose("ga_only_field_dropped", f"{path}.modalities")
        elif name == "temperature":
            if value is not None:
                notes.lose("temperature_dropped", f"{path}.temperature")
        elif name in ("client_secret", "custom_voice_id"):
            if value is not None:
                notes.lose(
                    "client_secret_dropped" if name == "client_secret" else "custom_voice_dropped",
                    f"{path}.{name}",
                )
        elif name == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif name == "tools":
            out["tools"] = tools_to_ga(value)
        elif name == "tool_choice":
            out["tool_choice"] = tool_choice_to_ga(value)
        else:
            out[name] = value
    audio: Json = {}
    if audio_in:
        audio["input"] = audio_in
    if audio_out:
        audio["output"] = audio_out
    if audio:
        out["audio"] = audio
    return out


_GA_ONLY_SESSION: Final = frozenset({"truncation", "prompt", "reasoning", "parallel_tool_calls"})
_GA_ONLY_TRANSCRIPTION: Final = ("languages", "keywords", "delay")


def _audio_input_to_beta(audio_in: Any, notes: Notes, path: str, out: Json) -> None:
    if not isinstance(audio_in, dict):
        return
    for name, value in audio_in.items():
        here = f"{path}.{name}"
        if name == "format":
            out["input_audio_format"] = format_to_beta(value)
        elif name == "transcription":
            if isinstance(value, dict):
                value = dict(value)
                for member in _GA_ONLY_TRANSCRIPTION:
                    if value.pop(member, None) is not None:
                        notes.cannot("ga_only_field_dropped", f"{here}.{member}")
            out["input_audio_transcription"] = value
        elif name == "noise_reduction":
            if isinstance(value, dict) and value.get("strength") is not None:
                notes.cannot("ga_only_field_dropped", f"{here}.strength")
                value = {k: v for k, v in value.items() if k != "strength"}
            out["input_audio_noise_reduction"] = value
        elif name == "turn_detection":
            out["turn_detection"] = value
        else:
            out[name] = value


def _audio_output_to_beta(audio_out: Any, notes: Notes, path: str, out: Json) -> None:
    if not isinstance(audio_out, dict):
        return
    for name, value in audio_out.items():
        if name == "format":
            out["output_audio_format"] = format_to_beta(value)
        elif name == "voice" and isinstance(value, dict):
            notes.cannot("custom_voice_dropped", f"{path}.voice", unknown_member=False)
        else:
            out[name] = value


def _setting_to_beta(name: str, value: Any, notes: Notes, here: str, out: Json) -> None:
    """One GA setting that a session and a response's parameters share, written into ``out``
    as beta names it (modalities, the token cap, tools, the tool choice; GA-only settings
    dropped with a note); any other member passes through unchanged."""
    if name == "output_modalities":
        out["modalities"] = modalities_to_beta(value)
    elif name == "max_output_tokens":
        out["max_response_output_tokens"] = value
    elif name in _GA_ONLY_SESSION:
        if value is not None:
            if name == "parallel_tool_calls":
                notes.lose("ga_only_field_dropped", here)
            else:
                notes.cannot("ga_only_field_dropped", here)
    elif name == "tools":
        out["tools"] = tools_to_beta(value, notes, here)
    elif name == "tool_choice":
        choice = tool_choice_to_beta(value, notes, here)
        if choice is not _DROP:
            out["tool_choice"] = choice
    else:
        out[name] = value


def session_to_beta(
    session: Json, notes: Notes, temperature: float | None, path: str = "session"
) -> Json:
    """A GA session as beta's flat one; ``temperature`` is echoed into server sessions.

    ``temperature`` is ``None`` for a client's ``session.update`` (nothing to
    invent) and the value to echo for a server's session.
    """
    out: Json = {}
    for name, value in session.items():
        here = f"{path}.{name}"
        if name == "type":
            continue
        if name == "audio":
            if isinstance(value, dict):
                _audio_input_to_beta(value.get("input"), notes, f"{here}.input", out)
                _audio_output_to_beta(value.get("output"), notes, f"{here}.output", out)
        else:
            _setting_to_beta(name, value, notes, here, out)
    if temperature is not None and session.get("type", "realtime") == "realtime":
        out["temperature"] = temperature
        notes.lose("temperature_echoed", f"{path}.temperature")
    return out


# --- items and content parts (docs/protocol/relay.md#items) -------------------------------

_PART_TO_GA: Final = {"text": "output_text", "audio": "output_audio"}
_PART_TO_BETA: Final = {"output_text": "text", "output_audio": "audio"}
_BETA_ITEMS: Final = frozenset(
    {"message", "function_call", "function_call_output", "item_reference"}
)


def item_to_ga(item: Any) -> Any:
    """Assistant parts renamed; everything else beta writes is GA as it stands."""
    if (
        not isinstance(item, dict)
        or item.get("type") != "message"
        or item.get("role") != "assistant"
    ):
        return item
    content = item.get("content")
    if not isinstance(content, list):
        return item
    parts = [
        {**p, "type": _PART_TO_GA[p["type"]]}
        if isinstance(p, dict) and p.get("type") in _PART_TO_GA
        else p
        for p in content
    ]
    return {**item, "content": parts}


def item_to_beta(item: Any, notes: Notes, path: str) -> Any:
    """A GA item as beta writes it, or ``_DROP`` for MCP items (refused in requests)."""
    if not isinstance(item, dict):
        return item
    if item.get("type") not in _BETA_ITEMS:
        notes.cannot("mcp_dropped", f"{path}.type", unknown_member=False)
        return _DROP
    content = item.get("content")
    if item.get("type") != "message" or not isinstance(content, list):
        return item
    parts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "input_image":
            notes.cannot("image_dropped", f"{path}.content[{index}].type", unknown_member=False)
            continue
        parts.append({**part, "type": _PART_TO_BETA[kind]} if kind in _PART_TO_BETA else part)
    return {**item, "content": parts}


def items_to_beta(items: Any, notes: Notes, path: str) -> Any:
    if not isinstance(items, list):
        return items
    out = [item_to_beta(item, notes, f"{path}[{i}]") for i, item in enumerate(items)]
    return [item for item in out if item is not _DROP]


# --- response parameters and response objects (docs/protocol/relay.md#responses) --------


def params_to_ga(params: Any, notes: Notes, path: str = "response") -> Any:
    """Beta ``response.create.response`` as GA's."""
    if not isinstance(params, dict):
        return params
    out: Json = {}
    output: Json = {}
    for name, value in params.items():
        here = f"{path}.{name}"
        if name == "modalities":
            out["output_modalities"] = modalities_to_ga(value, notes, here)
        elif name == "voice":
            output["voice"] = value
        elif name == "output_audio_format":
            output["format"] = format_to_ga(value)
        elif name == "temperature":
            if value is not None:
                notes.lose("temperature_dropped", here)
        elif name == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif name == "tools":
            out["tools"] = tools_to_ga(value)
        elif name == "tool_choice":
            out["tool_choice"] = tool_choice_to_ga(value)
        elif name == "input" and isinstance(value, list):
            out["input"] = [item_to_ga(item) for item in value]
        else:
            out[name] = value
    if output:
        out["audio"] = {"output": output}
    return out


def params_to_beta(params: Any, notes: Notes, path: str = "response") -> Any:
    """GA ``response.create.response`` as beta's."""
    if not isinstance(params, dict):
        return params
    out: Json = {}
    for name, value in params.items():
        here = f"{path}.{name}"
        if name == "audio":
            output = value.get("output") if isinstance(value, dict) else None
            if isinstance(output, dict):
                _audio_output_to_beta(output, notes, f"{here}.output", out)
        elif name == "input":
            out["input"] = items_to_beta(value, notes, here)
        else:
            _setting_to_beta(name, value, notes, here, out)
    return out


def response_to_ga(response: Json, notes: Notes, path: str = "response") -> Json:
    """A beta response object as GA's."""
    out: Json = {}
    output: Json = {}
    for name, value in response.items():
        here = f"{path}.{name}"
        if name == "modalities":
            out["output_modalities"] = modalities_to_ga(value, notes, here)
        elif name == "voice":
            output["voice"] = value
        elif name == "output_audio_format":
            output["format"] = format_to_ga(value)
        elif name == "temperature":
            if value is not None:
                notes.lose("temperature_dropped", here)
        elif name == "output" and isinstance(value, list):
            out["output"] = [item_to_ga(item) for item in value]
        else:
            out[name] = value
    if output:
        out["audio"] = {"output": output}
    return out


def response_to_beta(response: Json, notes: Notes, path: str = "response") -> Json:
    """A GA response object as beta's (MCP output items dropped and reported)."""
    out: Json = {}
    for name, value in response.items():
        here = f"{path}.{name}"
        if name == "output_modalities":
            out["modalities"] = modalities_to_beta(value)
        elif name == "audio":
            output = value.get("output") if isinstance(value, dict) else None
            if isinstance(output, dict):
                _audio_output_to_beta(output, notes, f"{here}.output", out)
        elif name == "output":
            out["output"] = items_to_beta(value, notes, here)
        else:
            out[name] = value
    return out
