"""POSIX shared-memory segments: create, attach, close, unlink (LIFE-*).

Uses ``shm_open`` through CPython's ``_posixshmem`` plus ``mmap``, not
``multiprocessing.shared_memory``: before Python 3.13 the latter registers
even an attached segment with the resource tracker, which unlinks the
creator's segment when the attaching process exits (LIFE-10). With the raw
calls the reference never unlinks what it did not create, on every version.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import errno
import mmap
import os

from vgis.allocator import Allocator
from vgis.errors import BadHeader, BadName, InvalidArgument
from vgis.header import HEADER_SIZE, Header, decode, initialize, meaningful_length, validate

MODE = 0o600


def canonical_name(name: str) -> str:
    """The name with exactly one leading slash (LIFE-9)."""
    return "/" + name.lstrip("/")


def _check_name(name: str) -> None:
    bare = name.lstrip("/")
    if not bare or "/" in bare or "\0" in name or len(bare) > 255:
        raise BadName("LIFE-9", f"invalid segment name {name!r}")


class Segment:
    """A mapped VGIS segment; ``owner`` is True for the creator only."""

    def __init__(self, name: str, fd_map: mmap.mmap, size: int, owner: bool) -> None:
        self.name = name
        self.size = size
        self.owner = owner
        self._map: mmap.mmap | None = fd_map
        self.buf = memoryview(fd_map)
        self.allocator = Allocator(self.buf, size)

    @classmethod
    def create(cls, name: str, size: int) -> Segment:
        """Create, size and initialize a new segment (LIFE-1..3, LIFE-11)."""
        if size <= HEADER_SIZE:
            raise InvalidArgument("LIFE-1", f"segment size must exceed {HEADER_SIZE}, got {size}")
        _check_name(name)
        name = canonical_name(name)
        try:
            fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=MODE)
        except OSError as exc:
            raise BadName("LIFE-1", f"cannot create {name!r}: {exc.strerror}") from exc
        try:
            os.fchmod(fd, MODE)
            os.ftruncate(fd, size)
            actual = os.fstat(fd).st_size
            mapping = mmap.mmap(fd, actual)
        except OSError as exc:
            _posixshmem.shm_unlink(name)
            raise BadName("LIFE-1", f"cannot size or map {name!r}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        segment = cls(name, mapping, actual, owner=True)
        initialize(segment.buf, actual)
        return segment

    @classmethod
    def attach(cls, name: str, size: int | None = None) -> Segment:
        """Map an existing segment after validating its header (LIFE-4..9)."""
        _check_name(name)
        fd = -1
        for candidate in dict.fromkeys((name, canonical_name(name))):
            try:
                fd = _posixshmem.shm_open(candidate, os.O_RDWR, mode=MODE)
                name = candidate
                break
            except OSError as exc:
                error = exc
        if fd < 0:
            kind = "does not exist" if error.errno == errno.ENOENT else error.strerror
            raise BadName("LIFE-9", f"cannot open segment {name!r}: {kind}")
        try:
            actual = os.fstat(fd).st_size
            if actual <= HEADER_SIZE:
                raise BadHeader("LIFE-8", f"object is {actual} bytes, smaller than a header plus data")
            if size is not None and size > actual:
                raise BadHeader("LIFE-8", f"object is {actual} bytes, smaller than the advertised {size}")
            mapping = mmap.mmap(fd, actual)
        finally:
            os.close(fd)
        try:
            # Release the views before closing: a view kept alive by the
            # exception's traceback would make close() raise BufferError.
            with memoryview(mapping) as view, view[:HEADER_SIZE] as head:
                validate(head, actual)
        except BadHeader:
            mapping.close()
            raise
        return cls(name, mapping, actual, owner=False)

    def check_live(self) -> None:
        """Fail with ``bad_header`` if the object shrank under the mapping (LIFE-14), before anything touches it.

        A byte of the mapping past the object's current end raises SIGBUS when read or written, which no
        process survives (ERR-2); the mapping's object size is one ``fstat`` away (``mmap.size``).
        """
        if self._map is not None and (now := self._map.size()) < self.size:
            raise BadHeader("LIFE-14", f"the object shrank to {now} bytes under its {self.size}-byte mapping")

    def header(self) -> Header:
        """The decoded header as it is now."""
        return decode(self.buf[:HEADER_SIZE])

    def header_bytes(self, length: int | None = None) -> bytes:
        """Raw header bytes; by default only the meaningful prefix (HDR-9)."""
        if length is None:
            length = meaningful_length(self.allocator.num_allocs)
        return bytes(self.buf[: min(length, HEADER_SIZE)])

    @property
    def closed(self) -> bool:
        """True once ``close`` has unmapped the segment (the name may still exist)."""
        return self._map is None

    def close(self) -> None:
        """Unmap; zero-copy batches still alive keep the mapping until freed."""
        if self._map is None:
            return
        self.allocator.release()
        try:
            self.buf.release()
            self._map.close()
        except BufferError:
            pass
        self._map = None

    def unlink(self) -> None:
        """Remove the OS object; only the creator may (LIFE-10)."""
        if not self.owner:
            raise InvalidArgument("LIFE-10", f"attacher must not unlink {self.name!r}")
        unlink_name(self.name)

    def __enter__(self) -> Segment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self.owner:
            unlink_name(self.name)


def unlink_name(name: str) -> None:
    """Unlink a segment by name, ignoring one that is already gone."""
    with contextlib.suppress(FileNotFoundError):
        _posixshmem.shm_unlink(canonical_name(name))
