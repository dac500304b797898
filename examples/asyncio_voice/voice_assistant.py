"""A small voice assistant on the official ``openai`` SDK (GA Realtime API), asyncio.

``VoiceAssistant.reply(audio)`` sends one spoken question (pcm16, 24 kHz,
mono), lets the model answer in speech, runs the tools the model calls and
sends their results back, and returns what the model said: its transcript
and its audio. Nothing here knows about rtcore: point ``websocket_base_url``
at OpenAI, or in the tests at the ``realtime_server`` fixture.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

Tool = Callable[..., Any]
CHUNK = 4800  # 100 ms of pcm16 at 24 kHz


class AssistantError(Exception):
    """The model's response failed, or the server answered with an error."""


@dataclass
class Reply:
    transcript: str = ""
    audio: bytearray = field(default_factory=bytearray)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class VoiceAssistant:
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = "gpt-realtime",
        instructions: str = "You are a helpful voice assistant. Be brief.",
        tools: dict[str, tuple[str, Tool]] | None = None,
    ) -> None:
        """``tools`` maps a name to its description and the function that runs it."""
        self.client = client
        self.model = model
        self.instructions = instructions
        self.tools = tools or {}

    def _session(self) -> dict[str, Any]:
        tools = [
            {
                "type": "function",
                "name": name,
                "description": description,
                "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
            }
            for name, (description, _) in self.tools.items()
        ]
        return {
            "type": "realtime",
            "instructions": self.instructions,
            "output_modalities": ["audio"],
            # The app decides when the user has finished: it commits the buffer itself.
            "audio": {"input": {"turn_detection": None}, "output": {"voice": "marin"}},
            "tools": tools,
        }

    async def reply(self, audio: bytes) -> Reply:
        """The model's spoken answer to one question (running the tools it calls on the way)."""
        reply = Reply()
        async with self.client.realtime.connect(model=self.model) as conn:
            await conn.session.update(session=self._session())  # type: ignore[arg-type]
            for at in range(0, len(audio), CHUNK):
                chunk = base64.b64encode(audio[at : at + CHUNK]).decode()
                await conn.input_audio_buffer.append(audio=chunk)
            await conn.input_audio_buffer.commit()
            await conn.response.create()
            async for event in conn:
                if event.type == "error":
                    raise AssistantError(f"{event.error.code}: {event.error.message}")
                if event.type == "response.output_audio.delta":
                    reply.audio += base64.b64decode(event.delta)
                elif event.type == "response.output_audio_transcript.done":
                    reply.transcript += event.transcript
                elif event.type == "response.function_call_arguments.done":
                    output = self._run_tool(event.name, event.arguments, reply)
                    await conn.conversation.item.create(
                        item={
                            "type": "function_call_output",
                            "call_id": event.call_id,
                            "output": json.dumps(output),
                        }
                    )
                elif event.type == "response.done":
                    response = event.response
                    if response.status == "failed":
                        details = response.status_details
                        error = details.error if details else None
                        raise AssistantError(f"the response failed: {error}")
                    called = any(item.type == "function_call" for item in response.output or [])
                    if not called:
                        return reply
                    await conn.response.create()  # the model reads the tools' results
        raise AssistantError("the connection closed before the answer was complete")

    def _run_tool(self, name: str, arguments: str, reply: Reply) -> Any:
        args = json.loads(arguments or "{}")
        reply.tool_calls.append((name, args))
        if name not in self.tools:
            return {"error": f"no tool named {name}"}
        return self.tools[name][1](**args)
