"""Known-failures lines as strict xfail markers: a listed case must keep failing, and fail the expected way.

An assertion is the expected failure. A line whose reason starts with a tag
also expects a peer crash or a read outside the region; anything else (a
timeout, a harness error) still fails the run.
"""

from __future__ import annotations

import pytest

from vgis_conformance.outcomes import KnownFailure, ReadOutsideRegion
from vgis_conformance.protocol import PeerCrashed
from vgis_conformance.selection import case_id_of, peers_of
from vgis_conformance.session import case_of

CRASH_TAG = "[crash]"
"""Expects the peer process to die (a fault its library cannot recover from, such as Go's fatal out-of-memory);
the harness still restarts it and cleans up."""
LEAK_TAG = "[leak]"
"""Expects an answer holding bytes from outside the pointer's region (ERR-2)."""


def expected_errors(line: KnownFailure) -> tuple[type[BaseException], ...]:
    """What a case listed with ``line`` may fail with."""
    raises: tuple[type[BaseException], ...] = (AssertionError,)
    if line.reason.startswith(CRASH_TAG):
        raises += (PeerCrashed,)
    if line.reason.startswith(LEAK_TAG):
        raises += (ReadOutsideRegion,)
    return raises


def fails_as_listed(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException] | None) -> bool:
    """Whether ``excinfo`` is the failure a known-failures line of ``item`` expects (so pytest will xfail it)."""
    lines = case_of(item).known_lines.values()
    return excinfo is not None and any(excinfo.errisinstance(expected_errors(line)) for line in lines)


def mark_known_failures(items: list[pytest.Item], known: dict[str, dict[str, KnownFailure]]) -> None:
    """Mark each item some peer lists (by case ID, or ``<case-id>@producer|consumer`` for a pair's role)."""
    for item in items:
        case_id = case_id_of(item)
        peers = peers_of(item)
        roles = ["producer", "consumer"] if len(peers) == 2 else [""]
        for peer, role in zip(peers, roles):
            listed = known.get(peer, {})
            line = listed.get(case_id) or listed.get(f"{case_id}@{role}")
            if line is not None:
                item.add_marker(
                    pytest.mark.xfail(reason=f"{peer}: {line.text}", strict=True, raises=expected_errors(line))
                )
                case_of(item).known_lines[peer] = line
