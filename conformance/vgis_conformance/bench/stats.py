"""The benchmark's statistics: samples as the peers timed them, and what is derived from them.

Everything here is pure arithmetic on measured seconds, so the figures that end
up in bench.json (medians, quartiles, ratios, crossovers, checks) can be
checked without starting a peer. A sample's repetitions come in rounds
(:mod:`.driver` asks for every peer's action once per round, back to back), and
``rounds`` keeps one figure per round so that :mod:`.interval` can pair round i
of one peer with round i of another.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from vgis_conformance.bench.batches import SCHEMAS
from vgis_conformance.protocol import Json

BASELINE = "python-reference"


@dataclass
class Sample:
    """One action's repetitions, as the peer timed them."""

    peer: str
    schema: str
    size: int
    action: str
    bytes: int
    seconds: list[float]
    rounds: list[float | None] = field(default_factory=list)  # per round: the median of its repetitions
    minor_faults: list[int | None] = field(default_factory=list)  # per repetition, where the peer counts them

    def add_round(self, index: int, seconds: Sequence[float], minor_faults: Sequence[int] | None = None) -> None:
        """Round ``index``'s repetitions; rounds this sample missed (a failed request) stay None.

        ``minor_faults`` (the bench op's optional field) keeps page-fault cost visible beside the seconds: a
        write that faults a fresh segment's pages is slow in its first repetition only, which the median hides.
        """
        self.seconds += seconds
        faults = list(minor_faults) if minor_faults is not None and len(minor_faults) == len(seconds) else None
        self.minor_faults += faults if faults is not None else [None] * len(seconds)
        self.rounds += [None] * (index + 1 - len(self.rounds))
        self.rounds[index] = statistics.median(seconds)

    @property
    def median(self) -> float:
        """The figure every table shows: robust to the odd slow repetition of a shared machine."""
        return statistics.median(self.seconds)

    def gbps(self, seconds: float) -> float:
        """This sample's bytes over ``seconds``, in GB/s (infinite for a zero time, not a crash)."""
        return self.bytes / seconds / 1e9 if seconds > 0 else float("inf")

    def summary(self) -> Json:
        """The sample as bench.json holds it: raw seconds and GB/s median, min, max and quartiles."""
        s = sorted(self.seconds)
        q1, q3 = (statistics.quantiles(s, n=4)[0], statistics.quantiles(s, n=4)[2]) if len(s) >= 2 else (s[0], s[0])
        return {
            "peer": self.peer,
            "schema": self.schema,
            "size": self.size,
            "action": self.action,
            "bytes": self.bytes,
            "repeat": len(s),
            "seconds": self.seconds,
            "rounds": self.rounds,
            "minor_faults": self.minor_faults if any(f is not None for f in self.minor_faults) else None,
            "median_s": self.median,
            "gbps": {
                "median": self.gbps(self.median),
                "min": self.gbps(s[-1]),
                "max": self.gbps(s[0]),
                "q1": self.gbps(q3),
                "q3": self.gbps(q1),
            },
        }


@dataclass
class Run:
    """Everything one ``bench`` invocation measured."""

    samples: list[Sample] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    overhead: dict[str, Json] = field(default_factory=dict)
    overhead_load: Json = field(default_factory=dict)  # load average before and after the overhead requests
    unoffered: dict[str, str] = field(default_factory=dict)  # optional actions a peer declined, and its answer
    visits: list[Json] = field(default_factory=list)  # each stretch of rounds of one schema and size, load included

    def sample(self, peer: str, schema: str, size: int, action: str, moved: int) -> Sample:
        """The sample rounds of this action go into, made on the first one."""
        got = self.get(peer, schema, size, action)
        if got is None:
            got = Sample(peer, schema, size, action, moved, [])
            self.samples.append(got)
        return got

    def get(self, peer: str, schema: str, size: int, action: str) -> Sample | None:
        """The sample of one action, or None when it was not measured (peer failed or skipped)."""
        for s in self.samples:
            if (s.peer, s.schema, s.size, s.action) == (peer, schema, size, action):
                return s
        return None

    def shm_gbps(self, peer: str, schema: str, size: int) -> float | None:
        """Write and resolve together: region bytes over the sum of the two medians."""
        w, r = self.get(peer, schema, size, "write"), self.get(peer, schema, size, "resolve")
        if w is None or r is None:
            return None
        return w.bytes / (w.median + r.median) / 1e9

    def gbps(self, peer: str, schema: str, size: int, action: str) -> float | None:
        """Median GB/s of an action, ``shm`` included, so callers need not tell derived from measured."""
        if action == "shm":
            return self.shm_gbps(peer, schema, size)
        s = self.get(peer, schema, size, action)
        return None if s is None else s.gbps(s.median)


def crossover(run: Run, peer: str, schema: str, sizes: Sequence[int]) -> int | str | None:
    """The smallest size from which shm (write + resolve) beats the pipe at every larger size.

    ``"never"`` when the pipe wins at the largest size, None when nothing was measured.
    """
    found: int | str | None = None
    for size in reversed(sizes):
        shm, pipe = run.shm_gbps(peer, schema, size), run.gbps(peer, schema, size, "pipe")
        if shm is None or pipe is None:
            continue
        if found is None and shm <= pipe:
            return "never"
        if shm > pipe:
            found = size
        else:
            break
    return found


def ratios(run: Run, peers: Sequence[str], sizes: Sequence[int]) -> list[Json]:
    """Peer vs memcpy (the same peer's, same size) and peer vs the baseline peer, from the same run."""
    baseline = BASELINE if BASELINE in peers else (peers[0] if peers else "")
    rows: list[Json] = []
    for schema in SCHEMAS:
        for size in sizes:
            for peer in peers:
                row: Json = {"peer": peer, "schema": schema, "size": size}
                memcpy = run.gbps(peer, schema, size, "memcpy")
                for action in ("write", "resolve", "shm", "pipe"):
                    mine = run.gbps(peer, schema, size, action)
                    base = run.gbps(baseline, schema, size, action)
                    row[f"{action}_vs_memcpy"] = None if mine is None or not memcpy else mine / memcpy
                    row[f"{action}_vs_{baseline}"] = None if mine is None or not base else mine / base
                rows.append(row)
    return rows


def checks(run: Run, zero_copy: Json, suite: Json | None) -> list[Json]:
    """The bench's checks that are not ratios (so have no spread): each met, missed, or not measured (None)."""
    out: list[Json] = [
        {
            "target": "reference non-dictionary resolve is zero-copy",
            "met": zero_copy.get("zero_copy"),
            "detail": f"{zero_copy.get('buffers_inside_region')} of {zero_copy.get('buffers')} buffers of the "
            "resolved batch lie inside the region (in-process check of vgis.pointer.resolve)",
        }
    ]
    worst = max((o["ms_per_request"] for o in run.overhead.values()), default=None)
    out.append(
        {
            "target": "harness overhead < 1 ms per request",
            "met": None if worst is None else worst < 1.0,
            "detail": "; ".join(
                f"{p} {o['ms_per_request'] * 1000:.0f} us ({o['requests_per_s']:.0f} req/s)"
                for p, o in run.overhead.items()
            )
            or "not measured",
        }
    )
    if suite is not None:
        full = [r for r in suite["runs"] if r["peers"] == suite["peers"] and r["mode"] == "-n auto"]
        if full:
            secs = full[0]["seconds"]
            out.append(
                {
                    "target": "full suite with every peer in at most 60 s with -n auto (issue 13, target 4)",
                    "met": secs <= 60,
                    "detail": f"{secs:.1f} s with {len(suite['peers'])} peers, exit status {full[0]['exit']}",
                }
            )
        kit = suite.get("kit_tests")
        if kit:
            out.append(
                {
                    "target": "the kit's own tests in at most 60 s (issue 13, target 4)",
                    "met": kit["seconds"] <= 60 and kit["exit"] == 0,
                    "detail": f"{kit['seconds']:.1f} s, exit status {kit['exit']} (`{kit['command']}`)",
                }
            )
    return out
