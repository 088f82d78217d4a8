"""The harness's own view of a segment: raw bytes, with no validation.

The harness maps the same memory as the peers so that it can snapshot the
header, plant corrupt bytes, lay canaries and see every byte a peer wrote,
without trusting any implementation, the reference included.
"""

from __future__ import annotations

import _posixshmem
import array
import functools
import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from vgis.allocator import Allocator
from vgis.header import HEADER_SIZE, MAGIC, VERSION, Header, decode, meaningful_length

SHM_DIR = Path("/dev/shm")
CANARY_KEY = 0x5647_4953_4341_4E59  # "VGISCANY": any key works, a fixed one keeps replays byte-identical
_MIX = (0xBF58_476D_1CE4_E5B9, 0x94D0_49BB_1331_11EB)  # splitmix64's finalizer
_CHUNK_WORDS = 1 << 17  # 1 MiB of canary per pyarrow pass: the intermediates stay in cache


def canary_word(index: int) -> int:
    """The canary's 8-byte word ``index`` (absolute offset ``8 * index``), as an integer: splitmix64's finalizer.

    Each word is a keyed hash of its own position, so no constant byte, no copy of another region and no
    shifted copy of the canary itself reads as canary (a uniform byte let a peer rewrite data unseen).
    """
    m = (1 << 64) - 1
    z = (index + CANARY_KEY) & m
    z = ((z ^ (z >> 30)) * _MIX[0]) & m
    z = ((z ^ (z >> 27)) * _MIX[1]) & m
    return z ^ (z >> 31)


@functools.cache
def _all_word_indices() -> pa.Array:
    """0.._CHUNK_WORDS-1 as uint64, built once (pa.array(range) is slow for millions)."""
    indices = array.array("Q", range(_CHUNK_WORDS))
    return pa.Array.from_buffers(pa.uint64(), _CHUNK_WORDS, [None, pa.py_buffer(indices)])


def _canary_words(first: int, n: int) -> memoryview:
    """Words ``first..first+n-1`` of the canary, little-endian: ``canary_word`` vectorised with pyarrow."""
    u64 = pa.uint64()

    def mix(z: pa.Array, shift: int, factor: int) -> pa.Array:
        return pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, pa.scalar(shift, u64))), pa.scalar(factor, u64))

    z = pc.add(_all_word_indices().slice(0, n), pa.scalar((first + CANARY_KEY) & ((1 << 64) - 1), u64))
    z = mix(mix(z, 30, _MIX[0]), 27, _MIX[1])
    z = pc.bit_wise_xor(z, pc.shift_right(z, pa.scalar(31, u64)))
    return memoryview(z.buffers()[1]).cast("B")[: 8 * n]


_PREFIX_LIMIT = 32 << 20  # canary of bytes 0..32 MiB kept once computed: every case lays the same bytes


@functools.cache
def _canary_prefix() -> bytes:
    """The canary of absolute bytes 0.._PREFIX_LIMIT, computed on first use.

    Every case lays the canary over a fresh segment's data area (12 MiB in the cross grid), and
    recomputing the hash per case was half a cross case's time; copying a cached prefix is a memcpy.
    """
    return b"".join(bytes(_canary_words(first, _CHUNK_WORDS)) for first in range(0, _PREFIX_LIMIT // 8, _CHUNK_WORDS))


def canary_chunks(offset: int, length: int) -> Iterator[tuple[int, memoryview]]:
    """The canary of absolute segment bytes ``offset..offset+length``, as (absolute offset, bytes) chunks.

    The one producer of canary bytes: laying it and checking against it both come through here, so the
    pattern of any range is the same wherever it is asked for.
    """
    end, at = offset + length, offset
    if end <= _PREFIX_LIMIT:
        if length > 0:
            yield at, memoryview(_canary_prefix())[at:end]
        return
    while at < end:
        first = at // 8
        n = min(_CHUNK_WORDS, (end + 7) // 8 - first)
        words = _canary_words(first, n)
        skip = at - 8 * first
        chunk = words[skip : min(8 * n, end - 8 * first)]
        yield at, chunk
        at += len(chunk)


def canary(offset: int, length: int) -> bytes:
    """The canary bytes of absolute segment offsets ``offset..offset+length``."""
    return b"".join(bytes(chunk) for _, chunk in canary_chunks(offset, length))


def canary_index(lo: int, hi: int, skip: tuple[int, int] = (0, 0)) -> dict[bytes, int]:
    """Every whole canary word of absolute bytes ``lo..hi`` outside ``skip`` (a range), keyed by its bytes.

    The words are keyed hashes of their positions, so eight bytes equal to one of them anywhere in a batch
    were copied from that offset of the segment, at whatever alignment.
    """
    first, last = -(-lo // 8), hi // 8
    raw = canary(8 * first, 8 * (last - first)) if last > first else b""
    return {
        raw[8 * i : 8 * i + 8]: 8 * (first + i)
        for i in range(last - first)
        if not skip[0] - 8 < 8 * (first + i) < skip[1]
    }


def find_canary(data: bytes | memoryview, index: dict[bytes, int]) -> tuple[int, int] | None:
    """The first (position in ``data``, absolute segment offset) where ``data`` holds a canary word of ``index``."""
    view = bytes(data)
    for at in range(len(view) - 7):
        offset = index.get(view[at : at + 8])
        if offset is not None:
            return at, offset
    return None


def _same(a: memoryview, b: memoryview) -> bool:
    """Byte equality by memcmp (memoryview's own == unpacks element by element)."""
    return bool(pa.py_buffer(a).equals(pa.py_buffer(b)))


def first_non_canary(data: bytes | memoryview, at: int) -> int | None:
    """Index in ``data`` of its first byte that is not the canary, ``data[0]`` being absolute offset ``at``."""
    view = memoryview(data).cast("B")
    for start, chunk in canary_chunks(at, len(view)):
        lo, hi = start - at, start - at + len(chunk)
        if not _same(view[lo:hi], chunk):
            while hi - lo > 1:  # halve: a few memcmps instead of a Python loop over megabytes
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _same(view[lo:mid], chunk[lo - start + at : mid - start + at]) else (lo, mid)
            return lo
    return None


def shm_path(name: str) -> Path:
    """Where Linux exposes a POSIX segment as a file."""
    return SHM_DIR / name.lstrip("/")


def exists(name: str) -> bool:
    """True while the OS object exists."""
    return shm_path(name).exists()


def unlink(name: str) -> bool:
    """Remove the object if it is still there; True when something was removed."""
    try:
        _posixshmem.shm_unlink("/" + name.lstrip("/"))
    except FileNotFoundError:
        return False
    return True


def fresh_header(size: int) -> bytes:
    """The fixed fields of an empty, valid header for a ``size``-byte segment (LIFE-3): how the harness makes
    a segment no peer created, and the start of the stateful machine's model."""
    return Header(MAGIC, VERSION, size - HEADER_SIZE, 0, 0, ()).encode()


def table_bytes(entries: Sequence[tuple[int, int]]) -> bytes:
    """Entries as the header's slots hold them, from byte 24 on, however many and whatever their values."""
    flat = [v for entry in entries for v in entry]
    return struct.pack(f"<{len(flat)}Q", *flat)


class Mapping:
    """A read-write mapping of an existing segment, independent of any peer."""

    def __init__(self, name: str) -> None:
        fd = os.open(shm_path(name), os.O_RDWR)
        try:
            self.size = os.fstat(fd).st_size
            self._map = mmap.mmap(fd, self.size)
        finally:
            os.close(fd)
        self.name = name

    def read(self, offset: int, length: int) -> bytes:
        """Copy out ``length`` bytes at ``offset``."""
        return self._map[offset : offset + length]

    def write(self, offset: int, data: bytes) -> None:
        """Plant ``data`` at ``offset``."""
        self._map[offset : offset + len(data)] = data

    def plant_table(
        self, entries: Sequence[tuple[int, int]], count: int | None = None, stale: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Write a table straight into the header, as a buggy peer might have: ``entries`` and then ``stale``
        slots from byte 24, and num_allocs ``count`` (the number of entries unless given). The one way cases
        plant a table, hostile or not."""
        slots = [*entries, *stale]
        if slots:
            self.write(24, table_bytes(slots))
        self.write(16, struct.pack("<I", len(entries) if count is None else count))

    def header(self) -> Header:
        """The decoded header as it is now."""
        return decode(self._map[:HEADER_SIZE])

    def header_bytes(self, full: bool = False) -> bytes:
        """The meaningful header prefix, or all 65,536 bytes."""
        if full:
            return self._map[:HEADER_SIZE]
        return self._map[: meaningful_length(self.header().num_allocs)]

    def data(self) -> bytes:
        """A snapshot of the whole data region."""
        return self._map[HEADER_SIZE:]

    def fill_data(self) -> None:
        """Lay the canary over the whole data region."""
        self.fill_canary(HEADER_SIZE, self.size - HEADER_SIZE)

    def fill_canary(self, offset: int, length: int) -> None:
        """Lay the canary over absolute bytes ``offset..offset+length``."""
        for at, chunk in canary_chunks(offset, length):
            self._map[at : at + len(chunk)] = chunk

    def place(self, data: bytes) -> int | None:
        """Allocate first-fit with the reference allocator and copy ``data`` there.

        The harness plays writer this way when a peer is to read golden bytes.
        """
        view = memoryview(self._map)
        try:
            offset = Allocator(view, self.size).allocate(len(data))
        finally:
            view.release()
        if offset is not None:
            self.write(offset, data)
        return offset

    def free(self, offset: int) -> None:
        """Free with the reference allocator (for peers that cannot)."""
        view = memoryview(self._map)
        try:
            Allocator(view, self.size).free(offset)
        finally:
            view.release()

    def close(self) -> None:
        """Unmap."""
        self._map.close()

    def __enter__(self) -> Mapping:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
