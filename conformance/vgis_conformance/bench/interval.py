"""How sure a ratio is: paired per-round ratios, their median, and a distribution-free interval around it.

A shared machine's load drifts over seconds, so two peers timed minutes apart
are compared under different loads. The bench therefore times them in rounds,
back to back (:mod:`.driver`), and a ratio is taken *per round* (round i of
peer A over round i of peer B), so drift that hits the round hits both sides.
The ratio's figure is the median of those per-round ratios, and its spread an
order-statistic confidence interval for that median: the interval
``[x(k), x(n+1-k)]`` of the sorted ratios holds the true median with
probability ``1 - 2 P(Binomial(n, 1/2) < k)``, whatever the distribution, so no
resampling and no seed are needed and the same samples always give the same
verdict. With too few rounds no ``k`` reaches the confidence asked for, and the
interval says so (``coverage`` below ``confidence``): such a ratio cannot be
decided, however far its median is from the threshold.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["met", "missed", "undecidable", "not measured"]
CONFIDENCE = 0.90  # of the interval for a ratio's median


@dataclass(frozen=True)
class Interval:
    """The median of per-round ratios and a confidence interval for it."""

    median: float
    lo: float
    hi: float
    rounds: int
    coverage: float  # the probability that [lo, hi] holds the true median (exact, distribution-free)

    @property
    def spread(self) -> float:
        """The interval's larger distance from the median, relative to it: the ``±`` that the bound caps."""
        if self.median <= 0:
            return math.inf
        return max(self.hi / self.median - 1.0, 1.0 - self.lo / self.median)


def _coverage(n: int, k: int) -> float:
    """P(x(k) <= true median <= x(n+1-k)) for n independent draws: 1 - 2 P(Binomial(n, 1/2) <= k - 1)."""
    tail = sum(math.comb(n, i) for i in range(k)) / (1 << n)
    return 1.0 - 2.0 * tail


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """The median of ``values`` with the narrowest order-statistic interval of at least ``confidence``.

    When even ``[min, max]`` falls short of ``confidence`` (too few values) that
    interval is returned with its true, lower coverage. None for no values.
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return None
    k = 1
    while k + 1 <= (n + 1) // 2 and _coverage(n, k + 1) >= confidence:
        k += 1
    return Interval(statistics.median(xs), xs[k - 1], xs[n - k], n, _coverage(n, k))


def paired_ratios(
    top: Sequence[float | None], top_bytes: int, bottom: Sequence[float | None], bottom_bytes: int
) -> list[float]:
    """Per round, top's throughput over bottom's, from each side's seconds of that round.

    A round that either side lacks (None, a failed request, or a round one side
    never ran) is skipped rather than paired with some other round.
    """
    out: list[float] = []
    for a, b in zip(top, bottom, strict=False):
        if a is None or b is None or a <= 0 or b <= 0:
            continue
        out.append((top_bytes / a) / (bottom_bytes / b))
    return out


def decide(interval: Interval | None, threshold: float, confidence: float = CONFIDENCE) -> Verdict:
    """``ratio >= threshold``: met or missed only when the whole interval lies on one side of it.

    An interval that straddles the threshold, or one whose coverage is short of
    ``confidence`` because there were too few rounds, is undecidable.
    """
    if interval is None:
        return "not measured"
    if interval.coverage < confidence:
        return "undecidable"
    if interval.lo >= threshold:
        return "met"
    if interval.hi < threshold:
        return "missed"
    return "undecidable"
