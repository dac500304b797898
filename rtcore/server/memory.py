"""What a ``ServerSession`` holds in memory, against ``max_session_bytes``.

Audio retention. ``ServerSession(retain_audio=False)``, the default, keeps
no audio bytes longer than the backend needs them: the snapshot holds output
audio as ``AudioLength`` (durations only, enough for truncation), and the
bytes of a user audio item (committed from the buffer or created with
audio) are kept here only until they have been handed out in a
``StartResponse.input_audio`` - or, in a transcription session, in the
``Transcribe`` effect - and are dropped then (``release``).
``conversation.item.retrieve`` includes audio only while it is still held.
``retain_audio=True`` keeps every byte for the session's lifetime (bounded
by ``max_session_bytes``).

The budget. What each item costs (``costs.item_cost``) is recorded when it
is added (and again when a response that wrote it ends, or a truncation
shortens it), so that checking the budget is O(1) however long the
conversation is. The input audio not yet committed counts too, from its
append: a commit moves it into an item without changing the total. So does
the configuration a client set, per field (``costs.config_cost``), recorded
when an update changes the field: an update is checked against the budget
before anything changes, like an item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized

from .settings import Invalid

__all__ = ["Holdings"]


class Holdings:
    """Per-item costs, user audio while it is needed, and the session's memory budget.

    ``pending`` is the input audio buffer (anything with a length in bytes):
    it counts toward the budget as long as it is uncommitted.
    """

    __slots__ = ("audio", "seconds", "costs", "config", "used", "_limit", "_retain", "_pending")

    def __init__(self, limit: int, *, retain_audio: bool, pending: Sized) -> None:
        self.audio: dict[str, bytes] = {}
        """The bytes of user audio items, while they are still held."""
        self.seconds: dict[str, float] = {}
        """The duration of each user audio item (for transcription usage)."""
        self.costs: dict[str, int] = {}
        """What each item holds in memory (its content, and its user audio while kept)."""
        self.config: dict[str, int] = {}
        """What each configuration field a client set holds (by field name)."""
        self.used = 0
        """The sum of ``costs`` and ``config``, and what is kept for the session's life
        (``keep``: the ids of function calls clients created)."""
        self._limit = limit
        self._retain = retain_audio
        self._pending = pending

    def hold(self, item_id: str, audio: bytes, seconds: float | None = None) -> None:
        """Keep a user item's audio (and its duration) until it has been handed out."""
        self.audio[item_id] = audio
        if seconds is not None:
            self.seconds[item_id] = seconds

    def charge(self, item_id: str, cost: int) -> None:
        """Record what item ``item_id`` holds now."""
        self.used += cost - self.costs.get(item_id, 0)
        self.costs[item_id] = cost

    def config_change(self, costs: dict[str, int]) -> int:
        """How much more the session would hold with these configuration fields' new costs."""
        config = self.config
        return sum(cost - config.get(name, 0) for name, cost in costs.items())

    def charge_config(self, costs: dict[str, int]) -> None:
        """Record what these configuration fields hold now."""
        self.used += self.config_change(costs)
        self.config.update(costs)

    def keep(self, cost: int) -> None:
        """Charge ``cost`` bytes the session holds for the rest of its life (a call's id)."""
        self.used += cost

    def forget(self, item_id: str) -> None:
        """Item ``item_id`` left the conversation: nothing of it is held any more."""
        self.audio.pop(item_id, None)
        self.seconds.pop(item_id, None)
        self.used -= self.costs.pop(item_id, 0)

    def release(self, item_ids: Iterable[str]) -> None:
        """Drop user audio the backend has been handed, unless the session retains audio."""
        if self._retain:
            return
        for item_id in item_ids:
            audio = self.audio.pop(item_id, None)
            if audio is not None:
                self.charge(item_id, self.costs.get(item_id, 0) - len(audio))

    def fits(self, extra: int) -> bool:
        """Whether the session may hold ``extra`` more bytes."""
        return self.used + len(self._pending) + extra <= self._limit

    def check(self, extra: int, param: str | None = None) -> None:
        """Refuse (``session_memory_exceeded``) what would take the session over its budget."""
        if self.used + len(self._pending) + extra > self._limit:  # fits(), inlined: per append
            raise Invalid(
                "session_memory_exceeded",
                f"The session would hold more than its limit of {self._limit} "
                "bytes; delete items or start a new session.",
                param,
            )
