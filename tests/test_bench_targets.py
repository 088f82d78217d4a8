"""The bench's verdicts from synthetic rounds: paired ratios, their interval, met / missed / undecidable, --check.

No peer runs here: every sample is made up, so each test knows the verdict it
must get, and a change that decides from a median alone, pairs the wrong
rounds or lets --check pass a missed target fails one of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from vgis_conformance.bench import figures, render, targets
from vgis_conformance.bench.batches import MIB
from vgis_conformance.bench.command import EXIT_MISSED, exit_status
from vgis_conformance.bench.interval import decide, median_interval, paired_ratios
from vgis_conformance.bench.schedule import Plan, next_cell
from vgis_conformance.bench.stats import Run, Sample

SIZE = 64 * MIB


def _sample(peer: str, action: str, seconds: Sequence[float], size: int = SIZE, schema: str = "plain") -> Sample:
    s = Sample(peer, schema, size, action, size, [])
    for i, x in enumerate(seconds):
        s.add_round(i, [x])
    return s


def _row(target: str) -> targets.Row:
    return next(r for r in targets.rows() if r.target == target)


def test_interval_is_the_order_statistic_interval_with_its_exact_coverage() -> None:
    five = median_interval([5.0, 1.0, 4.0, 2.0, 3.0])
    assert five is not None
    assert (five.median, five.lo, five.hi) == (3.0, 1.0, 5.0)
    assert five.coverage == pytest.approx(1 - 2 / 32)  # [min, max] of 5 misses the median with p = 2 * 2^-5
    ten = median_interval([float(x) for x in range(10)])
    assert ten is not None
    # k = 2 covers 1 - 2 * 11/1024 = 0.979; k = 3 only 0.891 < 0.90, so [x(2), x(9)].
    assert (ten.lo, ten.hi) == (1.0, 8.0)
    assert ten.coverage == pytest.approx(1 - 2 * 11 / 1024)
    assert median_interval([]) is None


def test_spread_is_the_larger_relative_distance_from_the_median() -> None:
    iv = median_interval([0.9, 1.0, 1.0, 1.0, 1.2])
    assert iv is not None
    assert iv.spread == pytest.approx(0.2)


def test_paired_ratios_pair_round_with_round_and_skip_missing_ones() -> None:
    # Throughput ratio: (bytes/top) / (bytes/bottom) = bottom/top for equal bytes.
    assert paired_ratios([1.0, None, 2.0, 4.0], 100, [2.0, 1.0, 2.0], 100) == [2.0, 1.0]
    assert paired_ratios([1.0], 200, [1.0], 100) == [2.0]


def test_pairing_cancels_drift_that_hits_both_peers() -> None:
    """Load that doubles over the run slows both peers; per-round ratios stay 2.0, so the interval is tight,
    where a ratio of the two medians would still be right but an unpaired interval would span 1x-4x."""
    drift = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5]
    ratios = paired_ratios([d for d in drift], SIZE, [2 * d for d in drift], SIZE)
    iv = median_interval(ratios)
    assert iv is not None and iv.spread == pytest.approx(0.0)
    assert decide(iv, 1.9) == "met"


def test_decide_met_missed_undecidable() -> None:
    met = median_interval([1.2, 1.25, 1.3, 1.22, 1.28])
    missed = median_interval([0.7, 0.75, 0.8, 0.72, 0.78])
    straddles = median_interval([0.9, 1.1, 1.0, 0.95, 1.05])
    assert decide(met, 1.0) == "met"
    assert decide(missed, 1.0) == "missed"
    assert decide(straddles, 1.0) == "undecidable"
    assert decide(None, 1.0) == "not measured"
    # An interval touching the floor from above is met (the target is "at least").
    assert decide(median_interval([1.0, 1.1, 1.2, 1.3, 1.4]), 1.0) == "met"


def test_too_few_rounds_are_undecidable_however_far_the_median() -> None:
    three = median_interval([5.0, 5.1, 5.2])  # [min, max] of 3 covers only 75%
    assert three is not None and three.coverage == pytest.approx(0.75)
    assert decide(three, 1.0) == "undecidable"
    assert decide(three, 1.0, confidence=0.7) == "met"


def _run_write(ref: Sequence[float], upstream: Sequence[float], size: int = SIZE) -> Run:
    run = Run()
    run.samples += [
        _sample(targets.REFERENCE, "write", ref, size),
        _sample(targets.UPSTREAM, "write", upstream, size),
    ]
    return run


def _verdict(run: Run, target: str, size: int = SIZE, schema: str = "plain", peer: str = targets.REFERENCE) -> str:
    rows = [
        t
        for t in targets.verdicts(run)
        if t["target"] == target and (t["size"], t["schema"], t["peer"]) == (size, schema, peer)
    ]
    assert len(rows) == 1
    return str(rows[0]["verdict"])


def test_target_rows_clearly_met_clearly_missed_and_undecidable() -> None:
    up = [1.0, 1.1, 0.9, 1.05, 0.95]
    assert _verdict(_run_write([x / 2 for x in up], up), "1 write vs upstream") == "met"  # twice as fast
    assert _verdict(_run_write([x * 2 for x in up], up), "1 write vs upstream") == "missed"  # half as fast
    # Round by round faster and slower: the median ratio is 1.0, the interval straddles the floor.
    noisy = [1.0 * f for f in (0.8, 1.25, 0.9, 1.1, 1.0)]
    assert _verdict(_run_write(noisy, [1.0] * 5), "1 write vs upstream") == "undecidable"


def test_every_row_not_in_the_run_is_not_measured_and_does_not_fail_check() -> None:
    rows = targets.verdicts(Run())
    assert rows and all(r["verdict"] == "not measured" for r in rows)
    assert not targets.missed(rows)


def test_the_issue_targets_are_all_there_with_their_floors() -> None:
    rows = targets.rows()
    floors = {(r.target, r.peer, r.action, r.base_peer, r.base_action, r.schema, r.size): r.threshold for r in rows}
    ref, up = targets.REFERENCE, targets.UPSTREAM
    assert floors[("2 safe resolve", ref, "resolve", up, "resolve", "plain", SIZE)] == 0.5
    assert floors[("2 trusted resolve", ref, "resolve_trusted", up, "resolve", "plain", SIZE)] == 0.9
    assert floors[("1 write vs memcpy", ref, "write", ref, "memcpy", "plain", SIZE)] == pytest.approx(1 / 1.1)
    for peer in ("rust", "vgi-rpc-rust", "cpp"):
        for size in (64 * MIB, 256 * MIB):
            for action in ("write", "resolve"):
                assert floors[(f"3 {action} vs memcpy", peer, action, peer, "memcpy", "plain", size)] == 0.8
    vs_upstream = [r for r in rows if r.target == "1 write vs upstream"]
    assert {(r.schema, r.size) for r in vs_upstream} == {
        (schema, 16 * 1024 * 4**i) for schema in ("plain", "dictionary") for i in range(8)
    }
    assert all(r.threshold == 1.0 for r in vs_upstream)


def test_port_vs_own_memcpy_uses_that_peers_memcpy() -> None:
    run = Run()
    run.samples += [
        _sample("rust", "write", [1.0, 1.0, 1.0, 1.0, 1.0]),
        _sample("rust", "memcpy", [0.5, 0.5, 0.5, 0.5, 0.5]),  # write at 0.5x memcpy: missed
        _sample("cpp", "memcpy", [2.0, 2.0, 2.0, 2.0, 2.0]),  # another peer's slow memcpy must not rescue it
    ]
    assert _verdict(run, "3 write vs memcpy", peer="rust") == "missed"
    assert _verdict(run, "3 write vs memcpy", peer="cpp") == "not measured"


def _result(run: Run) -> dict[str, object]:
    return {"targets": targets.verdicts(run)}


def test_check_exits_nonzero_only_for_a_decidable_miss(capsys: pytest.CaptureFixture[str]) -> None:
    up = [1.0, 1.1, 0.9, 1.05, 0.95]
    missed = _result(_run_write([x * 2 for x in up], up))
    met = _result(_run_write([x / 2 for x in up], up))
    undecidable = _result(_run_write([0.8, 1.25, 0.9, 1.1, 1.0], [1.0] * 5))
    assert exit_status(missed, check=True, ok=True) == EXIT_MISSED
    assert "MISSED python-reference write / vgi-rpc-python write, plain 64M" in capsys.readouterr().out
    assert exit_status(met, check=True, ok=True) == 0
    assert exit_status(undecidable, check=True, ok=True) == 0
    assert exit_status(missed, check=False, ok=True) == 0  # without --check a miss is a finding, not a failure
    assert exit_status(met, check=True, ok=False) == 1  # errors still fail the run


def _plan(**kw: float) -> Plan:
    return Plan(repeat=5, bound=kw.get("bound", 0.05), budget=60.0, max_rounds=int(kw.get("max_rounds", 40)))


def test_schedule_adds_rounds_where_a_target_ratio_is_wide_and_stops_when_narrow() -> None:
    wide = _run_write([0.8, 1.25, 0.9, 1.1, 1.0], [1.0] * 5)
    cells = {("plain", SIZE): 5, ("plain", 1024): 5}
    assert next_cell(wide, cells, _plan()) == ("plain", SIZE)
    assert next_cell(wide, {("plain", SIZE): 40}, _plan()) is None  # max rounds reached
    narrow = _run_write([0.5, 0.51, 0.49, 0.5, 0.5], [1.0] * 5)
    assert next_cell(narrow, cells, _plan()) is None
    assert next_cell(narrow, cells, _plan(bound=0.001)) == ("plain", SIZE)  # ±2% is too wide for ±0.1%


def test_wants_rounds_ranks_undecidable_above_decidable_but_wide() -> None:
    row = _row("1 write vs upstream")
    row = targets.Row(row.target, row.peer, row.action, row.base_peer, row.base_action, "plain", SIZE, 1.0)
    decidable_wide = _run_write([0.3, 0.5, 0.4, 0.45, 0.35], [1.0] * 5)  # 2-3x faster, ±25%
    undecidable = _run_write([0.95, 1.05, 1.0, 0.98, 1.02], [1.0] * 5)  # ±5% around 1.0
    a = targets.wants_rounds(decidable_wide, row, 0.01)
    b = targets.wants_rounds(undecidable, row, 0.01)
    assert 0 < a < b
    assert math.isfinite(a)


def test_target_table_shows_verdicts_unmeasured_rows_and_load() -> None:
    up = [1.0, 1.1, 0.9, 1.05, 0.95]
    bench = {
        "targets": targets.verdicts(_run_write([x * 2 for x in up], up)),
        "unoffered": {"vgi-rpc-python": "resolve_trusted: bad_request: unknown bench action"},
    }
    rows, notes = render._target_rows(bench)
    assert len(rows) == 1 and rows[0][-1] == "MISSED" and rows[0][-2] == "5"
    assert any("not measured" in n and "3 write vs memcpy x6" in n for n in notes)
    assert any("vgi-rpc-python does not offer resolve_trusted" in n for n in notes)
    line = render.load_line([1.0, 2.0, 3.0], [1.5, 2.0, 3.0], [1.0, 4.0])
    assert "1.00/2.00/3.00 before" in line and "1.50/2.00/3.00 after" in line and "1.00-4.00 during" in line


def test_targets_preset_selects_every_peer_and_size_a_row_needs() -> None:
    """``bench --targets`` runs targets.PEERS at targets.TARGET_SIZES: no row may need anything else."""
    rows = targets.rows()
    assert {p for r in rows for p in (r.peer, r.base_peer)} == set(targets.PEERS)
    assert {r.size for r in rows} <= set(targets.TARGET_SIZES)


def test_targets_figure_draws_measured_rows_only(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the bench extra (pip install -e '.[bench]') draws the PNG")
    up = [1.0, 1.1, 0.9, 1.05, 0.95]
    png = tmp_path / "targets.png"
    assert figures.plot_targets(targets.verdicts(_run_write([x / 2 for x in up], up)), png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not figures.plot_targets(targets.verdicts(Run()), tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_page_faults_are_kept_per_repetition_beside_the_seconds() -> None:
    sample = Sample("rust", "plain", 64 * MIB, "write", 64 * MIB, [])
    sample.add_round(0, [0.2], [16_386])
    sample.add_round(1, [0.01], [0])
    sample.add_round(2, [0.01])  # a peer that does not count them
    sample.add_round(3, [0.01, 0.01], [5])  # a count per repetition or none at all
    assert sample.summary()["minor_faults"] == [16_386, 0, None, None, None]
    assert Sample("cpp", "plain", MIB, "write", MIB, [0.1], [None], [None]).summary()["minor_faults"] is None
