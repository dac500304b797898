"""``DeterministicIds`` mints the id the documented derivation gives, however it gets there.

The id of ``prefix`` number ``n`` (one counter for all prefixes) is the keyed BLAKE2b of
``b"prefix/n"`` (key: the seed's first 64 bytes; 16-byte digests for ``call``, 21 for the
rest), mapped to alphanumerics. The factory keeps a hasher per prefix, already keyed and fed
``prefix/``, and copies it for each id; recorded conversations and tests compare ids, so the
shortcut must give exactly the digests of hashing each message afresh - for the prefixes the
core uses, for others, and past the number of prefixes the factory keeps a hasher for.
"""

from __future__ import annotations

import hashlib

import pytest

from rtcore import DeterministicIds

_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _reference(seed: bytes, prefix: str, n: int) -> str:
    digest = hashlib.blake2b(
        b"%s/%d" % (prefix.encode(), n),
        digest_size=16 if prefix == "call" else 21,
        key=seed[:64],
    ).digest()
    return prefix + "_" + bytes(_ALPHABET[b % 62] for b in digest).decode()


@pytest.mark.parametrize("seed", [b"rtcore", "rtcore-client", b"", b"k" * 64, b"long" * 40])
def test_ids_are_the_keyed_digest_of_prefix_and_counter(seed: bytes | str) -> None:
    ids = DeterministicIds(seed)
    key = seed.encode() if isinstance(seed, str) else seed
    # The core's prefixes, then more distinct prefixes than the factory keeps hashers for,
    # then the core's again: every path (kept, not kept, kept earlier) gives the same ids.
    prefixes = ["event", "item", "resp", "call", "sess", "conv"]
    prefixes += [f"p{i}" for i in range(40)] + ["é", "x" * 300] + prefixes * 3
    for n, prefix in enumerate(prefixes, 1):
        assert ids(prefix) == _reference(key, prefix, n)


def test_the_default_seed_and_the_short_call_ids() -> None:
    ids = DeterministicIds()
    assert [ids("event"), ids("item"), ids("call")] == [
        _reference(b"rtcore", "event", 1),
        _reference(b"rtcore", "item", 2),
        _reference(b"rtcore", "call", 3),
    ]
    assert len(_reference(b"rtcore", "call", 3)) == len("call_") + 16
