"""Helpers for the reference's own tests (``tests/``), importable where ``tests`` is not.

- ``ShmFactory`` creates uniquely named segments (``/vgis-test-<pid>-<n>``)
  and always closes and unlinks them.
- ``pack_header``, ``raw_num_allocs``, ``raw_entries``, ``write_raw_table``:
  an independent header codec written from the SPEC's byte table (HDR-2..7),
  not from ``vgis.header``, so that the reference is checked against it.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import itertools
import os
from collections.abc import Iterator

from vgis.header import HEADER_SIZE
from vgis.segment import Segment, unlink_name

SHM_DIR = "/dev/shm"
DEFAULT_SIZE = HEADER_SIZE + 64 * 1024

# One counter for every factory in the process, so that two factories alive
# at once (a session's and a test's) never hand out the same name.
_COUNTER = itertools.count()


def name_prefix() -> str:
    """The name prefix of this process's test segments (no leading slash)."""
    return f"vgis-test-{os.getpid()}-"


def shm_listing() -> set[str]:
    """The names currently in /dev/shm."""
    return set(os.listdir(SHM_DIR))


def shm_path(name: str) -> str:
    """The /dev/shm path of a segment name given with or without its slash."""
    return os.path.join(SHM_DIR, name.lstrip("/"))


class ShmFactory:
    """Creates uniquely named segments and always closes and unlinks them."""

    def __init__(self) -> None:
        self._live: list[Segment] = []
        self._names: list[str] = []

    def name(self) -> str:
        """A fresh canonical name ``/vgis-test-<pid>-<n>``; unlinked at cleanup."""
        name = f"/{name_prefix()}{next(_COUNTER)}"
        self._names.append(name)
        return name

    def create(self, size: int = DEFAULT_SIZE) -> Segment:
        """A new owned segment, closed and unlinked at cleanup."""
        segment = Segment.create(self.name(), size)
        self._live.append(segment)
        return segment

    def attach(self, name: str, size: int | None = None) -> Segment:
        """Attach to ``name``; the attachment is closed at cleanup."""
        segment = Segment.attach(name, size)
        self._live.append(segment)
        return segment

    def raw(self, size: int) -> str:
        """A bare POSIX shm object of ``size`` bytes (no header written); returns its name."""
        name = self.name()
        fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        return name

    @contextlib.contextmanager
    def fresh(self, size: int = DEFAULT_SIZE) -> Iterator[Segment]:
        """A segment for one block (one hypothesis example), removed on exit."""
        name = self.name()
        segment = Segment.create(name, size)
        try:
            yield segment
        finally:
            segment.close()
            unlink_name(name)

    def cleanup(self) -> None:
        """Close every segment and unlink every name handed out."""
        for segment in self._live:
            segment.close()
        for name in self._names:
            unlink_name(name)
        self._live.clear()
        self._names.clear()


def pack_header(
    data_size: int,
    entries: list[tuple[int, int]],
    *,
    num_allocs: int | None = None,
    magic: bytes = b"VGIS",
    version: int = 1,
    padding: int = 0,
) -> bytes:
    """The meaningful header bytes for the given fields."""
    count = len(entries) if num_allocs is None else num_allocs
    out = bytearray(magic)
    out += version.to_bytes(4, "little")
    out += data_size.to_bytes(8, "little")
    out += count.to_bytes(4, "little")
    out += padding.to_bytes(4, "little")
    for offset, length in entries:
        out += offset.to_bytes(8, "little") + length.to_bytes(8, "little")
    return bytes(out)


def raw_num_allocs(buf: memoryview | bytes) -> int:
    """Bytes 16..20 as a u32 LE."""
    return int.from_bytes(buf[16:20], "little")


def raw_entries(buf: memoryview | bytes, count: int | None = None) -> list[tuple[int, int]]:
    """``count`` (default num_allocs) entries read from byte 24."""
    if count is None:
        count = raw_num_allocs(buf)
    entries = []
    for i in range(count):
        at = 24 + 16 * i
        entries.append((int.from_bytes(buf[at : at + 8], "little"), int.from_bytes(buf[at + 8 : at + 16], "little")))
    return entries


def write_raw_table(buf: memoryview, entries: list[tuple[int, int]], num_allocs: int | None = None) -> None:
    """Write entries and num_allocs byte by byte, as a foreign (maybe buggy) peer would."""
    count = len(entries) if num_allocs is None else num_allocs
    buf[16:20] = count.to_bytes(4, "little")
    for i, (offset, length) in enumerate(entries):
        at = 24 + 16 * i
        buf[at : at + 16] = offset.to_bytes(8, "little") + length.to_bytes(8, "little")
