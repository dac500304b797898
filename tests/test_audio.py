"""Audio: formats, G.711 codecs, the energy detector, the speech segmenter, the input buffer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serverkit import silence, tone

from rtcore.audio import bytes_for_ms, bytes_to_ms, format_info
from rtcore.audio.codecs import alaw_decode_table, from_linear, to_linear, ulaw_decode_table
from rtcore.audio.vad import EnergyDetector, SpeechSegmenter, threshold_to_dbfs
from rtcore.server.input_audio import InputAudio


def test_format_arithmetic() -> None:
    assert (format_info("pcm16").sample_rate, format_info("pcm16").bytes_per_ms) == (24000, 48)
    assert format_info("g711_ulaw").bytes_per_ms == 8
    assert bytes_to_ms(4800, "pcm16") == 100 and bytes_to_ms(800, "g711_alaw") == 100
    assert bytes_to_ms(47, "pcm16") == 0  # whole milliseconds only, never audio that is not there
    assert bytes_for_ms(1500, "pcm16") == 72000 and bytes_for_ms(1500, "g711_ulaw") == 12000


def test_g711_tables_hold_the_standard_values() -> None:
    ulaw, alaw = ulaw_decode_table(), alaw_decode_table()
    assert (ulaw[0xFF], ulaw[0x7F], ulaw[0x00], ulaw[0x80]) == (0, 0, -32124, 32124)
    assert (alaw[0xD5], alaw[0x55], alaw[0xAA], alaw[0x2A]) == (8, -8, 32256, -32256)
    for table in (ulaw, alaw):
        positive = np.sort(table[table > 0])
        assert len(np.unique(positive)) == len(positive)  # distinct steps


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_encoding_inverts_decoding(fmt: str) -> None:
    table = ulaw_decode_table() if fmt == "g711_ulaw" else alaw_decode_table()
    codes = np.arange(256, dtype=np.uint8)
    back = np.frombuffer(from_linear(table[codes], fmt), dtype=np.uint8)  # type: ignore[arg-type]
    mismatched = set(codes[back != codes].tolist())
    assert mismatched <= {0x7F}  # µ-law's negative zero encodes as positive zero
    linear = np.arange(-32768, 32768, 61, dtype=np.int16)
    decoded = to_linear(from_linear(linear, fmt), fmt).astype(np.int32)  # type: ignore[arg-type]
    error = np.abs(decoded - linear.astype(np.int32))
    assert np.all(error <= np.maximum(np.abs(linear.astype(np.int32)) // 15, 64))  # within one step


def test_pcm16_is_read_in_place() -> None:
    data = np.array([1, -2, 30000], dtype="<i2").tobytes()
    assert to_linear(data, "pcm16").tolist() == [1, -2, 30000]
    assert from_linear(to_linear(data, "pcm16"), "pcm16") == data


def test_the_threshold_maps_to_a_level() -> None:
    assert (
        threshold_to_dbfs(0.5) == -35
        and threshold_to_dbfs(0.0) == -70
        and threshold_to_dbfs(1.0) == 0
    )
    detector = EnergyDetector(0.5)
    loud = to_linear(tone(20, amplitude=int(32768 * 10 ** (-30 / 20) * 2**0.5)), "pcm16")
    quiet = to_linear(tone(20, amplitude=int(32768 * 10 ** (-40 / 20) * 2**0.5)), "pcm16")
    assert EnergyDetector.level_dbfs(loud) == pytest.approx(-30, abs=0.2)
    assert detector.is_speech(loud, 24000) and not detector.is_speech(quiet, 24000)
    assert not EnergyDetector(0.0).is_speech(to_linear(silence(20), "pcm16"), 24000)
    assert EnergyDetector(0.0).is_speech(quiet, 24000)


def segment(audio: bytes, cuts: list[int] | None = None, **options: int) -> list[tuple[str, int]]:
    seg = SpeechSegmenter(EnergyDetector(0.5), "pcm16", options.pop("silence_ms", 200), **options)
    if cuts is None:
        return [(kind, pos // 24) for kind, pos in seg.feed(audio)]
    out: list[tuple[str, int]] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(audio)]:
        out += [(kind, pos // 24) for kind, pos in seg.feed(audio[start:cut])]
        start = cut
    return out


def test_the_segmenter_finds_speech_on_the_audio_clock() -> None:
    audio = silence(500) + tone(1000) + silence(300) + tone(400) + silence(200)
    assert segment(audio) == [("start", 500), ("stop", 1700), ("start", 1800), ("stop", 2400)]


def test_a_single_click_does_not_open_a_turn() -> None:
    assert segment(silence(200) + tone(20) + silence(500)) == []
    assert segment(silence(200) + tone(20) + silence(500), min_speech_frames=1) == [
        ("start", 200),
        ("stop", 420),
    ]


@given(st.lists(st.integers(min_value=0, max_value=2 * 24000 * 3), max_size=20))
def test_segmenting_is_the_same_however_the_audio_is_cut(cuts: list[int]) -> None:
    audio = silence(300) + tone(700) + silence(250) + tone(300) + silence(400)
    assert segment(audio, cuts) == segment(audio)


def test_an_open_microphone_costs_constant_memory() -> None:
    from rtcore.audio.vad import EnergyDetector as Detector
    from rtcore.events.beta import TurnDetection

    audio = InputAudio("pcm16")
    audio.configure("pcm16", TurnDetection(prefix_padding_ms=300), Detector)
    quiet = silence(20)
    sizes = []
    for _ in range(3000):  # a minute of silence in 20 ms appends
        assert audio.append(quiet) == []
        sizes.append(len(audio.buffer))
    assert audio.clock == 60 * 24000
    assert max(sizes) < 48 * 1500  # never more than ~1.5 s kept
    assert audio.start == audio.clock - audio.buffered_samples
