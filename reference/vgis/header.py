"""The 65,536-byte segment header: layout, encoding and validation (HDR-*).

The header is the one part of the format that no library owns, so its layout
is spelled out here once, with ``struct``, and every other module and the
conformance checks go through these definitions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vgis.errors import BadHeader

HEADER_SIZE = 65_536
MAGIC = b"VGIS"
VERSION = 1
FIXED = struct.Struct("<4sIQII")
ENTRY = struct.Struct("<QQ")
FIXED_SIZE = FIXED.size
ENTRY_SIZE = ENTRY.size
MAX_ALLOCS = (HEADER_SIZE - FIXED_SIZE) // ENTRY_SIZE
NUM_ALLOCS_AT = 16

assert FIXED_SIZE == 24 and ENTRY_SIZE == 16 and MAX_ALLOCS == 4094


@dataclass(frozen=True)
class Field:
    """One fixed header field, for field-by-field diffs."""

    name: str
    offset: int
    size: int
    fmt: str
    clause: str


FIELDS: tuple[Field, ...] = (
    Field("magic", 0, 4, "4s", "HDR-2"),
    Field("version", 4, 4, "<I", "HDR-3"),
    Field("data_size", 8, 8, "<Q", "HDR-4"),
    Field("num_allocs", 16, 4, "<I", "HDR-5"),
    Field("padding", 20, 4, "<I", "HDR-6"),
)


@dataclass(frozen=True)
class Header:
    """A decoded header; ``entries`` holds only the meaningful entries."""

    magic: bytes
    version: int
    data_size: int
    num_allocs: int
    padding: int
    entries: tuple[tuple[int, int], ...]

    def encode(self) -> bytes:
        """The meaningful bytes: fixed fields plus ``num_allocs`` entries."""
        out = bytearray(FIXED.pack(self.magic, self.version, self.data_size, self.num_allocs, self.padding))
        for offset, length in self.entries:
            out += ENTRY.pack(offset, length)
        return bytes(out)

    def to_json(self) -> dict[str, object]:
        """A JSON-friendly form, used in fixtures and reports."""
        return {
            "magic": self.magic.decode("latin-1"),
            "version": self.version,
            "data_size": self.data_size,
            "num_allocs": self.num_allocs,
            "padding": self.padding,
            "entries": [list(e) for e in self.entries],
        }


def meaningful_length(num_allocs: int) -> int:
    """Bytes of the header that carry state (HDR-9)."""
    return FIXED_SIZE + ENTRY_SIZE * min(num_allocs, MAX_ALLOCS)


def read_entries(buf: memoryview | bytes, count: int) -> list[tuple[int, int]]:
    """Read ``count`` entries (clamped to ``MAX_ALLOCS``) from byte 24."""
    count = min(count, MAX_ALLOCS)
    flat = struct.unpack_from(f"<{2 * count}Q", buf, FIXED_SIZE)
    return list(zip(flat[0::2], flat[1::2], strict=True))


def write_entries(buf: memoryview, entries: list[tuple[int, int]], start: int = 0) -> None:
    """Write ``entries[start:]`` at their slots and set ``num_allocs``."""
    if len(entries) > MAX_ALLOCS:
        raise BadHeader("ALLOC-8", f"refusing to write {len(entries)} entries past the header")
    tail = entries[start:]
    if tail:
        flat = [v for entry in tail for v in entry]
        struct.pack_into(f"<{len(flat)}Q", buf, FIXED_SIZE + ENTRY_SIZE * start, *flat)
    struct.pack_into("<I", buf, NUM_ALLOCS_AT, len(entries))


def decode(buf: memoryview | bytes) -> Header:
    """Decode without validating; entries past ``MAX_ALLOCS`` are not read."""
    magic, version, data_size, num_allocs, padding = FIXED.unpack_from(buf, 0)
    available = (len(buf) - FIXED_SIZE) // ENTRY_SIZE
    entries = read_entries(buf, min(num_allocs, available))
    return Header(magic, version, data_size, num_allocs, padding, tuple(entries))


def initialize(buf: memoryview, total_size: int) -> None:
    """Write a fresh header for a segment of ``total_size`` bytes (LIFE-3)."""
    FIXED.pack_into(buf, 0, MAGIC, VERSION, total_size - HEADER_SIZE, 0, 0)


def validate(buf: memoryview | bytes, object_size: int) -> Header:
    """Check what an attacher must check before trusting a header (LIFE-4..7)."""
    magic, version, data_size, num_allocs, _ = FIXED.unpack_from(buf, 0)
    if magic != MAGIC:
        raise BadHeader("LIFE-4", f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise BadHeader("LIFE-5", f"unsupported version {version}, expected {VERSION}")
    if data_size != object_size - HEADER_SIZE:
        raise BadHeader(
            "LIFE-6",
            f"data_size {data_size} does not match the object: {object_size} - {HEADER_SIZE} = "
            f"{object_size - HEADER_SIZE}",
        )
    if num_allocs > MAX_ALLOCS:
        raise BadHeader("LIFE-7", f"num_allocs {num_allocs} exceeds MAX_ALLOCS {MAX_ALLOCS}")
    return decode(buf)
