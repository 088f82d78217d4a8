"""Merging across xdist workers: counters sum over workers, and a worker's later word replaces its earlier one."""

from __future__ import annotations

from vgis_conformance.merge import COUNTERS, RESTARTS, SEGMENTS_CREATED, SEGMENTS_REMOVED, Tally


def counters(restarts: int, created: int, removed: int) -> dict[str, int]:
    return {RESTARTS: restarts, SEGMENTS_CREATED: created, SEGMENTS_REMOVED: removed}


def test_counters_sum_over_workers_and_a_worker_counts_once() -> None:
    tally = Tally()
    tally.add_peer_info("gw0", "cpp", {"version": "1", **counters(0, 5, 0)})
    tally.add_peer_info("gw1", "cpp", {"version": "1", **counters(1, 3, 2)})
    tally.add_peer_info("gw0", "cpp", {"version": "2", **counters(1, 9, 1)})
    info = tally.peer_info["cpp"]
    assert {k: info[k] for k in COUNTERS} == counters(2, 12, 3)
    assert info["version"] == "2"


def test_final_counters_and_leftovers_of_a_worker() -> None:
    tally = Tally()
    tally.add_peer_info("gw0", "cpp", {"version": "1", **counters(0, 5, 0)})
    tally.add_final("gw0", {"cpp": counters(1, 7, 1)}, ["vgis-gw0-1-seg-1"])
    tally.add_final("gw1", {}, ["vgis-gw1-2-seg-1"])
    assert {k: tally.peer_info["cpp"][k] for k in COUNTERS} == counters(1, 7, 1)
    assert tally.peer_info["cpp"]["version"] == "1"
    assert tally.left_in_dev_shm == ["vgis-gw0-1-seg-1", "vgis-gw1-2-seg-1"]
