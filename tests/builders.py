"""Builders for server event streams in tests: short to write, exact on the wire."""

from __future__ import annotations

from typing import Any

from rtcore import events as ev
from rtcore.events import beta
from rtcore.state import Snapshot, apply, initial_snapshot


class Server:
    """Numbers server events and builds the common ones with the ids threaded through."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, cls: type[Any], **fields: Any) -> Any:
        self.n += 1
        return cls(event_id=f"event_{self.n}", **fields)

    # -- session -------------------------------------------------------------------

    def session_created(self, **config: Any) -> beta.SessionCreated:
        return self(
            beta.SessionCreated,
            session=beta.Session(
                id="sess_1",
                object="realtime.session",
                model="gpt-4o-realtime-preview-2024-12-17",
                voice="alloy",
                input_audio_format="pcm16",
                output_audio_format="pcm16",
                **config,
            ),
        )

    # -- items ---------------------------------------------------------------------

    def user_text(
        self, item_id: str, text: str, previous: Any = ev.UNSET
    ) -> beta.ConversationItemCreated:
        return self._user(item_id, ev.InputTextContent(text=text), previous)

    def user_audio(self, item_id: str, previous: Any = ev.UNSET) -> beta.ConversationItemCreated:
        return self._user(item_id, ev.InputAudioContent(transcript=None), previous)

    def _user(self, item_id: str, part: Any, previous: Any) -> beta.ConversationItemCreated:
        return self(
            beta.ConversationItemCreated,
            previous_item_id=previous,
            item=beta.MessageItem(
                id=item_id, object="realtime.item", status="completed", role="user", content=(part,)
            ),
        )

    # -- responses -----------------------------------------------------------------

    def response_created(self, response_id: str, **fields: Any) -> beta.ResponseCreated:
        return self(
            beta.ResponseCreated,
            response=beta.Response(
                id=response_id,
                object="realtime.response",
                status="in_progress",
                status_details=None,
                output=(),
                usage=None,
                **fields,
            ),
        )

    def response_done(
        self,
        response_id: str,
        output: tuple[beta.Item, ...] = (),
        status: ev.ResponseStatus = "completed",
        details: ev.StatusDetails | None = None,
        **fields: Any,
    ) -> beta.ResponseDone:
        return self(
            beta.ResponseDone,
            response=beta.Response(
                id=response_id,
                object="realtime.response",
                status=status,
                status_details=details,
                output=output,
                usage=ev.Usage(total_tokens=3, input_tokens=2, output_tokens=1),
                **fields,
            ),
        )

    def assistant_added(
        self, response_id: str, item_id: str, index: int = 0
    ) -> beta.ResponseOutputItemAdded:
        return self(
            beta.ResponseOutputItemAdded,
            response_id=response_id,
            output_index=index,
            item=assistant_item(item_id, "in_progress", ()),
        )

    def item_created(self, item: beta.Item, previous: Any) -> beta.ConversationItemCreated:
        return self(beta.ConversationItemCreated, previous_item_id=previous, item=item)

    def part_added(
        self, response_id: str, item_id: str, kind: str = "audio", index: int = 0, content: int = 0
    ) -> ev.ResponseContentPartAdded:
        part: beta.ContentPart = (
            ev.AudioContent(transcript="") if kind == "audio" else ev.TextContent(text="")
        )
        return self(
            ev.ResponseContentPartAdded,
            response_id=response_id,
            item_id=item_id,
            output_index=index,
            content_index=content,
            part=part,
        )

    def part_event(
        self,
        cls: type[Any],
        response_id: str,
        item_id: str,
        index: int = 0,
        content: int = 0,
        **fields: Any,
    ) -> Any:
        return self(
            cls,
            response_id=response_id,
            item_id=item_id,
            output_index=index,
            content_index=content,
            **fields,
        )


def assistant_item(
    item_id: str, status: ev.ItemStatus, content: tuple[beta.ContentPart, ...]
) -> beta.MessageItem:
    return beta.MessageItem(
        id=item_id, object="realtime.item", status=status, role="assistant", content=content
    )


def audio_response(
    server: Server,
    response_id: str,
    item_id: str,
    previous: Any,
    words: list[str],
    audio: list[bytes],
) -> list[Any]:
    """A complete audio response (docs/protocol/flows.md#audio-response): created ... done."""
    transcript = "".join(words)
    final = assistant_item(item_id, "completed", (ev.AudioContent(transcript=transcript),))
    events: list[Any] = [
        server.response_created(response_id),
        server.assistant_added(response_id, item_id),
        server.item_created(assistant_item(item_id, "in_progress", ()), previous),
        server.part_added(response_id, item_id, "audio"),
    ]
    for i in range(max(len(words), len(audio))):
        if i < len(words):
            events.append(
                server.part_event(
                    beta.ResponseAudioTranscriptDelta, response_id, item_id, delta=words[i]
                )
            )
        if i < len(audio):
            events.append(
                server.part_event(beta.ResponseAudioDelta, response_id, item_id, delta=audio[i])
            )
    events += [
        server.part_event(beta.ResponseAudioDone, response_id, item_id),
        server.part_event(
            beta.ResponseAudioTranscriptDone, response_id, item_id, transcript=transcript
        ),
        server.part_event(
            ev.ResponseContentPartDone,
            response_id,
            item_id,
            part=ev.AudioContent(transcript=transcript),
        ),
        server(beta.ResponseOutputItemDone, response_id=response_id, output_index=0, item=final),
        server.response_done(response_id, (final,)),
    ]
    return events


def fold(events: list[Any], state: Snapshot | None = None) -> Snapshot:
    s = state if state is not None else initial_snapshot()
    for event in events:
        s = apply(s, event)
    return s
