"""The suite's state for one pytest process (the controller or an xdist worker), kept on pytest's stashes.

Hooks, fixtures and the cases that need the run's known failures or report folder read it through
:func:`session_of` (the run) and :func:`case_of` (one collected case), so that every piece of state has
one typed home instead of attributes set on ``config`` or an item and module globals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vgis_conformance.manifest import Manifest
from vgis_conformance.merge import Tally
from vgis_conformance.outcomes import KnownFailure
from vgis_conformance.peer import Peer


@dataclass
class Session:
    """What the run selected at configure time, and what it gathers until the reports are written."""

    manifests: list[Manifest]
    known: dict[str, dict[str, KnownFailure]]
    """Each peer's known-failures lines by case ID (base file plus release overlay)."""
    known_files: dict[str, Path | None]
    report_dir: Path
    worker: str
    """This process's xdist worker ID, or ``main`` without xdist and on the controller."""
    is_worker: bool
    started: float = field(default_factory=time.time)
    unavailable: dict[str, str] = field(default_factory=dict)
    """Peers the controller could not build, with why; a worker's stays empty (its pool keeps what it learns)."""
    built_from: dict[str, Any] = field(default_factory=dict)
    shm_before: set[str] = field(default_factory=set)
    """/dev/shm as the session began, so that sessionfinish sees only what this run left."""
    tally: Tally = field(default_factory=Tally)
    peer_pids: list[int] = field(default_factory=list)
    """Every process ID this process's peers ran as, to find segments they named themselves."""
    final_counters: dict[str, dict[str, int]] = field(default_factory=dict)
    report_paths: dict[str, Path] = field(default_factory=dict)


@dataclass
class CaseState:
    """What one case's fixtures learn while it runs, for its outcome and replay recipe."""

    peers: list[Peer] = field(default_factory=list)
    history_marks: dict[str, int] = field(default_factory=dict)
    """Each peer's request count when the case took it: its replay recipe is the history from there."""
    known_lines: dict[str, KnownFailure] = field(default_factory=dict)
    header_snapshot: str | None = None
    """The segment header as hex, as the case last saw it."""


SESSION_KEY = pytest.StashKey[Session]()
CASE_KEY = pytest.StashKey[CaseState]()


def session_of(config: pytest.Config) -> Session:
    """The run's session; a KeyError means the suite's plugin did not configure this pytest session."""
    return config.stash[SESSION_KEY]


def case_of(item: pytest.Item) -> CaseState:
    """The case's state, made on first use."""
    return item.stash.setdefault(CASE_KEY, CaseState())
