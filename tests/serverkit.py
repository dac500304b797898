"""A harness for server tests: a ServerSession with readable ids, its client, and the events between."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import trio

from rtcore import ClientSession, SequentialIds
from rtcore import events as ev
from rtcore.audio.codecs import from_linear
from rtcore.server import Effect, ServerSession, StartResponse
from rtcore_trio import RealtimeServer


def tone(ms: int, amplitude: int = 8000, rate: int = 24000, fmt: ev.AudioFormat = "pcm16") -> bytes:
    t = np.arange(rate * ms // 1000)
    return from_linear((amplitude * np.sin(2 * np.pi * 220 * t / rate)).astype(np.int16), fmt)


def silence(ms: int, rate: int = 24000, fmt: ev.AudioFormat = "pcm16") -> bytes:
    return from_linear(np.zeros(rate * ms // 1000, dtype=np.int16), fmt)


class Harness:
    """Client events in (as JSON, like a real client), server events out, both snapshots kept in step.

    Both peers get the same audio retention policy (``retain_audio``), so that their snapshots stay
    equal; the harness retains audio unless told otherwise (the server's own default is not to).
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("dialect", "beta")
        options.setdefault("retain_audio", True)
        self.server = ServerSession(id_factory=SequentialIds(), **options)
        self.client = ClientSession(
            dialect=options["dialect"], retain_audio=options["retain_audio"]
        )
        self.log: list[ev.ServerEvent] = []
        self.raw: list[bytes] = []
        self._mark = 0
        self.pump()

    def pump(self) -> list[ev.ServerEvent]:
        for message in self.server.messages_to_send():
            self.raw.append(message)
            [event] = self.client.receive_message(message)
            assert isinstance(event, ev.ServerEvent), event
            self.log.append(event)
        return self.log

    def send(self, message: dict[str, Any] | ev.ClientEvent | bytes | str) -> list[Effect]:
        if isinstance(message, dict):
            data: bytes | str = json.dumps(message)
        elif isinstance(message, ev.EventBase):
            data = ev.encode_event(message)
        else:
            data = message
        out = self.server.receive_message(data)
        self.pump()
        return [e for e in out if not isinstance(e, ev.ClientEvent)]

    def new(self) -> list[ev.ServerEvent]:
        """The events since the last call."""
        out = self.log[self._mark :]
        self._mark = len(self.log)
        return out

    def types(self) -> list[str]:
        return [e.type for e in self.new()]

    def append_audio(self, audio: bytes, frame: int = 960) -> list[Effect]:
        effects: list[Effect] = []
        for offset in range(0, len(audio), frame):
            effects += self.send(ev.InputAudioBufferAppend(audio=audio[offset : offset + frame]))
        return effects

    def flush(self) -> None:
        self.pump()

    def start(self, effects: list[Effect]) -> StartResponse:
        [start] = [e for e in effects if isinstance(e, StartResponse)]
        return start

    def in_step(self) -> bool:
        """The client rebuilt exactly the server's snapshot."""
        return self.client.state == self.server.state

    def no_vad(self) -> None:
        self.send({"type": "session.update", "session": {"turn_detection": None}})
        self.new()


def errors(events: list[ev.ServerEvent]) -> list[ev.ErrorDetails]:
    return [e.error for e in events if isinstance(e, ev.ErrorEvent)]


@asynccontextmanager
async def running(*args: Any, **options: Any) -> AsyncIterator[RealtimeServer]:
    """A ``RealtimeServer(*args, **options)`` on a free loopback port for the block's length;
    none of its connections may have failed internally."""
    server = RealtimeServer(*args, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        try:
            yield server
        finally:
            server.shutdown()
    assert server.failures == 0
