"""Semantic VAD (docs/protocol/ga.md#turn-detection, docs/protocol/flows.md#server-vad-turn): server
VAD's events, with an end of turn that follows ``eagerness``.

Audio is synthetic pcm16 at 24 kHz (48 bytes per ms): speech is a 220 Hz tone
at -15 dBFS, silence is zeros, so every boundary falls on a known 20 ms frame.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverkit import silence, tone

from rtcore import SequentialIds
from rtcore import events as ev
from rtcore.audio.codecs import Samples
from rtcore.audio.turns import (
    PATIENCE,
    Eagerness,
    EndOfTurnDetector,
    EnergyTurnDetector,
    Patience,
    SemanticSegmenter,
    patience_for,
)
from rtcore.audio.vad import EnergyDetector
from rtcore.events import beta, ga
from rtcore.server import CancelResponse, Effect, ServerSession, StartResponse
from rtcore.server.input_audio import InputAudio, TurnDetectionSettings

MS = 24  # samples per ms of pcm16

Level = Literal["high", "medium", "low"]
EAGERNESS: tuple[Level, ...] = ("high", "medium", "low")


def read_beta(detection: beta.TurnDetection) -> TurnDetectionSettings:
    """Beta turn detection as a session holds it, read by the beta edge."""
    server = ServerSession(dialect="beta")
    server.receive_event(beta.SessionUpdate(session=beta.SessionConfig(turn_detection=detection)))
    assert not [e for e in server.events_to_send() if isinstance(e, ev.ErrorEvent)]
    held = server.session.turn_detection
    assert held is not None
    return held


def semantic(eagerness: Eagerness | None = None) -> TurnDetectionSettings:
    """Semantic VAD as a beta client configures it."""
    if eagerness is None:
        return read_beta(beta.TurnDetection(type="semantic_vad"))
    return read_beta(beta.TurnDetection(type="semantic_vad", eagerness=eagerness))


def boundaries(
    audio: bytes,
    turn_detection: TurnDetectionSettings,
    *,
    end_of_turn: Any = EnergyTurnDetector,
    chunk: int = 960,
    fmt: ev.AudioFormat = "pcm16",
) -> list[tuple[str, int]]:
    """The (kind, ms) boundaries InputAudio finds in ``audio`` appended ``chunk`` bytes at a time."""
    buffer = InputAudio(fmt)
    buffer.configure(fmt, turn_detection, EnergyDetector, end_of_turn)
    out: list[tuple[str, int]] = []
    for offset in range(0, len(audio), chunk):
        out += [
            (kind, buffer.ms(pos)) for kind, pos in buffer.append(audio[offset : offset + chunk])
        ]
    return out


def fading(ms_loud: int, ms_fade: int) -> bytes:
    """Speech that trails off: a loud stretch, then a quiet one (-27 dBFS, still speech)."""
    return tone(ms_loud) + tone(ms_fade, amplitude=2000)


# -- the mapping ------------------------------------------------------------------------------------


def test_eagerness_maps_to_patience_with_the_documented_maximum_waits() -> None:
    assert [PATIENCE[e].max_wait_ms for e in ("low", "medium", "high")] == [8000, 4000, 2000]
    assert patience_for("auto") == patience_for(None) == PATIENCE["medium"]
    for e in EAGERNESS:
        p = PATIENCE[e]
        assert 0 < p.min_silence_ms < p.max_wait_ms and 0.0 < p.confidence <= 1.0
    # More eager: less silence needed, less certainty needed, shorter maximum.
    high, medium, low = (PATIENCE[e] for e in EAGERNESS)
    assert high.min_silence_ms < medium.min_silence_ms < low.min_silence_ms
    assert high.confidence < medium.confidence < low.confidence


# -- boundaries on the audio clock --------------------------------------------------------------------


def test_speech_starts_where_server_vad_says_and_stops_after_the_eagerness_silence() -> None:
    audio = silence(500) + tone(1000) + silence(9000)
    server = boundaries(audio, ga.ServerVad())
    assert server[0] == ("start", 500)
    # A voice that stops at full strength: the default detector is sure after 1 s of
    # silence, linearly; high needs 0.3 (300 ms), medium 0.5 (500 ms), low 0.7 but at
    # least its 800 ms minimum.
    assert boundaries(audio, semantic("high")) == [("start", 500), ("stop", 1500 + 300)]
    assert boundaries(audio, semantic("medium")) == [("start", 500), ("stop", 1500 + 500)]
    assert boundaries(audio, semantic("low")) == [("start", 500), ("stop", 1500 + 800)]
    assert boundaries(audio, semantic("auto")) == boundaries(audio, semantic("medium"))
    assert boundaries(audio, semantic()) == boundaries(audio, semantic("medium"))


def test_a_voice_that_trails_off_gets_more_time() -> None:
    audio = silence(200) + fading(800, 300) + silence(9000)
    end = 200 + 800 + 300
    assert boundaries(audio, semantic("high")) == [("start", 200), ("stop", end + 600)]
    assert boundaries(audio, semantic("medium")) == [("start", 200), ("stop", end + 1000)]
    assert boundaries(audio, semantic("low")) == [("start", 200), ("stop", end + 1400)]
    # The same amount of quiet speech at the start of the turn is no trailing off.
    firm = silence(200) + tone(300, amplitude=2000) + tone(800) + silence(9000)
    assert boundaries(firm, semantic("medium")) == [("start", 200), ("stop", end + 500)]


def test_a_pause_shorter_than_the_patience_does_not_end_the_turn() -> None:
    audio = tone(600) + silence(280) + tone(600) + silence(5000)
    assert boundaries(audio, semantic("high")) == [("start", 0), ("stop", 1480 + 300)]
    # server VAD with its 200 ms silence cuts the same audio in two.
    assert len(boundaries(audio, ga.ServerVad())) == 4


class Unsure:
    """An end-of-turn detector that is never sure (or answers NaN): only the maximum wait ends a turn."""

    def __init__(self, answer: float = 0.0) -> None:
        self.answer = answer

    def start_turn(self) -> None:
        pass

    def observe(self, samples: Samples, sample_rate: int, speech: bool) -> None:
        pass

    def turn_end_probability(self, silence_ms: int) -> float:
        return self.answer


@pytest.mark.parametrize("answer", [0.0, math.nan, -1.0])
def test_the_maximum_wait_ends_the_turn_whatever_the_detector_says(answer: float) -> None:
    audio = tone(500) + silence(10_000)
    for eagerness, wait in zip(EAGERNESS, (2000, 4000, 8000), strict=True):
        found = boundaries(audio, semantic(eagerness), end_of_turn=lambda: Unsure(answer))
        assert found == [("start", 0), ("stop", 500 + wait)]


class Scripted:
    """A plugged-in detector that answers from a list and records what it was shown."""

    def __init__(self, answers: list[float]) -> None:
        self.answers = answers
        self.asked = 0
        self.turns = 0
        self.frames: list[bool] = []

    def start_turn(self) -> None:
        self.turns += 1

    def observe(self, samples: Samples, sample_rate: int, speech: bool) -> None:
        assert len(samples) == sample_rate // 50
        self.frames.append(speech)

    def turn_end_probability(self, silence_ms: int) -> float:
        answer = self.answers[self.asked % len(self.answers)]
        self.asked += 1
        return answer


def test_a_plugged_in_detector_sees_every_frame_of_each_turn() -> None:
    detector = Scripted([0.0, 0.0, 1.0])
    audio = silence(100) + tone(400) + silence(2000) + tone(200) + silence(2000)
    found = boundaries(audio, semantic("high"), end_of_turn=lambda: detector)
    # Asked from 300 ms of silence on; the third answer (at 340 ms) ends the turn.
    assert found == [("start", 100), ("stop", 500 + 340), ("start", 2500), ("stop", 2700 + 340)]
    assert detector.turns == 2
    # Each turn: the speech frames from the one that confirmed the start, then the pause.
    turn = [True] * (400 // 20 - 1) + [False] * (340 // 20)
    assert detector.frames == turn + [True] * (200 // 20 - 1) + [False] * (340 // 20)


@given(
    pattern=st.lists(
        st.tuples(st.booleans(), st.integers(min_value=1, max_value=150)), min_size=1, max_size=12
    ),
    answers=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8),
    eagerness=st.sampled_from(EAGERNESS),
)
def test_the_end_of_a_turn_lies_between_the_minimum_silence_and_the_maximum_wait(
    pattern: list[tuple[bool, int]], answers: list[float], eagerness: Level
) -> None:
    # Speech and silence in whole frames, so the last speech frame of each turn is known.
    audio = b"".join(tone(20 * n) if speech else silence(20 * n) for speech, n in pattern)
    audio += silence(8020)
    speech_ends: list[int] = []
    at = 0
    for speech, n in pattern:
        at += 20 * n
        if speech:
            speech_ends.append(at)
    patience: Patience = PATIENCE[eagerness]
    found = boundaries(audio, semantic(eagerness), end_of_turn=lambda: Scripted(answers))
    assert [kind for kind, _ in found] == ["start", "stop"] * (len(found) // 2)
    for kind, ms in found:
        if kind == "stop":
            last_speech = max(end for end in speech_ends if end < ms)
            assert patience.min_silence_ms <= ms - last_speech <= patience.max_wait_ms


@given(st.lists(st.integers(min_value=0, max_value=48 * 4000), max_size=12))
def test_boundaries_are_the_same_however_the_audio_is_cut(cuts: list[int]) -> None:
    audio = silence(300) + fading(500, 200) + silence(600) + tone(400) + silence(2000)
    buffer = InputAudio("pcm16")
    buffer.configure("pcm16", semantic("medium"), EnergyDetector)
    found: list[tuple[str, int]] = []
    start = 0
    for cut in sorted({c - c % 2 for c in cuts}) + [len(audio)]:
        found += buffer.append(audio[start:cut])
        start = cut
    assert [(kind, pos // MS) for kind, pos in found] == boundaries(audio, semantic("medium"))


def test_g711_audio_is_measured_in_its_own_samples() -> None:
    audio = tone(500, rate=8000, fmt="g711_ulaw") + silence(3000, rate=8000, fmt="g711_ulaw")
    found = boundaries(audio, semantic("high"), chunk=160, fmt="g711_ulaw")
    assert found == [("start", 0), ("stop", 800)]


# -- both dialects' settings ------------------------------------------------------------------------


def test_the_ga_objects_configure_the_same_detection_as_the_beta_object() -> None:
    audio = silence(400) + tone(700) + silence(300) + fading(600, 200) + silence(9000)
    for eagerness in EAGERNESS:
        assert boundaries(audio, ga.SemanticVad(eagerness=eagerness)) == boundaries(
            audio, semantic(eagerness)
        )
    assert boundaries(audio, ga.SemanticVad(eagerness=None)) == boundaries(audio, semantic())
    assert boundaries(audio, ga.SemanticVad()) == boundaries(audio, semantic("medium"))
    assert boundaries(audio, ga.ServerVad(silence_duration_ms=500)) == boundaries(
        audio, read_beta(beta.TurnDetection(type="server_vad", silence_duration_ms=500))
    )
    # A null GA field is "not set": the server VAD defaults apply.
    assert boundaries(audio, ga.ServerVad(threshold=None, silence_duration_ms=None)) == boundaries(
        audio, read_beta(beta.TurnDetection())
    )


def test_the_prefix_padding_of_semantic_vad_is_300_ms() -> None:
    buffer = InputAudio("pcm16")
    buffer.configure("pcm16", ga.SemanticVad(), EnergyDetector)
    assert buffer.prefix_samples == 300 * MS


def test_the_same_settings_keep_the_turn_in_progress_and_new_ones_start_over() -> None:
    buffer = InputAudio("pcm16")
    buffer.configure("pcm16", semantic("low"), EnergyDetector)
    assert buffer.append(tone(200)) == [("start", 0)]
    segmenter = buffer.segmenter
    buffer.configure("pcm16", ga.SemanticVad(eagerness="low"), EnergyDetector)
    assert buffer.segmenter is segmenter and segmenter is not None and segmenter.speaking
    buffer.configure("pcm16", semantic("high"), EnergyDetector)
    assert buffer.segmenter is not segmenter and isinstance(buffer.segmenter, SemanticSegmenter)
    assert buffer.segmenter.patience == PATIENCE["high"]
    buffer.configure("pcm16", ga.ServerVad(), EnergyDetector)
    assert not isinstance(buffer.segmenter, SemanticSegmenter)
    buffer.configure("pcm16", None, EnergyDetector)
    assert buffer.segmenter is None


def test_an_open_microphone_costs_constant_memory() -> None:
    buffer = InputAudio("pcm16")
    buffer.configure("pcm16", semantic("low"), EnergyDetector)
    assert buffer.append(tone(600)) == [("start", 0)]
    quiet = silence(20)
    sizes = []
    for _ in range(3000):  # the end of the turn, then a minute of silence in 20 ms appends
        buffer.append(quiet)
        sizes.append(len(buffer.buffer))
    assert buffer.segmenter is not None and not buffer.segmenter.speaking
    # The turn (600 ms + 800 ms of silence) stays until the session takes it or, here, until
    # the next trim; from then on only the prefix window and at most a second more is kept.
    assert max(sizes) <= (600 + 800) * 48
    assert max(sizes[100:]) < 48 * 1500 and sizes[-1] < 48 * 500
    assert buffer.start == buffer.clock - buffer.buffered_samples


def test_the_default_detector_keeps_a_fixed_amount_of_state() -> None:
    detector: EndOfTurnDetector = EnergyTurnDetector()
    detector.start_turn()
    frame = np.frombuffer(tone(20), dtype=np.int16)
    for _ in range(10_000):  # 200 s of speech
        detector.observe(frame, 24000, True)
    assert not hasattr(detector, "__dict__")
    assert detector.turn_end_probability(500) == 0.5


# -- a ServerSession, message by message, in both dialects ---------------------------------------------

DIALECTS = ("beta", "ga")


class Session:
    """A ServerSession fed JSON messages in one dialect; its messages read back in that dialect."""

    def __init__(self, dialect: ev.Dialect) -> None:
        self.dialect: ev.Dialect = dialect
        self.server = ServerSession(id_factory=SequentialIds(), dialect=dialect)
        self.raw: list[bytes] = []
        self.events: list[ev.ServerEvent] = []
        self.flush()

    def send(self, message: dict[str, Any] | ev.ClientEvent) -> list[Effect]:
        if isinstance(message, dict):
            data: bytes = json.dumps(message).encode()
        else:
            data = ev.encode_event(message)
        received = self.server.receive_message(data)
        self.flush()
        return [e for e in received if not isinstance(e, ev.EventBase)]

    def update(self, turn_detection: dict[str, Any] | None, **extra: Any) -> None:
        """``session.update`` with this turn detection, where the dialect keeps it."""
        if self.dialect == "beta":
            session: dict[str, Any] = {"turn_detection": turn_detection}
        else:
            session = {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}}
        self.send({"type": "session.update", "session": session, **extra})

    def turn_detection(self) -> object:
        """The turn detection of the last ``session.updated``."""
        [updated] = [e for e in self.new() if e.type == "session.updated"]
        session: Any = updated.session  # type: ignore[attr-defined]
        return (
            session.turn_detection if self.dialect == "beta" else session.audio.input.turn_detection
        )

    def param(self, name: str) -> str:
        where = "session" if self.dialect == "beta" else "session.audio.input"
        return f"{where}.turn_detection.{name}"

    def append(self, audio: bytes, chunk: int = 960) -> list[Effect]:
        effects: list[Effect] = []
        for offset in range(0, len(audio), chunk):
            effects += self.send(ev.InputAudioBufferAppend(audio=audio[offset : offset + chunk]))
        return effects

    def new(self) -> list[ev.ServerEvent]:
        out, self.events = self.events, []
        return out

    def flush(self) -> None:
        """Read what the server has written (also backend output between client events)."""
        for message in self.server.messages_to_send():
            self.raw.append(message)
            event = ev.decode_server_event(message, dialect=self.dialect)
            assert isinstance(event, ev.ServerEvent), event
            self.events.append(event)

    @property
    def item_events(self) -> list[str]:
        """How the dialect announces a committed user item."""
        if self.dialect == "beta":
            return ["conversation.item.created"]
        return ["conversation.item.added", "conversation.item.done"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_semantic_vad_is_accepted_and_echoed_with_its_defaults(dialect: ev.Dialect) -> None:
    s = Session(dialect)
    s.new()
    s.update({"type": "semantic_vad"})
    echoed = s.turn_detection()
    s.update({"type": "semantic_vad", "eagerness": "low", "create_response": False})
    changed = s.turn_detection()
    if dialect == "beta":
        assert echoed == beta.TurnDetection(
            type="semantic_vad", eagerness="auto", create_response=True, interrupt_response=True
        )
        assert changed == beta.TurnDetection(
            type="semantic_vad", eagerness="low", create_response=False, interrupt_response=True
        )
    else:
        assert echoed == ga.SemanticVad(
            eagerness="auto", create_response=True, interrupt_response=True
        )
        assert changed == ga.SemanticVad(
            eagerness="low", create_response=False, interrupt_response=True
        )


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "turn_detection,param",
    [
        ({"type": "semantic_vad", "threshold": 0.5}, "threshold"),
        ({"type": "semantic_vad", "prefix_padding_ms": 300}, "prefix_padding_ms"),
        ({"type": "semantic_vad", "silence_duration_ms": 500}, "silence_duration_ms"),
        ({"type": "semantic_vad", "idle_timeout_ms": 6000}, "idle_timeout_ms"),
        ({"type": "server_vad", "eagerness": "high"}, "eagerness"),
    ],
)
def test_fields_of_the_other_kind_of_vad_are_unknown_parameters(
    dialect: ev.Dialect, turn_detection: dict[str, Any], param: str
) -> None:
    s = Session(dialect)
    before = s.server.session
    s.new()
    s.update(turn_detection, event_id="u")
    [error] = s.new()
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.code, error.error.param, error.error.event_id) == (
        "unknown_parameter",
        s.param(param),
        "u",
    )
    assert s.server.session == before


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_semantic_vad_turn_has_the_events_of_a_server_vad_turn(dialect: ev.Dialect) -> None:
    s = Session(dialect)
    s.update({"type": "semantic_vad", "eagerness": "high"})
    s.new()
    effects = s.append(silence(500) + tone(1000) + silence(400))
    events = s.new()
    assert [e.type for e in events] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        *s.item_events,
        "response.created",
    ]
    started, stopped, committed, *items, response = events
    assert isinstance(started, ev.InputAudioBufferSpeechStarted)
    assert isinstance(stopped, ev.InputAudioBufferSpeechStopped)
    assert isinstance(committed, ev.InputAudioBufferCommitted)
    assert started.audio_start_ms == 500 - 300  # the fixed 300 ms prefix padding
    assert stopped.audio_end_ms == 1500 + 300  # high eagerness, a firm ending
    assert started.item_id == stopped.item_id == committed.item_id
    assert all(item.item.id == started.item_id for item in items)  # type: ignore[attr-defined]
    [start] = [e for e in effects if isinstance(e, StartResponse)]
    assert response.response.id == start.response_id  # type: ignore[attr-defined]
    assert start.trigger == "vad"
    assert len(start.input_audio[started.item_id]) == (1800 - 200) * 48


@pytest.mark.parametrize("dialect", DIALECTS)
def test_speech_stopped_comes_earlier_the_more_eager_the_session(dialect: ev.Dialect) -> None:
    ends = []
    for eagerness in EAGERNESS:
        s = Session(dialect)
        s.update({"type": "semantic_vad", "eagerness": eagerness})
        s.new()
        s.append(tone(600) + fading(400, 300) + silence(8500))
        [stopped] = [e for e in s.new() if isinstance(e, ev.InputAudioBufferSpeechStopped)]
        ends.append(stopped.audio_end_ms)
    assert ends[0] < ends[1] < ends[2]
    assert [end - 1300 for end in ends] == [600, 1000, 1400]
    assert all(
        end - 1300 <= PATIENCE[e].max_wait_ms for end, e in zip(ends, EAGERNESS, strict=True)
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_without_create_response_the_turn_stops_at_the_item(dialect: ev.Dialect) -> None:
    s = Session(dialect)
    s.update({"type": "semantic_vad", "create_response": False})
    s.new()
    effects = s.append(tone(600) + silence(600))
    assert [e.type for e in s.new()] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        *s.item_events,
    ]
    assert effects == []


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("interrupt", [True, False])
def test_speech_during_a_response_interrupts_it_only_with_interrupt_response(
    dialect: ev.Dialect, interrupt: bool
) -> None:
    s = Session(dialect)
    s.update({"type": "semantic_vad", "interrupt_response": interrupt})
    [start] = [e for e in s.send({"type": "response.create"}) if isinstance(e, StartResponse)]
    s.server.add_text(start.response_id, "Well, ")
    s.flush()
    s.new()
    effects = s.append(tone(100))
    types = [e.type for e in s.new()]
    assert types[0] == "input_audio_buffer.speech_started"
    cancel = CancelResponse(response_id=start.response_id, reason="turn_detected")
    assert (cancel in effects) is interrupt
    assert ("response.done" in types) is interrupt
    assert s.server.is_active(start.response_id) is not interrupt


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_same_messages_give_the_same_bytes(dialect: ev.Dialect) -> None:
    def run() -> list[bytes]:
        s = Session(dialect)
        s.update({"type": "semantic_vad", "eagerness": "medium"})
        s.append(silence(300) + fading(700, 200) + silence(300) + tone(500) + silence(5000))
        return s.raw

    first = run()
    assert first == run()
    assert sum(b"speech_stopped" in m for m in first) == 1  # the 300 ms pause did not end the turn
