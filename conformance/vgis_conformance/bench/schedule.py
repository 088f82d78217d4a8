"""How many rounds each schema and size gets: a fixed first pass, then more where a target ratio is still wide.

The first pass gives every schema and size ``repeat`` rounds, whatever the
budget, so every table has its figures. Then, while the time budget lasts, the
schema and size whose target ratio is furthest from done (undecidable ones
first, then the widest relative to the bound, :func:`.targets.wants_rounds`)
gets another stretch of rounds, until every target ratio's interval is within
``±bound`` of its median, the budget runs out, or every unfinished one has had
``max_rounds``. A stretch is sized to what is left of the budget, from how long
that schema and size's rounds took so far.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vgis_conformance.bench import targets
from vgis_conformance.bench.batches import SCHEMAS
from vgis_conformance.bench.driver import Bench, run_rounds
from vgis_conformance.bench.interval import CONFIDENCE
from vgis_conformance.bench.stats import Run
from vgis_conformance.protocol import Json


@dataclass(frozen=True)
class Plan:
    """What the run aims for: ``repeat`` rounds everywhere, then rounds until ``bound`` or ``budget``."""

    repeat: int
    bound: float  # relative half-width of a target ratio's interval that counts as narrow enough
    budget: float  # wall seconds for all the rounds, the first pass included (which always completes)
    max_rounds: int
    confidence: float = CONFIDENCE


def _seconds_per_round(run: Run, cell: tuple[str, int]) -> float:
    """The wall seconds one round of this schema and size took so far, set-up included."""
    visits = [v for v in run.visits if (v["schema"], v["size"]) == cell]
    seconds = sum(float(v["seconds"]) for v in visits)
    return seconds / max(1, sum(int(v["rounds"]) for v in visits))


def next_cell(run: Run, rounds: dict[tuple[str, int], int], plan: Plan) -> tuple[str, int] | None:
    """The schema and size that most needs rounds, or None when no target ratio below max_rounds does."""
    best, worst = None, 0.0
    for cell, done in rounds.items():
        if done >= plan.max_rounds:
            continue
        want = max(
            (targets.wants_rounds(run, r, plan.bound, plan.confidence) for r in targets.in_cell(*cell)), default=0
        )
        if want > worst:
            best, worst = cell, want
    return best


def measure(
    benches: Sequence[Bench], sizes: Sequence[int], plan: Plan, workdir: Path, timeout: float, run: Run
) -> Json:
    """Every schema and size's rounds; returns how the run ended, for bench.json's ``rounds`` field."""
    start = time.perf_counter()
    rounds: dict[tuple[str, int], int] = {}
    for schema in SCHEMAS:
        for size in sizes:
            run_rounds(benches, schema, size, 0, plan.repeat, plan.repeat, workdir, timeout, run)
            rounds[(schema, size)] = plan.repeat
    measured = any(targets.interval(run, r, plan.confidence) is not None for r in targets.rows())
    stopped = "every target ratio within the bound" if measured else "no target ratio measured in this run"
    while (cell := next_cell(run, rounds, plan)) is not None:
        left = plan.budget - (time.perf_counter() - start)
        count = min(plan.repeat, plan.max_rounds - rounds[cell], int(left / max(_seconds_per_round(run, cell), 1e-3)))
        if count < 1:
            stopped = "time budget spent"
            break
        run_rounds(benches, *cell, rounds[cell], count, plan.repeat, workdir, timeout, run)
        rounds[cell] += count
    else:
        if any(rounds[c] >= plan.max_rounds for c in rounds) and _unfinished(run, plan):
            stopped = "max rounds reached"
    return {
        "bound": plan.bound,
        "confidence": plan.confidence,
        "budget_s": plan.budget,
        "max_rounds": plan.max_rounds,
        "seconds": time.perf_counter() - start,
        "stopped": stopped,
        "per_cell": [{"schema": sc, "size": sz, "rounds": n} for (sc, sz), n in rounds.items()],
    }


def _unfinished(run: Run, plan: Plan) -> bool:
    """Is some target ratio still wider than the bound (so the run ended on max_rounds, not on the bound)?"""
    return any(targets.wants_rounds(run, r, plan.bound, plan.confidence) > 0 for r in targets.rows())
