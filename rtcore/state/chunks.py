"""Chunk vectors: streaming values built from deltas.

Text, transcripts, function-call arguments and audio arrive as deltas. Each
snapshot holds them as a persistent vector of chunks, so that appending one
delta costs the same whether the value is ten bytes or ten megabytes long,
and consecutive snapshots share every chunk they have in common. The joined
value is computed on first use and cached on that chunk vector; later
snapshots that only append do not invalidate it.

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


class ByteChunks(_Chunks[bytes], frozen=True, gc=False, eq=False):
    """Audio bytes built from deltas (``size`` counts bytes)."""

    @classmethod
    def of(cls, data: bytes = b"") -> ByteChunks:
        return cls(pvector((data,)) if data else _EMPTY_BYTE_PARTS, len(data), data)

    def append(self, delta: bytes) -> ByteChunks:
        return ByteChunks(self.parts.append(delta), self.size + len(delta))

    def _join(self) -> bytes:
        return b"".join(self.parts)

    def __bytes__(self) -> bytes:
        return self.value

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
_EMPTY_BYTE_PARTS: PVector[bytes] = pvector()
