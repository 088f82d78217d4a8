"""The canary: whichever path produces a range (the cached prefix or the chunked hash), it is ``canary_word``."""

from __future__ import annotations

import struct

import pytest

from vgis_conformance import memory


def scalar(offset: int, length: int) -> bytes:
    """The canary of ``offset..offset+length`` straight from its definition, one word at a time."""
    first, last = offset // 8, (offset + length + 7) // 8
    words = b"".join(struct.pack("<Q", memory.canary_word(i)) for i in range(first, last))
    return words[offset - 8 * first : offset - 8 * first + length]


LIMIT = memory._PREFIX_LIMIT


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (65_536, 4_096),  # inside the cached prefix
        (65_539, 13),  # unaligned both ends
        (LIMIT - 20, 40),  # straddles the prefix's end: computed, not cached
        (LIMIT + 3, 21),  # past it
        (0, 0),
    ],
)
def test_canary_is_its_definition(offset: int, length: int) -> None:
    assert memory.canary(offset, length) == scalar(offset, length)


def test_chunks_tile_the_range() -> None:
    offset, length = LIMIT - (3 << 20) + 5, 6 << 20
    chunks = list(memory.canary_chunks(offset, length))
    starts = [at for at, _ in chunks]
    assert starts[0] == offset
    assert all(a + len(c) == b for (a, c), b in zip(chunks, starts[1:]))
    assert sum(len(c) for _, c in chunks) == length
    probe = LIMIT - 8
    got = b"".join(bytes(c) for _, c in chunks)[probe - offset : probe - offset + 16]
    assert got == scalar(probe, 16)
