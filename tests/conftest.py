"""Shared fixtures: leak detection in /dev/shm and uniquely named segments.

Every segment a test creates goes through ``ShmFactory``, whose names start
with ``/vgis-test-<pid>-``. The session fixture fails the run if any file
appeared in /dev/shm during it, except files whose names carry the pid of
another live process (a concurrent session's own, still in use).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from vgis.segment import Segment, unlink_name
from vgis_conformance.testkit import ShmFactory, name_prefix, shm_listing

PREFIX = name_prefix()


def _foreign(name: str) -> bool:
    """True for a name that carries the pid of another live process.

    Kit sessions (this suite under other pids, the conformance harness,
    fixture builders) put their pid in their names; while they run next to
    this session, their files are theirs, not leaks of this one.
    """
    for pid in (int(p) for p in re.findall(r"(?<![0-9])([0-9]{2,9})(?![0-9])", name)):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return True
        return True
    return False


@pytest.fixture(scope="session", autouse=True)
def no_shm_leaks() -> Iterator[None]:
    """Fail the run if this session left anything in /dev/shm."""
    before = shm_listing()
    yield
    appeared = shm_listing() - before
    ours = sorted(n for n in appeared if n.startswith(PREFIX))
    # Another kit session (a different pid) may be running next to this one;
    # its files are its own business. Anything else that appeared is a leak.
    unknown = sorted(n for n in appeared if not n.startswith(PREFIX) and not _foreign(n))
    for name in ours:
        unlink_name("/" + name)
    if ours or unknown:
        pytest.fail(f"/dev/shm leak: left by this session {ours}; appeared meanwhile {unknown}")


@pytest.fixture(scope="session")
def shm_session() -> Iterator[ShmFactory]:
    """A factory for tests under hypothesis (which rejects function-scoped fixtures)."""
    factory = ShmFactory()
    yield factory
    factory.cleanup()


@pytest.fixture
def shm() -> Iterator[ShmFactory]:
    """A factory whose segments are closed and unlinked when the test ends."""
    factory = ShmFactory()
    yield factory
    factory.cleanup()


@pytest.fixture
def segment(shm: ShmFactory) -> Segment:
    """One fresh owned segment of ``DEFAULT_SIZE`` bytes."""
    return shm.create()
