"""Soak: a real ``rtcore serve`` process under random valid and invalid traffic from many clients.

While one healthy client keeps completing text turns, attackers open
connections over and over and, each time, do one random thing for a random
short while: never read an audio answer, read it slowly, spray fragments,
nest JSON deeply, trickle a frame, ping without reading the pongs, send
garbage before or after the handshake, send invalid events, or hold a
perfectly valid voice session with appends, commits, responses and cancels.

What must hold: the server process never exits; every healthy turn
completes within ``TURN_SECONDS``; no connection ends in an internal error
(1011); the server's resident memory stays under ``RSS_BOUND_MB``; and
afterwards the server still serves a new session and shuts down cleanly on
SIGINT.

It runs for ``RTCORE_SOAK_SECONDS`` (3 by default, so that CI stays fast; set
it to 600 for a long local run). ``RTCORE_SOAK_SEED`` repeats a run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from attackkit import TEXT_ONLY, Healthy, RawClient
from servedkit import wait_listening
from serverkit import silence, tone
from wirekit import frame

from rtcore_trio import connect

SOAK_SECONDS = float(os.environ.get("RTCORE_SOAK_SECONDS", "3"))
SEED = int(os.environ.get("RTCORE_SOAK_SEED", str(random.randrange(1 << 30))))
ATTACKERS = 12
RSS_BOUND_MB = 200.0
"""The server's resident set: about 50 MB at rest (interpreter, numpy, msgspec), 66 MB at most in a 30 s run."""
SERVE_OPTIONS = [
    "--write-timeout", "1",
    "--frame-timeout", "1",
    "--handshake-timeout", "1",
    "--close-timeout", "0.5",
    "--max-connections", "200",
    "--max-message-size", "1000000",
    "--log-lines", "5",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _masked(message: dict[str, Any] | str) -> bytes:
    text = message if isinstance(message, str) else json.dumps(message)
    return frame(0x1, text.encode(), mask=True)


def _b64(audio: bytes) -> str:
    import base64

    return base64.b64encode(audio).decode()


SPEECH = _b64(tone(200))
QUIET = _b64(silence(200))


class Attacks:
    """One random misbehaviour per episode; each ends by itself or by its caller's deadline."""

    def __init__(self, port: int, rng: random.Random) -> None:
        self.port = port
        self.rng = rng
        self.counts: Counter[str] = Counter()

    def pick(self) -> Callable[[], Awaitable[None]]:
        name = self.rng.choice(
            [
                "never_reading",
                "slow_reading",
                "fragment_spray",
                "nesting",
                "trickle",
                "pinger",
                "garbage_handshake",
                "garbage_frames",
                "invalid_events",
                "valid_voice",
                "churn",
            ]
        )
        self.counts[name] += 1
        method: Callable[[], Awaitable[None]] = getattr(self, name)
        return method

    async def open(self, **options: Any) -> RawClient:
        return await RawClient.open(self.port, **options)

    async def _audio_answer(self, client: RawClient) -> None:
        await client.send(_masked({"type": "session.update", "session": {"turn_detection": None}}))
        text = "x" * self.rng.randint(50, 400)
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        await client.send(_masked({"type": "conversation.item.create", "item": item}))
        await client.send(_masked({"type": "response.create"}))

    async def never_reading(self) -> None:
        client = await self.open(receive_buffer=4096)
        await self._audio_answer(client)
        await trio.sleep_forever()

    async def slow_reading(self) -> None:
        client = await self.open(receive_buffer=4096)
        await self._audio_answer(client)
        while await client.stream.receive_some(512):
            await trio.sleep(0.05)

    async def fragment_spray(self) -> None:
        client = await self.open()
        await client.send(frame(0x1, b'{"type":', fin=False, mask=True))
        tiny = frame(0x0, b" ", fin=False, mask=True)
        for _ in range(self.rng.randint(10, 3000)):
            await client.send(tiny * 16)
        await client.read_all()

    async def nesting(self) -> None:
        client = await self.open()
        depth = self.rng.choice([100, 1000, 5000, 100_000])
        nested = "[" * depth + "]" * depth
        for _ in range(self.rng.randint(1, 5)):
            message = '{"type":"session.update","session":{"tools":' + nested + "}}"
            await client.send(_masked(message))
            await client.send(_masked('{"type":"response.create","response":' + "{" * depth))
        await client.read_all()

    async def trickle(self) -> None:
        client = await self.open()
        data = _masked({"type": "input_audio_buffer.append", "audio": QUIET})
        for i in range(len(data)):
            await client.send(data[i : i + 1])
            await trio.sleep(0.05)

    async def pinger(self) -> None:
        client = await self.open(receive_buffer=4096)
        ping = frame(0x9, bytes(125), mask=True)
        while True:
            await client.send(ping * 32)

    async def garbage_handshake(self) -> None:
        client = await self.open(handshake=False)
        junk = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 3000)))
        if self.rng.random() < 0.5:
            junk = b"GET /v1/realtime HTTP/1.1\r\n" + junk
        await client.send(junk)
        await client.read_all()

    async def garbage_frames(self) -> None:
        client = await self.open()
        choices = [
            bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 500))),
            frame(0x2, b"binary", mask=True),
            frame(0x1, b"\xff\xfe not utf-8", mask=True),
            frame(0x1, b"{}", mask=False),
            b"\x81\xff" + (1 << 63).to_bytes(8, "big") + bytes(4),
            b"\x81\xfe\x00\x05" + bytes(4) + b"short",
        ]
        await client.send(self.rng.choice(choices))
        await client.read_all()

    async def invalid_events(self) -> None:
        client = await self.open()
        bad: list[Any] = [
            "not json",
            "[]",
            "{}",
            {"type": "no.such.event"},
            {"type": "session.update", "session": {"temperature": "hot"}},
            {"type": "session.update", "session": {"modalities": ["smell"]}},
            {"type": "input_audio_buffer.append", "audio": "@@@not-base64"},
            {"type": "input_audio_buffer.append", "audio": 42},
            {"type": "conversation.item.create", "item": {"type": "message"}},
            {"type": "conversation.item.delete", "item_id": "item_nope"},
            {"type": "conversation.item.truncate", "item_id": "x", "content_index": -1},
            {"type": "response.create", "response": {"max_response_output_tokens": -5}},
            {"type": "response.cancel", "response_id": 7},
        ]
        for _ in range(self.rng.randint(1, 200)):
            await client.send(_masked(self.rng.choice(bad)))
        await client.read_all()

    async def valid_voice(self) -> None:
        async with connect(
            f"ws://127.0.0.1:{self.port}/v1/realtime", dialect="beta", ping_interval=None
        ) as rt:
            rng = self.rng
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._drain, rt)
                for _ in range(rng.randint(5, 60)):
                    pick = rng.random()
                    if pick < 0.6:
                        audio = SPEECH if rng.random() < 0.5 else QUIET
                        await self._append(rt, audio)
                    elif pick < 0.75:
                        await self._send_json(rt, {"type": "response.create"})
                    elif pick < 0.85:
                        await self._send_json(rt, {"type": "response.cancel"})
                    else:
                        await self._send_json(rt, {"type": "input_audio_buffer.commit"})
                    await trio.sleep(0.02)
                nursery.cancel_scope.cancel()

    async def _append(self, rt: Any, audio: str) -> None:
        await self._send_json(rt, {"type": "input_audio_buffer.append", "audio": audio})

    async def _send_json(self, rt: Any, message: dict[str, Any]) -> None:
        from rtcore import events as ev

        event = ev.decode_client_event(json.dumps(message))
        try:
            await rt.send(event)
        except Exception as exc:  # a LocalProtocolError for a cancel with nothing to cancel
            if type(exc).__name__ != "LocalProtocolError":
                raise

    async def _drain(self, rt: Any) -> None:
        async for _ in rt:
            pass

    async def churn(self) -> None:
        client = await self.open(handshake=self.rng.random() < 0.5)
        if self.rng.random() < 0.5:
            # Reset instead of close: SO_LINGER with a zero timeout.
            client.stream.socket.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, (1).to_bytes(4, "little") * 2
            )
        await client.aclose()


async def _attacker(attacks: Attacks, until: float) -> None:
    rng = attacks.rng
    while trio.current_time() < until:
        episode = attacks.pick()
        with trio.move_on_after(rng.uniform(0.05, 1.5)):
            try:
                await episode()
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
                pass  # the server dropped us: that is its right
            except Exception as exc:  # our own client saw the connection end
                if type(exc).__name__ not in ("ConnectionClosedError", "HandshakeError"):
                    raise


async def _healthy(port: int, until: float, turns: list[float]) -> None:
    async with connect(
        f"ws://127.0.0.1:{port}/v1/realtime", dialect="beta", ping_interval=None
    ) as rt:
        await rt.send(TEXT_ONLY)
        client = Healthy(rt)
        while trio.current_time() < until:
            start = trio.current_time()
            await client.turn()
            turns.append(trio.current_time() - start)
            await trio.sleep(0.05)


def test_the_server_survives_random_traffic_from_many_clients() -> None:
    port = _free_port()
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port)] + SERVE_OPTIONS,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_listening(port, process)
            rss: list[float] = []
            turns: list[float] = []

            attackers = [Attacks(port, random.Random(SEED + n)) for n in range(ATTACKERS)]

            async def soak() -> None:
                until = trio.current_time() + SOAK_SECONDS
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_healthy, port, until, turns)
                    for attacks in attackers:
                        nursery.start_soon(_attacker, attacks, until)
                    while trio.current_time() < until:
                        assert process.poll() is None, "the server exited"
                        rss.append(_rss_mb(process.pid))
                        await trio.sleep(0.1)
                # A new session after the storm.
                async with connect(
                    f"ws://127.0.0.1:{port}/v1/realtime", dialect="beta", ping_interval=None
                ) as rt:
                    await rt.send(TEXT_ONLY)
                    await Healthy(rt).turn()

            trio.run(soak)
            assert process.poll() is None, "the server exited"
            rss.append(_rss_mb(process.pid))
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        log.seek(0)
        stderr = log.read()
    episodes = sum((a.counts for a in attackers), Counter[str]())
    context = (
        f"seed {SEED}; max RSS {max(rss):.0f} MB; {len(turns)} healthy turns "
        f"(slowest {max(turns, default=0):.2f} s); attacks {dict(episodes)}"
    )
    print(context)
    assert len(turns) >= max(2, int(SOAK_SECONDS / 2)), context
    assert max(rss) < RSS_BOUND_MB, context
    assert "connection failed" not in stderr, context + "\n" + stderr[-5000:]
    assert "Traceback" not in stderr, context + "\n" + stderr[-5000:]
