"""Chunk vectors: streaming values built from deltas.

Text, transcripts, function-call arguments and audio arrive as deltas. Each
snapshot holds a streamed value as its share of an append-only buffer (a list
of text pieces, a bytearray of audio), so that appending one delta costs the same
whether the value is ten bytes or ten megabytes long, and consecutive
snapshots share everything they have in common. The joined value is
computed on first use and cached; later snapshots that only append do not
invalidate it.

Audio has a second form, ``AudioLength``: the same interface as
``ByteChunks`` (``size``, ``append``, ``head``, ``of``) but only the byte
count is kept. A snapshot whose ``retain_audio`` is false holds audio this
way; every duration (``PartState.audio_ms``, truncation, generated audio)
is computed from ``size`` alone, so the two forms agree on all of them.
"""

from __future__ import annotations

import msgspec
from msgspec.structs import force_setattr
from pyrsistent import pvector
from pyrsistent.typing import PVector

__all__ = ["TextChunks", "ByteChunks", "AudioLength"]


class TextChunks(msgspec.Struct, frozen=True, gc=False, eq=False):
    """Text built from deltas (``size`` counts characters).

    Stored as ``ByteChunks`` stores audio: the deltas of a stream go into one
    list that only ever grows at its end, shared by every snapshot along the
    stream; a snapshot holds the list and how many of its first pieces are its
    own (``tail_count``). Appending to the newest snapshot's text appends the
    delta to that list, in O(1) and without copying it; appending to an older
    one keeps its share by reference as a finished block and starts a list of
    its own. Equality and hashing are by joined value, not by how the value was
    cut into chunks: two peers that received the same text in different deltas
    hold equal values.
    """

    blocks: PVector[tuple[list[str], int]]
    """Finished blocks: a list of pieces and how many of its first pieces belong here."""
    tail: list[str]
    """The pieces after ``blocks``: a list that may be shared and grown in place."""
    tail_count: int
    size: int
    joined: str | None = None

    @classmethod
    def of(cls, text: str = "") -> TextChunks:
        # A list of its own: appending to it (past this share) is invisible to this value.
        return cls(_NO_TEXT_BLOCKS, [text] if text else [], 1 if text else 0, len(text), text)

    def append(self, delta: str) -> TextChunks:
        tail, count = self.tail, self.tail_count
        if len(tail) == count:
            tail.append(delta)  # our share ends the shared list: grow it in place
            return TextChunks(self.blocks, tail, count + 1, self.size + len(delta))
        blocks = self.blocks.append((tail, count)) if count else self.blocks
        return TextChunks(blocks, [delta], 1, self.size + len(delta))

    @property
    def parts(self) -> tuple[str, ...]:
        """The pieces of the value, as they arrived (the deltas, or one piece for a whole value)."""
        pieces: list[str] = []
        for block, count in self.blocks:
            pieces += block[:count]
        pieces += self.tail[: self.tail_count]
        return tuple(pieces)

    @property
    def value(self) -> str:
        """The whole value (joined once, then cached)."""
        joined = self.joined
        if joined is None:
            if self.blocks or self.tail_count != 1:
                joined = "".join(self.parts)
            else:
                joined = self.tail[0]
            force_setattr(self, "joined", joined)
        return joined

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __eq__(self, other: object) -> bool:
        if type(other) is not TextChunks:
            return NotImplemented
        return self is other or (self.size == other.size and self.value == other.value)

    def __hash__(self) -> int:
        return hash((TextChunks, self.value))

    def __repr__(self) -> str:
        return f"TextChunks({self.value!r})"

    def __str__(self) -> str:
        return self.value


class ByteChunks(msgspec.Struct, frozen=True, gc=False, eq=False):
    """Audio bytes built from deltas (``size`` counts bytes).

    The bytes of a stream live in one buffer that only ever grows at its
    end, shared by every snapshot along the stream: a snapshot holds the
    buffer and how much of it is its own (``tail_size``), so appending to the
    newest snapshot's audio adds the delta in place, in amortised O(1), and
    every older snapshot still sees exactly its own prefix. Appending to an
    older snapshot (one whose share no longer ends the buffer) keeps that
    share by reference as a finished block and starts a buffer of its own,
    also in O(1): no bytes are copied and no snapshot ever sees another's.

    Why one growing buffer rather than one object per delta: a 60 s answer
    kept as 600 separate 4.8 KB objects makes the allocator take fresh pages
    for every session and give them back when it ends, which cost more than
    decoding and applying all the deltas; one large buffer is grown by
    remapping and returned whole.
    """

    blocks: PVector[tuple[bytes | bytearray, int]]
    """Finished blocks: a buffer and how many of its first bytes belong here."""
    tail: bytes | bytearray
    tail_size: int
    size: int
    joined: bytes | None = None

    @classmethod
    def of(cls, data: bytes = b"") -> ByteChunks:
        # Immutable bytes are held as they are; an append then starts a buffer.
        return cls(_NO_BLOCKS, data, len(data), len(data), data)

    def append(self, delta: bytes) -> ByteChunks:
        tail, tail_size = self.tail, self.tail_size
        if type(tail) is bytearray and len(tail) == tail_size:
            tail += delta  # our share ends the shared buffer: grow it in place
            return ByteChunks(self.blocks, tail, tail_size + len(delta), self.size + len(delta))
        blocks = self.blocks.append((tail, tail_size)) if tail_size else self.blocks
        return ByteChunks(blocks, bytearray(delta), len(delta), self.size + len(delta))

    @property
    def value(self) -> bytes:
        """The whole value (copied out once, then cached)."""
        joined = self.joined
        if joined is None:
            tail, tail_size = self.tail, self.tail_size
            if not self.blocks and type(tail) is bytes and len(tail) == tail_size:
                joined = tail
            else:
                pieces = [*self.blocks, (tail, tail_size)]
                joined = b"".join(memoryview(buffer)[:n] for buffer, n in pieces)
            force_setattr(self, "joined", joined)
        return joined

    def __bytes__(self) -> bytes:
        return self.value

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __eq__(self, other: object) -> bool:
        if type(other) is not ByteChunks:
            return NotImplemented
        return self is other or (self.size == other.size and self.value == other.value)

    def __hash__(self) -> int:
        return hash((ByteChunks, self.value))

    def __repr__(self) -> str:
        return f"ByteChunks({self.value!r})"

    def head(self, n_bytes: int) -> ByteChunks:
        """The first ``n_bytes`` bytes (all of them when there are fewer)."""
        if n_bytes >= self.size:
            return self
        return ByteChunks.of(self.value[: max(n_bytes, 0)])


class AudioLength(msgspec.Struct, frozen=True, gc=False):
    """Audio of which only the length is kept (``retain_audio=False``).

    ``size`` counts bytes as ``ByteChunks.size`` does. No bytes are held:
    the value is false (so writers that include audio only when it is held
    leave it out) and ``value`` is empty. Two lengths are equal when their
    sizes are.
    """

    size: int = 0

    @classmethod
    def of(cls, data: bytes = b"") -> AudioLength:
        return cls(len(data))

    def append(self, delta: bytes) -> AudioLength:
        return AudioLength(self.size + len(delta))

    def head(self, n_bytes: int) -> AudioLength:
        """The length of the first ``n_bytes`` bytes (all of them when there are fewer)."""
        if n_bytes >= self.size:
            return self
        return AudioLength(max(n_bytes, 0))

    @property
    def value(self) -> bytes:
        """No bytes are held: always empty (read ``size`` for the length)."""
        return b""

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        # "Holds audio bytes": false, whatever the length.
        return False

    def __repr__(self) -> str:
        return f"AudioLength({self.size})"


_NO_TEXT_BLOCKS: PVector[tuple[list[str], int]] = pvector()
_NO_BLOCKS: PVector[tuple[bytes | bytearray, int]] = pvector()
