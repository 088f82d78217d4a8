"""The harness's own view of a segment: raw bytes, with no validation.

The harness maps the same memory as the peers so that it can snapshot the
header, plant corrupt bytes, lay canaries and see every byte a peer wrote,
without trusting any implementation, the reference included.
"""

from __future__ import annotations

import _posixshmem
import mmap
import os
from pathlib import Path

from vgis.allocator import Allocator
from vgis.header import HEADER_SIZE, Header, decode, meaningful_length

SHM_DIR = Path("/dev/shm")
CANARY = 0xA5


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

    def fill_data(self, value: int = CANARY) -> None:
        """Lay a canary over the whole data region."""
        self._map[HEADER_SIZE:] = bytes([value]) * (self.size - HEADER_SIZE)

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
