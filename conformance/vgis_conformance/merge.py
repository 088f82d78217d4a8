"""What every process of a run found, gathered where the reports are written.

Under xdist each worker runs its own peers. Case results and the peers'
hello and counters travel to the controller in each report's
``user_properties`` (as JSON, so they survive xdist's serialisation); a
worker's final counters and the segments it found left in /dev/shm travel in
its ``workeroutput`` when it ends. Counters are kept per worker and summed, so
that a later report of the same worker replaces its earlier one instead of
adding to it. Without xdist the one process is worker ``main``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from vgis_conformance.outcomes import CaseResult
from vgis_conformance.peer import Peer

RESULT_PROPERTY = "vgis_result"
PEER_INFO_PROPERTY = "vgis_peer_info"
WARNING_PROPERTY = "vgis_warning"
CASE_ID_PROPERTY = "vgis_case_id"
FINAL_COUNTERS_OUTPUT = "vgis_final_counters"
LEFT_OUTPUT = "vgis_left_in_dev_shm"

RESTARTS = "restarts"
SEGMENTS_CREATED = "segments_created"
SEGMENTS_REMOVED = "segments_removed_after_failure"
COUNTERS = (RESTARTS, SEGMENTS_CREATED, SEGMENTS_REMOVED)
"""The per-peer counters, as report.json names them."""


def counters_of(peer: Peer) -> dict[str, int]:
    """A peer's counters so far in this process."""
    return {
        RESTARTS: peer.restarts,
        SEGMENTS_CREATED: peer.segments_created,
        SEGMENTS_REMOVED: peer.segments_removed,
    }


def peer_info_of(peers: list[Peer]) -> dict[str, dict[str, Any]]:
    """What a case's report carries about its peers: the hello, the language, and the counters."""
    return {
        p.name: {**p.info, "language": p.info.get("language") or p.manifest.language, **counters_of(p)} for p in peers
    }


@dataclass
class Tally:
    """The run's results, peer info and leftovers; registered as a plugin so it sees every report.

    An object rather than module globals so that two pytest sessions in one
    process (a test running the suite in-process) keep theirs apart.
    """

    results: list[CaseResult] = field(default_factory=list)
    peer_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    left_in_dev_shm: list[str] = field(default_factory=list)

    def add_peer_info(self, worker: str, name: str, info: dict[str, Any]) -> None:
        """Take a worker's latest word on a peer: the hello fields as they are, the counters summed over workers."""
        seen = self.peer_info.setdefault(name, {"workers": {}})
        seen.update({k: v for k, v in info.items() if k not in COUNTERS})
        seen["workers"][worker] = {k: info[k] for k in COUNTERS}
        for k in COUNTERS:
            seen[k] = sum(w[k] for w in seen["workers"].values())

    def add_final(self, worker: str, final_counters: dict[str, dict[str, int]], left: list[str]) -> None:
        """A process ended: its peers' final counters and what it removed from /dev/shm."""
        for name, counters in final_counters.items():
            self.add_peer_info(worker, name, counters)
        self.left_in_dev_shm.extend(left)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RESULT_PROPERTY:
                self.results.append(CaseResult.from_json(json.loads(str(value))))
            elif key == PEER_INFO_PROPERTY:
                worker = report.node.gateway.id if hasattr(report, "node") else "main"
                for name, info in json.loads(str(value)).items():
                    self.add_peer_info(worker, name, info)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """An xdist worker ended (``node`` is xdist's untyped WorkerController): take what it sent."""
        output = getattr(node, "workeroutput", {}) or {}
        self.add_final(node.gateway.id, output.get(FINAL_COUNTERS_OUTPUT, {}), output.get(LEFT_OUTPUT, []))
