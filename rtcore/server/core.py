"""The state every part of a ``ServerSession`` shares, and the helpers they all use.

``ServerSession`` is assembled from one part per concern - the input audio
buffer (``buffer``), conversation items (``items``), responses
(``requests``) and the session itself (``session``) - each a class over this
core. The core holds the session's configuration in the neutral vocabulary
(``SessionState``), the connection's dialect edge, the snapshot folded from
every emitted event, the queue of events to send, and the audio clock.

Audio retention. ``ServerSession(retain_audio=False)``, the default, keeps
no audio bytes longer than the backend needs them: the snapshot holds output
audio as ``AudioLength`` (durations only, enough for truncation), and the
bytes of a user audio item (committed from the buffer or created with
audio) are kept in ``_item_audio`` only until they have been handed out in
a ``StartResponse.input_audio`` - or, in a transcription session, in the
``Transcribe`` effect - and are dropped then. ``conversation.item.retrieve``
includes audio only while it is still held. ``retain_audio=True`` keeps
every byte for the session's lifetime (bounded by ``max_session_bytes``).

Two rules live here: every emitted event is folded into the server's own
snapshot with the client's transition function (so an inconsistent event is
a bug caught at once, never sent), and an ``Invalid`` raised by a handler
becomes one ``error`` event naming the offending client event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from .. import events as ev
from ..audio.formats import FORMATS
from ..audio.vad import DetectorFactory
from ..errors import LocalProtocolError, RemoteProtocolError
from ..events import ga
from ..ids import IdFactory
from ..state import ByteChunks, ItemState, Snapshot, apply
from ..state.session import SessionState
from .config import ServerLimits
from .edge import Edge
from .input_audio import InputAudio
from .responses import ResponseWriter
from .settings import Invalid

if TYPE_CHECKING:
    from .effects import Effect
    from .responses import Run

__all__ = ["SessionCore", "item_cost"]


def item_cost(item: ItemState) -> int:
    """What an item's content holds: characters of text, bytes of retained audio."""
    cost = len(item.id) + len(item.name or "") + len(item.output or "")
    if item.arguments is not None:
        cost += item.arguments.size
    for part in item.content:
        for text in (part.text, part.transcript):
            if text is not None:
                cost += text.size
        if isinstance(part.audio, ByteChunks):
            cost += part.audio.size
        cost += len(part.image_url or "") + len(part.generated_transcript or "")
    return cost


class SessionCore:
    """Shared state and helpers of the parts of ``ServerSession``."""

    _ids: IdFactory
    _edge: Edge
    _config: SessionState
    _extras: dict[str, Any]
    _state: Snapshot
    _out: list[ev.ServerEvent]
    _writer: ResponseWriter
    _audio: InputAudio
    _detectors: DetectorFactory
    _idle_from: int
    _item_audio: dict[str, bytes]
    _item_seconds: dict[str, float]
    _item_bytes: dict[str, int]
    """What each item holds in memory (its content, and its user audio while kept)."""
    _used_bytes: int
    """The sum of ``_item_bytes``."""
    _transcribing: set[str]
    _ended: bool
    limits: ServerLimits
    conversation_id: str

    if TYPE_CHECKING:
        # Each part of the session uses a few methods of another part.
        def _start_response(
            self, params: Any, event_id: str | None, trigger: Literal["client", "vad"]
        ) -> list[Effect]: ...

        def _end_run(
            self, run: Run, reason: Literal["client_cancelled", "turn_detected"]
        ) -> list[Effect]: ...

        def _item(self, item_id: str, param: str = "item_id") -> ItemState: ...

        def _check_room(self) -> None: ...

    # -- emitting -----------------------------------------------------------------------

    def _emit(self, event: ev.ServerEvent) -> None:
        try:
            self._state = apply(self._state, event)
        except RemoteProtocolError as exc:  # pragma: no cover - a bug in the engine
            raise LocalProtocolError(f"the server built an inconsistent event: {exc}") from exc
        self._out.append(event)

    def _error(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        event_id: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        self._emit(
            ev.ErrorEvent(
                event_id=self._ids("event"),
                error=ev.ErrorDetails(
                    type=kind, code=code, message=message, param=param, event_id=event_id
                ),
            )
        )

    # -- audio retention ------------------------------------------------------------------

    @property
    def _retain_audio(self) -> bool:
        return self._state.retain_audio

    def _release_audio(self, item_ids: Iterable[str]) -> None:
        """Drop user audio the backend has been handed, unless the session retains audio."""
        if self._retain_audio:
            return
        for item_id in item_ids:
            audio = self._item_audio.pop(item_id, None)
            if audio is not None:
                self._charge(item_id, self._item_bytes.get(item_id, 0) - len(audio))

    # -- the memory budget ------------------------------------------------------------------
    #
    # What each item costs is recorded when it is added (and again when a response that
    # wrote it ends, or a truncation shortens it), so that checking the budget is O(1)
    # however long the conversation is.

    def _charge(self, item_id: str, cost: int) -> None:
        self._used_bytes += cost - self._item_bytes.get(item_id, 0)
        self._item_bytes[item_id] = cost

    def _discharge(self, item_id: str) -> None:
        self._used_bytes -= self._item_bytes.pop(item_id, 0)

    def _fits(self, extra: int) -> bool:
        """Whether ``extra`` more bytes stay within ``max_session_bytes``."""
        held = self._used_bytes + len(self._audio.buffer)
        return held + extra <= self.limits.max_session_bytes

    def _check_budget(self, extra: int, param: str | None = None) -> None:
        if not self._fits(extra):
            raise Invalid(
                "session_memory_exceeded",
                f"The session would hold more than its limit of {self.limits.max_session_bytes} "
                "bytes; delete items or start a new session.",
                param,
            )

    def _conversation_full(self) -> bool:
        return len(self._state.order) >= self.limits.max_items

    # -- reading the configuration -----------------------------------------------------------

    @property
    def _transcription_only(self) -> bool:
        return self._config.kind == "transcription"

    def _input_format(self) -> ev.AudioFormat:
        return self._config.input_format or "pcm16"

    def _turn_detection(self) -> ga.ServerVad | ga.SemanticVad | None:
        return self._config.turn_detection

    def _conversation_only(self, message: str) -> None:
        """Refuse, in a transcription session, an event that only a conversation session has."""
        if self._transcription_only:
            raise Invalid("invalid_value", message, "type")

    def _audio_produced(self) -> bool:
        """Whether the model has spoken in this session (the voice is locked from then on)."""
        return self._writer.audio_produced

    def _configure_audio(self) -> None:
        self._audio.configure(self._input_format(), self._turn_detection(), self._detectors)

    def _seconds(self, audio: bytes) -> float:
        return len(audio) / FORMATS[self._audio.fmt].sample_width / self._audio.rate
