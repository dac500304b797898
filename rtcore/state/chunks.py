"""Chunk vectors: streaming values built from deltas.

Text, transcripts, function-call arguments and audio arrive as deltas. Each
snapshot holds text as a persistent vector of chunks, and audio as its share
of an append-only buffer, so that appending one delta costs the same
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

from typing import Generic, TypeVar

import msgspec
from msgspec.structs import force_setattr
from pyrsistent import pvector
from pyrsistent.typing import PVector

__all__ = ["TextChunks", "ByteChunks", "AudioLength"]

T = TypeVar("T", str, bytes)


class _Chunks(msgspec.Struct, Generic[T], frozen=True, gc=False, eq=False):
    """An immutable sequence of chunks with a lazily joined, cached value.

    Equality and hashing are by joined value, not by how the value was cut
    into chunks: two peers that received the same text in different deltas
    hold equal values.
    """

    parts: PVector[T]
    size: int
    joined: T | None = None

    @property
    def value(self) -> T:
        """The whole value (joined once, then cached)."""
        joined = self.joined
        if joined is None:
            joined = self.parts[0] if len(self.parts) == 1 else self._join()
            force_setattr(self, "joined", joined)
        return joined

    def _join(self) -> T:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Chunks)
        return self is other or (self.size == other.size and self.value == other.value)

    def __hash__(self) -> int:
        return hash((type(self), self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class TextChunks(_Chunks[str], frozen=True, gc=False, eq=False):
    """Text built from deltas (``size`` counts characters)."""

    @classmethod
    def of(cls, text: str = "") -> TextChunks:
        return cls(pvector((text,)) if text else _EMPTY_TEXT_PARTS, len(text), text)

    def append(self, delta: str) -> TextChunks:
        return TextChunks(self.parts.append(delta), self.size + len(delta))

    def _join(self) -> str:
        return "".join(self.parts)

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


_EMPTY_TEXT_PARTS: PVector[str] = pvector()
_NO_BLOCKS: PVector[tuple[bytes | bytearray, int]] = pvector()
