"""``rtcore demo``: a local server and a client in one process, and a short conversation.

The conversation is in the GA dialect, as every current SDK speaks it. Three
turns, each over a real loopback WebSocket: a text turn; an audio turn
through server VAD (synthetic speech, then silence; speech start and stop,
the commit, the input transcription and a spoken answer); and a tool call
round trip (the model calls ``get_weather``, the client answers with a
``function_call_output``, the model reads it back).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import trio

from rtcore import events as ev
from rtcore.events import ga
from rtcore.state import snapshot_to_text
from rtcore_sim import speech_like

from .client import RealtimeClient, connect
from .server import RealtimeServer

__all__ = ["run_demo"]

Say = Callable[[str], None]


async def _until(
    rt: RealtimeClient, say: Say, kinds: tuple[type[ev.ServerEvent], ...]
) -> ev.ServerEvent:
    """Print events until one of ``kinds`` arrives (and return it)."""
    async for event, _ in rt:
        if isinstance(event, ev.ServerEvent):
            _describe(event, say)
            if isinstance(event, kinds):
                return event
    raise RuntimeError("the connection ended early")


def _describe(event: ev.ServerEvent, say: Say) -> None:
    if isinstance(
        event,
        (
            ga.ResponseOutputAudioDelta,
            ga.ResponseOutputTextDelta,
            ga.ResponseOutputAudioTranscriptDelta,
            ev.ResponseFunctionCallArgumentsDelta,
            ev.RateLimitsUpdated,
        ),
    ):
        return  # streaming detail: summarised by the done events
    detail = ""
    if isinstance(event, ev.InputAudioBufferSpeechStarted):
        detail = f"audio_start_ms={event.audio_start_ms}"
    elif isinstance(event, ev.InputAudioBufferSpeechStopped):
        detail = f"audio_end_ms={event.audio_end_ms}"
    elif isinstance(event, ev.ConversationItemInputAudioTranscriptionCompleted):
        detail = repr(event.transcript)
    elif isinstance(event, ga.ResponseOutputTextDone):
        detail = repr(event.text)
    elif isinstance(event, ga.ResponseOutputAudioTranscriptDone):
        detail = repr(event.transcript)
    elif isinstance(event, ev.ResponseFunctionCallArgumentsDone):
        detail = f"{event.name}({event.arguments})"
    elif isinstance(event, ga.ResponseDone):
        detail = event.response.status
    elif isinstance(event, ev.ErrorEvent):
        detail = f"{event.error.code}: {event.error.message}"
    say(f"  <- {event.type} {detail}".rstrip())


def _session(**fields: object) -> ga.SessionUpdate:
    return ga.SessionUpdate(session=ga.RealtimeSessionConfig(**fields))  # type: ignore[arg-type]


def _user(text: str) -> ga.ConversationItemCreate:
    content = (ev.InputTextContent(text=text),)
    return ga.ConversationItemCreate(item=ga.MessageItem(role="user", content=content))


async def _conversation(url: str, say: Say) -> None:
    async with connect(url, api_key="sk-demo") as rt:  # GA, the default dialect
        await _until(rt, say, (ga.SessionCreated,))
        no_vad = ga.AudioConfig(input=ga.AudioInput(turn_detection=None))

        say("\n1. A text turn")
        await rt.send(_session(output_modalities=("text",), audio=no_vad))
        await _until(rt, say, (ga.SessionUpdated,))
        await rt.send(_user("Hello, rtcore!"))
        await rt.send(ga.ResponseCreate())
        await _until(rt, say, (ga.ResponseDone,))

        say("\n2. An audio turn through server VAD")
        listening = ga.AudioInput(
            transcription=ga.Transcription(model="whisper-1"),
            turn_detection=ga.ServerVad(silence_duration_ms=300),
        )
        await rt.send(_session(output_modalities=("audio",), audio=ga.AudioConfig(input=listening)))
        await _until(rt, say, (ga.SessionUpdated,))
        audio = bytes(24000 * 2 // 2) + speech_like(1200) + bytes(24000 * 2 * 6 // 10)
        frame = 960  # 20 ms of pcm16
        for offset in range(0, len(audio), frame):
            await rt.send(ev.InputAudioBufferAppend(audio=audio[offset : offset + frame]))
        done = await _until(rt, say, (ga.ResponseDone,))
        assert isinstance(done, ga.ResponseDone)
        answer = rt.state.response_items(done.response.id)
        if answer and answer[0].content:
            say(f"     (the answer carried {answer[0].content[0].audio_ms} ms of audio)")

        say("\n3. A tool call round trip")
        tool = ga.FunctionTool(
            name="get_weather",
            description="The weather in a city.",
            parameters={"type": "object", "properties": {"text": {"type": "string"}}},
        )
        await rt.send(_session(output_modalities=("text",), audio=no_vad, tools=(tool,)))
        await _until(rt, say, (ga.SessionUpdated,))
        await rt.send(_user("Please call get_weather for Paris."))
        await rt.send(ga.ResponseCreate())
        await _until(rt, say, (ga.ResponseDone,))
        for call_id in list(rt.state.pending_calls):
            result = json.dumps({"city": "Paris", "sky": "clear", "temperature_c": 21})
            say(f"  -> function_call_output {call_id}: {result}")
            await rt.send(
                ga.ConversationItemCreate(
                    item=ev.FunctionCallOutputItem(call_id=call_id, output=result)
                )
            )
        await rt.send(ga.ResponseCreate())
        await _until(rt, say, (ga.ResponseDone,))

        say("\nThe conversation, as the client's snapshot holds it:")
        for line in snapshot_to_text(rt.state).splitlines():
            say("  " + line)


async def run_demo(say: Say = print) -> None:
    """Start a server on a free loopback port, hold the demo conversation, stop the server."""
    async with trio.open_nursery() as nursery:
        server: RealtimeServer = await nursery.start(
            RealtimeServer(api_keys=["sk-demo"]).serve, "127.0.0.1", 0
        )
        url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
        say(f"rtcore demo: server listening on {url}")
        await _conversation(url, say)
        server.shutdown()
