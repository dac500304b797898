"""What each simulated user of ``rtcore loadtest`` says: the scenarios, built in or from JSON.

A scenario is a list of turns that every session plays in order, over and over,
until the run ends. A turn is one of:

* ``{"say": "text"}``: a user text message, then ``response.create``;
* ``{"speak_ms": 1500}``: that much synthetic speech (``rtcore_sim.speech_like``,
  which a voice detector takes for speech), or ``{"wav": "file.wav"}``: a
  24 kHz mono 16-bit WAV file; either is followed by ``silence_ms`` of silence
  so that server VAD ends the turn and answers (``create_response``);
* ``{"say": "call get_weather for Paris", "tool_output": "{...}"}``: a text turn
  whose answer is a function call (the ``echo`` backend calls a tool the user
  names); the user sends ``tool_output`` as the call's output and asks for the
  answer that reads it back.

The built-in scenarios are ``text``, ``audio``, ``tools``, ``barge-in`` (a
text turn, then speech over its spoken answer) and ``mixed``.

Each turn may give ``think_s``, the pause after its answer (default: the
scenario's ``think_s``, 0.5 s). An audio turn may give ``barge_in_ms``: the
user does not wait for the answer before it to end, but speaks that long
after its audio began, over it, and truncates it where it was heard
(``conversation.item.truncate``) once server VAD noticed the speech. A JSON file holds
``{"turns": [...], "think_s": 0.5, "silence_ms": 600, "tools": [...]}``; only
``turns`` is required. ``tools`` are function tools in the wire's shape
(default: one, ``get_weather``, whenever a turn has ``tool_output``). Nothing
here does I/O but reading the files a scenario names, once, before the run.

The client events the users send are built here too (``session_update``,
``user_text``, ``client_event``), and the WebSocket frames of an audio turn
(``audio_frames``: built once per turn, the same bytes for every session), once
for every driver (trio, Locust).
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage

from rtcore import events as ev
from rtcore.events import ClientEvent, Dialect, UnknownEvent, decode_client_event

__all__ = [
    "BUILTIN",
    "Turn",
    "Scenario",
    "load_scenario",
    "DEFAULT_TOOL",
    "client_event",
    "session_update",
    "user_text",
    "client_frame",
    "audio_frames",
]

RATE = 24000

DEFAULT_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@dataclass(frozen=True)
class Turn:
    """One turn of the simulated user: text (``say``), audio (``audio``) or a tool turn."""

    say: str | None = None
    audio: bytes | None = None  # pcm16 24 kHz mono, the speech only
    tool_output: str | None = None
    think_s: float = 0.5
    barge_in_s: float | None = None  # speak this long after the previous answer's audio began

    @property
    def kind(self) -> str:
        if self.audio is not None:
            return "audio"
        return "tool" if self.tool_output is not None else "text"


@dataclass(frozen=True)
class Scenario:
    """The turns every session plays, in order and over again."""

    name: str
    turns: tuple[Turn, ...]
    silence_ms: int = 600
    tools: tuple[dict[str, Any], ...] = ()

    @property
    def has_audio(self) -> bool:
        return any(t.audio is not None for t in self.turns)


def _speech(ms: int) -> bytes:
    from rtcore_sim.speech import speech_like  # numpy: only when a scenario speaks

    return speech_like(ms)


BUILTIN: dict[str, dict[str, Any]] = {
    "text": {"turns": [{"say": "Hello! What can you tell me about the weather?"}]},
    "audio": {"turns": [{"speak_ms": 1200}]},
    "tools": {"turns": [{"say": "Please call get_weather for Paris.", "tool_output": '{"c": 21}'}]},
    "barge-in": {
        "turns": [{"say": "Tell me a long story."}, {"speak_ms": 800, "barge_in_ms": 300}]
    },
    "mixed": {
        "turns": [
            {"say": "Hello there."},
            {"speak_ms": 1000},
            {"say": "Please call get_weather for Oslo.", "tool_output": '{"c": 4}'},
        ]
    },
}
"""The scenarios ``--scenario`` names; anything else is a JSON file."""


def load_scenario(spec: str) -> Scenario:
    """The built-in scenario ``spec`` names, or the one in the JSON file ``spec``.

    Raises ``ValueError`` naming the file and the turn for anything wrong.
    """
    if spec in BUILTIN:
        return parse_scenario(BUILTIN[spec], spec, Path("."))
    path = Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(
            f"--scenario {spec}: not one of {', '.join(BUILTIN)} and not a readable file"
            f" ({err.strerror or err})"
        ) from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{spec}: not JSON ({err})") from None
    return parse_scenario(data, spec, path.parent)


def parse_scenario(data: Any, name: str, base: Path) -> Scenario:
    """A ``Scenario`` from its JSON shape; WAV paths are relative to ``base``."""
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list) or not data["turns"]:
        raise ValueError(f"{name}: a scenario is an object with a non-empty list of turns")
    unknown = set(data) - {"turns", "think_s", "silence_ms", "tools"}
    if unknown:
        raise ValueError(f"{name}: unknown scenario keys {sorted(unknown)}")
    think = _number(data.get("think_s", 0.5), f"{name}: think_s", 0, 3600)
    silence = int(_number(data.get("silence_ms", 600), f"{name}: silence_ms", 200, 10000))
    turns = tuple(
        _turn(raw, f"{name}: turn {i + 1}", think, base) for i, raw in enumerate(data["turns"])
    )
    tools = data.get("tools")
    if tools is None:
        tools = [DEFAULT_TOOL] if any(t.tool_output is not None for t in turns) else []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ValueError(f"{name}: tools is a list of tool objects")
    return Scenario(name, turns, silence, tuple(tools))


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{what} must be a number from {low} to {high}, not {value!r}")
    return float(value)


def _turn(raw: Any, where: str, think: float, base: Path) -> Turn:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a turn is an object")
    unknown = set(raw) - {"say", "speak_ms", "wav", "tool_output", "think_s", "barge_in_ms"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    think_s = _number(raw.get("think_s", think), f"{where}: think_s", 0, 3600)
    kinds = [k for k in ("say", "speak_ms", "wav") if k in raw]
    if len(kinds) != 1:
        raise ValueError(f"{where}: give exactly one of say, speak_ms or wav")
    if "tool_output" in raw and "say" not in raw:
        raise ValueError(f"{where}: tool_output goes with say (the text that names the tool)")
    if "barge_in_ms" in raw and "say" in raw:
        raise ValueError(f"{where}: barge_in_ms goes with speech (speak_ms or wav)")
    barge = raw.get("barge_in_ms")
    barge_s = None if barge is None else _number(barge, f"{where}: barge_in_ms", 0, 60000) / 1000
    if "say" in raw:
        say, output = raw["say"], raw.get("tool_output")
        if not isinstance(say, str) or not say:
            raise ValueError(f"{where}: say is a non-empty string")
        if output is not None and not isinstance(output, str):
            raise ValueError(f"{where}: tool_output is a string (the function's output)")
        return Turn(say=say, tool_output=output, think_s=think_s)
    if "speak_ms" in raw:
        ms = int(_number(raw["speak_ms"], f"{where}: speak_ms", 100, 60000))
        return Turn(audio=_speech(ms), think_s=think_s, barge_in_s=barge_s)
    audio = read_wav(base / str(raw["wav"]), where)
    return Turn(audio=audio, think_s=think_s, barge_in_s=barge_s)


def read_wav(path: Path, where: str) -> bytes:
    """The samples of a 24 kHz mono 16-bit WAV file (what the Realtime API takes as pcm16)."""
    try:
        with wave.open(str(path), "rb") as w:
            shape = (w.getframerate(), w.getnchannels(), w.getsampwidth())
            if shape != (RATE, 1, 2):
                raise ValueError(
                    f"{where}: {path} is {shape[0]} Hz, {shape[1]} channel(s), {8 * shape[2]}-bit;"
                    " pcm16 input is 24000 Hz, mono, 16-bit"
                )
            return w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as err:
        raise ValueError(f"{where}: cannot read {path} as WAV ({err})") from None


# -- what the simulated users send ----------------------------------------------------------------


def session_update(scenario: Scenario, dialect: Dialect, silence_duration_ms: int) -> ClientEvent:
    """The first event of every session: server VAD that answers, transcription, the tools."""
    vad = {"type": "server_vad", "silence_duration_ms": silence_duration_ms}
    transcription = {"model": "whisper-1"}
    session: dict[str, Any]
    if dialect == "ga":
        session = {
            "type": "realtime",
            "audio": {"input": {"turn_detection": vad, "transcription": transcription}},
        }
    else:
        session = {"turn_detection": vad, "input_audio_transcription": transcription}
    if scenario.tools:
        session["tools"] = list(scenario.tools)
    return client_event({"type": "session.update", "session": session}, dialect)


def user_text(text: str) -> dict[str, Any]:
    """A user text message, as ``conversation.item.create``."""
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return {"type": "conversation.item.create", "item": item}


def client_event(data: dict[str, Any], dialect: Dialect) -> ClientEvent:
    """A typed client event from its wire shape, checked as strictly as a server would."""
    event = decode_client_event(json.dumps(data), dialect=dialect, strict=True)
    assert not isinstance(event, UnknownEvent), data
    return event


def client_frame(event: ev.EventBase) -> bytes:
    """One masked client text frame carrying ``event``, built without a session's checks.

    For frames sent many times over (audio appends): any mask key is as good
    as another, so one frame serves every session and every send.
    """
    return Connection(ConnectionType.CLIENT).send(TextMessage(data=ev.encode_event(event).decode()))


def audio_frames(audio: bytes, silence_ms: int, frame_ms: int) -> tuple[list[bytes], int]:
    """The frames of one audio turn (speech, then silence) and how many of them are speech."""
    size = RATE * 2 * frame_ms // 1000
    speech = [audio[i : i + size] for i in range(0, len(audio), size)]
    silence = [bytes(size)] * max(1, -(-silence_ms // frame_ms))
    cache: dict[bytes, bytes] = {}
    frames = []
    for chunk in speech + silence:
        if chunk not in cache:
            cache[chunk] = client_frame(ev.InputAudioBufferAppend(audio=chunk))
        frames.append(cache[chunk])
    return frames, len(speech)
