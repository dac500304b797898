"""The load generator's measuring core, with made-up times (no I/O, no clock)."""

from __future__ import annotations

import json

import pytest

from rtcore.events import UnknownEvent, decode_server_event
from rtcore_trio.loadtest_metrics import Recorder, error_code, percentiles


def test_percentiles_by_nearest_rank() -> None:
    assert percentiles([]) is None
    p = percentiles(float(x) for x in range(1, 101))
    assert p is not None
    assert (p.count, p.p50, p.p90, p.p99, p.max) == (100, 50.0, 90.0, 99.0, 100.0)
    one = percentiles([0.25])
    assert one is not None and one.p50 == one.p99 == one.max == 0.25


def test_a_voice_turn_gives_each_latency_once() -> None:
    rec = Recorder(start=100.0, interval=1.0)
    s = rec.session()
    s.connecting(100.0)
    s.connected(100.010)
    s.speech_ended(101.0)
    s.event(101.250, "input_audio_buffer.speech_stopped")
    s.event(101.260, "response.created")
    s.event(101.300, "response.output_audio_transcript.delta")
    s.event(101.320, "response.output_audio.delta")
    s.event(101.340, "response.output_audio.delta")  # only the first counts
    s.event(102.500, "response.done")
    s.event(102.600, "response.output_audio.delta")  # no turn awaits it
    out = rec.summary()
    lat = out["latency_ms"]
    assert lat["handshake"]["p50"] == pytest.approx(10.0)
    assert lat["speech_stopped"]["p50"] == pytest.approx(250.0)
    assert lat["first_delta"] == {
        "count": 1,
        "p50": 300.0,
        "p90": 300.0,
        "p99": 300.0,
        "max": 300.0,
    }
    assert lat["first_audio"]["count"] == 1 and lat["first_audio"]["p50"] == pytest.approx(320.0)
    assert lat["response"]["p50"] == pytest.approx(1240.0)
    assert out["events"]["response.output_audio.delta"] == 3
    assert [i["t"] for i in out["intervals"]] == [0.0, 1.0, 2.0]
    assert out["intervals"][1]["latency_ms"]["speech_stopped"]["count"] == 1
    assert out["intervals"][2]["events_per_s"] == 2.0
    assert out["sessions"][0]["turns"] == 1 and out["sessions"][0]["responses"] == 1


def test_text_turns_in_the_beta_dialect() -> None:
    rec = Recorder(start=0.0)
    s = rec.session()
    s.request_sent(1.0)
    s.event(1.05, "response.created")
    s.event(1.1, "response.text.delta")
    s.event(1.2, "response.done")
    lat = rec.summary()["latency_ms"]
    assert lat["first_delta"]["p50"] == pytest.approx(100.0)
    assert lat["first_audio"] is None and lat["speech_stopped"] is None


def test_failures_are_counted_not_raised() -> None:
    rec = Recorder(start=0.0)
    a, b, c, d = (rec.session() for _ in range(4))
    a.connecting(0.0)
    a.rejected(0.1, 503)
    b.connecting(0.0)
    b.failed(0.2, "connect_refused")
    c.connected(0.0)
    c.event(0.5, "error", "invalid_request_error")
    c.closed(0.6, 1011, by_server=True)
    c.closed(0.7, 1000, by_server=False)  # only the first close counts
    d.connected(0.0)
    d.closed(1.5, 1006, by_server=True)
    d.timed_out(1.6, "response")
    out = rec.summary()
    assert out["rejected"] == {"503": 1}
    assert out["failed"] == {"connect_refused": 1}
    assert out["close_codes"] == {"1006": 1, "1011": 1}
    assert out["dropped"] == 1
    assert out["errors"]["invalid_request_error"] == 1
    assert out["errors"]["close_1011"] == 1 and out["errors"]["http_503"] == 1
    assert out["errors"]["timeout_response"] == 1
    assert out["intervals"][0]["errors"] == 4 and out["intervals"][1]["errors"] == 2
    assert rec.up == 0 and out["intervals"][1]["sessions"] == 0


def test_generator_bottleneck_marks_the_interval() -> None:
    rec = Recorder(start=0.0, interval=1.0)
    for k in range(100):
        rec.frame_lag(0.5, 0.001)
        rec.frame_lag(1.5, 0.050 if k == 99 else 0.001)  # p99 is the 99th of 100: still fast
        rec.frame_lag(2.5, 0.050 if k >= 90 else 0.001)
    rec.cpu(4.0, 0.97)
    out = rec.summary()
    assert [i["generator_bound"] for i in out["intervals"]] == [False, False, True, True]
    assert out["generator"]["bound_intervals"] == [2, 3]
    assert "bottleneck in 2 of 4" in out["generator"]["verdict"]
    assert out["intervals"][3]["cpu"] == 0.97


def test_no_bottleneck_verdict_and_bad_interval() -> None:
    rec = Recorder(start=0.0)
    rec.frame_lag(0.1, 0.002)
    assert "kept its schedule" in rec.summary()["generator"]["verdict"]
    with pytest.raises(ValueError, match="interval"):
        Recorder(start=0.0, interval=0)


def test_histogram_bins_by_upper_edge() -> None:
    from rtcore_trio.loadtest_metrics import HISTOGRAM_EDGES_MS, histogram

    counts = histogram([0.0005, 0.001, 0.0011, 0.3, 99.0])
    assert len(counts) == len(HISTOGRAM_EDGES_MS) + 1
    assert counts[0] == 2 and counts[1] == 1  # 0.5 ms and 1 ms in the first bin, 1.1 ms next
    assert counts[HISTOGRAM_EDGES_MS.index(500)] == 1 and counts[-1] == 1


def test_the_rest_of_an_interrupted_answer_is_not_the_next_ones() -> None:
    rec = Recorder(start=0.0)
    s = rec.session()
    s.speech_ended(1.0)
    s.event(1.2, "input_audio_buffer.speech_stopped")
    s.event(1.21, "response.created")
    s.event(1.25, "response.output_audio.delta")
    s.speech_ended(2.0)  # the user spoke over the answer, which goes on a moment
    s.barged_in(2.0)
    s.event(2.01, "response.output_audio.delta")
    s.event(2.05, "response.done")  # the interrupted one
    s.event(2.2, "input_audio_buffer.speech_stopped")
    s.event(2.22, "response.created")
    s.event(2.3, "response.output_audio.delta")
    s.event(2.5, "response.done")
    out = rec.summary()
    lat = out["latency_ms"]
    assert lat["first_audio"]["count"] == 2
    assert lat["first_audio"]["max"] == pytest.approx(300.0)  # 2.0 -> 2.3, not 2.0 -> 2.01
    assert lat["response"]["count"] == 2 and out["barge_ins"] == 1
    assert out["sessions"][0]["barge_ins"] == 1


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (
            {
                "type": "error",
                "error": {"type": "server_error", "code": "overloaded", "message": "m"},
            },
            "overloaded",
        ),
        ({"type": "error", "error": {"type": "server_error", "message": "m"}}, "server_error"),
        (
            {
                "type": "response.done",
                "response": {
                    "object": "realtime.response",
                    "id": "r",
                    "output": [],
                    "status": "failed",
                    "status_details": {"type": "failed", "error": {"code": "backend_error"}},
                },
            },
            "response_failed_backend_error",
        ),
        (
            {
                "type": "response.done",
                "response": {
                    "object": "realtime.response",
                    "id": "r",
                    "status": "failed",
                    "output": [],
                },
            },
            "response_failed",
        ),
        (
            {
                "type": "response.done",
                "response": {
                    "object": "realtime.response",
                    "id": "r",
                    "status": "cancelled",
                    "output": [],
                },
            },
            None,
        ),
        ({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 5, "item_id": "i"}, None),
    ],
)
def test_what_counts_as_an_error(event: dict[str, object], code: str | None) -> None:
    typed = decode_server_event(json.dumps({"event_id": "e", **event}), dialect="ga")
    assert not isinstance(typed, UnknownEvent)
    assert error_code(typed) == code
    rec = Recorder(start=0.0)
    rec.session().event(0.5, typed.type, error_code(typed))
    assert rec.errors == ({} if code is None else {code: 1})
