"""Issue 13's ratio targets as data, one verdict per row: met, missed, undecidable or not measured.

Every target is a ratio of two throughputs measured in the same run, round by
round (:mod:`.interval`): a peer's action over another peer's same action, or
over its own memcpy. A row is one ratio at one schema and size, and its verdict
comes from the ratio's interval, never from a median alone, so a noisy run says
"undecidable" where a single run would have guessed. ``bench --check`` fails on
a row that is *missed* with a decidable spread, and on nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vgis_conformance.bench.batches import KIB, MIB, SCHEMAS, human
from vgis_conformance.bench.interval import CONFIDENCE, Interval, decide, median_interval, paired_ratios
from vgis_conformance.bench.stats import Run
from vgis_conformance.protocol import Json

REFERENCE = "python-reference"
UPSTREAM = "vgi-rpc-python"
PORTS = ("rust", "vgi-rpc-rust", "cpp")
PEERS = (REFERENCE, UPSTREAM, *PORTS)  # every peer a target names: what ``bench --targets`` runs
TARGET_SIZES = tuple(16 * KIB * 4**i for i in range(8))  # 16 KiB ... 256 MiB, the range


@dataclass(frozen=True)
class Row:
    """One ratio the issue sets a floor for: ``peer``'s ``action`` over ``base_peer``'s ``base_action``."""

    target: str  # the target number and part, e.g. "1 write"
    peer: str
    action: str
    base_peer: str
    base_action: str
    schema: str
    size: int
    threshold: float  # met when the ratio is at least this

    @property
    def label(self) -> str:
        """The ratio as tables spell it."""
        base = self.base_action if self.base_peer == self.peer else f"{self.base_peer} {self.base_action}"
        return f"{self.peer} {self.action} / {base}, {self.schema} {human(self.size)}"


def rows() -> list[Row]:
    """Every row of targets 1 to 3, whichever peers and sizes a run has (the rest are "not measured")."""
    out = [
        Row("1 write vs upstream", REFERENCE, "write", UPSTREAM, "write", schema, size, 1.0)
        for schema in SCHEMAS
        for size in TARGET_SIZES
    ]
    # "Within 10% of memcpy": the write takes at most 1.1 times memcpy's time.
    out.append(Row("1 write vs memcpy", REFERENCE, "write", REFERENCE, "memcpy", "plain", 64 * MIB, 1 / 1.1))
    out.append(Row("2 safe resolve", REFERENCE, "resolve", UPSTREAM, "resolve", "plain", 64 * MIB, 0.5))
    out.append(Row("2 trusted resolve", REFERENCE, "resolve_trusted", UPSTREAM, "resolve", "plain", 64 * MIB, 0.9))
    out += [
        Row(f"3 {action} vs memcpy", peer, action, peer, "memcpy", "plain", size, 0.8)
        for peer in PORTS
        for size in (64 * MIB, 256 * MIB)
        for action in ("write", "resolve")
    ]
    return out


def interval(run: Run, row: Row, confidence: float = CONFIDENCE) -> Interval | None:
    """The row's ratio from the run's paired rounds, or None when either side was not measured."""
    top = run.get(row.peer, row.schema, row.size, row.action)
    bottom = run.get(row.base_peer, row.schema, row.size, row.base_action)
    if top is None or bottom is None:
        return None
    return median_interval(paired_ratios(top.rounds, top.bytes, bottom.rounds, bottom.bytes), confidence)


def in_cell(schema: str, size: int) -> list[Row]:
    """The rows measured by one schema and size: what decides whether that cell needs more rounds."""
    return [r for r in rows() if (r.schema, r.size) == (schema, size)]


def wants_rounds(run: Run, row: Row, bound: float, confidence: float = CONFIDENCE) -> float:
    """How far the row is from done: 0 when its interval is measured and within ``bound``, else how many
    bounds wide it is (an undecidable row ranks above any decidable one). Not measured rows are done:
    more rounds of peers that are not running cannot help them."""
    iv = interval(run, row, confidence)
    if iv is None:
        return 0.0
    excess = iv.spread / bound if iv.coverage >= confidence else float("inf")
    if excess <= 1.0:
        return 0.0
    return excess + (1e6 if decide(iv, row.threshold, confidence) == "undecidable" else 0.0)


def verdicts(run: Run, confidence: float = CONFIDENCE) -> list[Json]:
    """bench.json's ``targets``: every row with its median, interval, rounds and verdict."""
    out: list[Json] = []
    for row in rows():
        iv = interval(run, row, confidence)
        out.append(
            {
                "target": row.target,
                "ratio": row.label,
                "peer": row.peer,
                "action": row.action,
                "base_peer": row.base_peer,
                "base_action": row.base_action,
                "schema": row.schema,
                "size": row.size,
                "threshold": row.threshold,
                "median": None if iv is None else iv.median,
                "lo": None if iv is None else iv.lo,
                "hi": None if iv is None else iv.hi,
                "spread": None if iv is None else iv.spread,
                "rounds": 0 if iv is None else iv.rounds,
                "coverage": None if iv is None else iv.coverage,
                "verdict": decide(iv, row.threshold, confidence),
            }
        )
    return out


def missed(target_rows: Sequence[Json]) -> list[Json]:
    """The rows ``bench --check`` fails on: missed with a decidable spread (undecidable ones do not fail)."""
    return [r for r in target_rows if r["verdict"] == "missed"]
