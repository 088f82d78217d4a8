"""The bench's rounds with fake peers: interleaved action by action, rotating, each action on its segment.

The fakes record every request, so the order the driver asks in (what makes a
per-round ratio a fair pairing) is checked without timing anything.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, cast

from vgis_conformance.bench import targets
from vgis_conformance.bench.driver import Bench, run_rounds
from vgis_conformance.bench.schedule import Plan, measure
from vgis_conformance.bench.stats import Run
from vgis_conformance.protocol import Json, PeerError


class _Process:
    alive = True

    def __init__(self, peer: _Peer) -> None:
        self.peer = peer

    def request(self, op: str, **args: Any) -> Json:
        return self.peer.answer(op, args)

    def send(self, op: str, **args: Any) -> int:
        """The pipe reader's request (answered by ``receive``); the fake never opens the FIFO."""
        return 1

    def receive(self, rid: int, timeout: float) -> Json:
        return {"seconds": [0.002], "bytes": 1000}


class _Peer:
    """A peer that answers every bench request with made-up seconds and logs it."""

    def __init__(
        self, name: str, log: list[tuple[str, str, str]], declines: frozenset[str] = frozenset(), noise: float = 0.0
    ) -> None:
        self.name = name
        self.log = log
        self.declines = declines
        self.random = random.Random(name)
        self.noise = noise
        self.process = _Process(self)
        self.segments = 0

    def call(self, op: str, **args: Any) -> Json:
        return self.answer(op, args)

    def answer(self, op: str, args: dict[str, Any]) -> Json:
        if op == "create":
            self.segments += 1
            return {"segment": f"{self.name}-{self.segments}", "name": f"vgis-test-fake-{self.name}-{self.segments}"}
        if op == "write":
            return {"offset": 65536, "length": 1000}
        if op != "bench":
            return {}
        if args["action"] in self.declines:
            raise PeerError(self.name, {"op": op}, "bad_request", f"unknown bench action {args['action']!r}")
        self.log.append((self.name, args["action"], args["segment"]))
        seconds = [0.001 * (1 + self.noise * self.random.uniform(-1, 1)) for _ in range(args["repeat"])]
        return {"seconds": seconds, "bytes": 1000}

    def forget(self, name: str) -> None:
        pass


def _bench(peer: _Peer) -> Bench:
    return Bench(cast(Any, peer), cast(Any, _Peer(f"{peer.name}-writer", [])))


def test_rounds_interleave_peers_action_by_action_and_rotate(tmp_path: Path) -> None:
    log: list[tuple[str, str, str]] = []
    a, b = _Peer("a", log), _Peer("b", log, declines=frozenset({"resolve_trusted"}))
    run = Run()
    run_rounds([_bench(a), _bench(b)], "plain", 1024, 0, 3, 0, tmp_path, 10.0, run)
    assert not run.errors
    order = [(peer, action) for peer, action, _ in log]
    assert order[:5] == [("a", "write"), ("b", "write"), ("a", "resolve"), ("b", "resolve"), ("a", "resolve_trusted")]
    # Round 2 starts with b, round 3 with a again; b, having declined resolve_trusted, is not asked again.
    round2 = order[7:13]
    assert round2 == [
        ("b", "write"),
        ("a", "write"),
        ("b", "resolve"),
        ("a", "resolve"),
        ("a", "resolve_trusted"),
        ("b", "memcpy"),
    ]
    assert ("b", "resolve_trusted") not in order and "b" in run.unoffered
    # resolve reads the held region's segment (made second); write and memcpy use the empty one.
    for peer, action, seg in log:
        assert seg.endswith("-2") if action.startswith("resolve") else seg.endswith("-1"), (peer, action, seg)
    samples = {(s.peer, s.action): s for s in run.samples}
    assert all(len(s.rounds) == 3 and None not in s.rounds for s in samples.values())
    assert all(len(s.seconds) == 15 for s in samples.values())  # 5 repetitions a round under 1 MiB
    assert [v["rounds"] for v in run.visits] == [3] and len(run.visits[0]["loadavg_before"]) == 3


def test_a_failing_peer_sits_out_the_rest_of_the_stretch(tmp_path: Path) -> None:
    log: list[tuple[str, str, str]] = []
    a, b = _Peer("a", log), _Peer("b", log, declines=frozenset({"resolve"}))  # resolve is not optional: an error
    run = Run()
    run_rounds([_bench(a), _bench(b)], "plain", 1024, 0, 2, 0, tmp_path, 10.0, run)
    assert len(run.errors) == 1 and "b plain 1K resolve" in run.errors[0]
    assert [action for peer, action, _ in log if peer == "b"] == ["write"]
    b_write = next(s for s in run.samples if (s.peer, s.action) == ("b", "write"))
    assert b_write.rounds == [0.001]  # round 2 missing, so never paired


def _cells(result: Json) -> dict[tuple[str, int], int]:
    return {(c["schema"], c["size"]): c["rounds"] for c in result["per_cell"]}


def test_schedule_adds_rounds_to_a_wide_target_until_max_rounds_or_budget(tmp_path: Path) -> None:
    """Noisy fakes named as target 1's peers: the 16K cells (a target row each) get rounds up to max_rounds,
    the 1K ones (no target) only the first pass; with no budget, the first pass only."""
    peers = [_Peer(targets.REFERENCE, [], noise=0.5), _Peer(targets.UPSTREAM, [], noise=0.5)]
    run = Run()
    result = measure([_bench(p) for p in peers], [1024, 16384], Plan(3, 0.01, 60.0, 9), tmp_path, 10.0, run)
    assert _cells(result) == {
        ("plain", 1024): 3,
        ("plain", 16384): 9,
        ("dictionary", 1024): 3,
        ("dictionary", 16384): 9,
    }
    assert result["stopped"] == "max rounds reached"
    row = next(t for t in targets.verdicts(run) if t["target"] == "1 write vs upstream" and t["size"] == 16384)
    assert row["rounds"] == 9
    run = Run()
    result = measure([_bench(p) for p in peers], [16384], Plan(3, 0.01, 0.0, 9), tmp_path, 10.0, run)
    assert _cells(result) == {("plain", 16384): 3, ("dictionary", 16384): 3}
    assert result["stopped"] == "time budget spent"


def test_schedule_stops_when_every_target_is_within_the_bound(tmp_path: Path) -> None:
    peers = [_Peer(targets.REFERENCE, []), _Peer(targets.UPSTREAM, [])]  # no noise: every ratio exactly 1.0
    result = measure([_bench(p) for p in peers], [16384], Plan(5, 0.05, 60.0, 40), tmp_path, 10.0, Run())
    assert _cells(result) == {("plain", 16384): 5, ("dictionary", 16384): 5}
    assert result["stopped"] == "every target ratio within the bound"
