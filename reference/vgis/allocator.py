"""First-fit allocator whose whole state is the header's entry table (ALLOC-*).

The table is shared with another process that may be buggy, so nothing read
from it is trusted: placement treats every listed entry as occupied wherever
it claims to be, and never hands out a range that passes the segment's end.
"""

from __future__ import annotations

import bisect
import struct

from vgis.errors import BadHeader, InvalidArgument, NoAllocation
from vgis.header import (
    ENTRY_SIZE,
    FIXED_SIZE,
    HEADER_SIZE,
    MAX_ALLOCS,
    NUM_ALLOCS_AT,
    read_entries,
    write_entries,
)


def first_fit(entries: list[tuple[int, int]], size: int, total_size: int) -> int | None:
    """Offset of the first gap of ``size`` bytes from ``HEADER_SIZE``, or None.

    Entries are scanned in offset order; a gap opens only past the furthest
    end seen so far, so overlapping, header-reaching or out-of-range entries
    can shrink the free space but never create a phantom gap (ALLOC-8).
    """
    cursor = HEADER_SIZE
    for offset, length in sorted(entries):
        if offset >= cursor and offset - cursor >= size:
            break
        end = offset + length
        if end > cursor:
            cursor = end
    return cursor if cursor + size <= total_size else None


class Allocator:
    """Allocator over a mapped header; ``total_size`` is the mapping's size."""

    def __init__(self, buf: memoryview, total_size: int) -> None:
        self._buf = buf
        self.total_size = total_size

    @property
    def num_allocs(self) -> int:
        """The raw ``num_allocs`` field, which may exceed ``MAX_ALLOCS``."""
        count: int = struct.unpack_from("<I", self._buf, NUM_ALLOCS_AT)[0]
        return count

    def entries(self) -> list[tuple[int, int]]:
        """The live entries in stored order (at most ``MAX_ALLOCS``)."""
        return read_entries(self._buf, self.num_allocs)

    def _entries_for_update(self, clause: str) -> list[tuple[int, int]]:
        count = self.num_allocs
        if count > MAX_ALLOCS:
            raise BadHeader(clause, f"num_allocs {count} exceeds MAX_ALLOCS {MAX_ALLOCS}; table not modified")
        return read_entries(self._buf, count)

    def allocate(self, size: int) -> int | None:
        """Reserve ``size`` bytes first-fit (ALLOC-1); None when it does not fit (ALLOC-3)."""
        if size <= 0:
            raise InvalidArgument("ALLOC-4", f"allocation size must be positive, got {size}")
        count = self.num_allocs
        if count >= MAX_ALLOCS:
            return None
        entries = read_entries(self._buf, count)
        offset = first_fit(entries, size, self.total_size)
        if offset is None:
            return None
        if entries == sorted(entries):
            index = bisect.bisect_right(entries, offset, key=lambda entry: entry[0])
            entries.insert(index, (offset, size))
            write_entries(self._buf, entries, start=index)
        else:
            entries.append((offset, size))
            entries.sort()
            write_entries(self._buf, entries)
        return offset

    def _index_of(self, entries: list[tuple[int, int]], offset: int, clause: str) -> int:
        for i, (o, _) in enumerate(entries):
            if o == offset:
                return i
        raise NoAllocation(clause, f"no allocation starts at offset {offset}")

    def free(self, offset: int) -> None:
        """Remove the entry that starts exactly at ``offset`` (ALLOC-5)."""
        entries = self._entries_for_update("ALLOC-5")
        index = self._index_of(entries, offset, "ALLOC-5")
        del entries[index]
        write_entries(self._buf, entries, start=index)

    def shrink(self, offset: int, length: int) -> None:
        """Shorten the entry at ``offset`` to ``length`` bytes, 1 <= length <= current (ALLOC-6)."""
        entries = self._entries_for_update("ALLOC-6")
        index = self._index_of(entries, offset, "ALLOC-6")
        current = entries[index][1]
        if not 1 <= length <= current:
            raise InvalidArgument("ALLOC-6", f"shrink to {length} bytes: must be within 1..{current}")
        # Only the length field changes; num_allocs is never rewritten, even transiently.
        struct.pack_into("<Q", self._buf, FIXED_SIZE + ENTRY_SIZE * index + 8, length)

    def reset(self) -> None:
        """Forget every entry: ``num_allocs = 0``, nothing else touched (ALLOC-7)."""
        struct.pack_into("<I", self._buf, NUM_ALLOCS_AT, 0)

    def release(self) -> None:
        """Drop the reference to the mapping so that it can be closed."""
        self._buf = memoryview(b"")
