"""The ``bench`` subcommand: its options, and the order in which a run measures, records and reports.

The JSON files are written first and every table is then rendered from them,
so a later ``bench --markdown`` shows exactly what the run printed. ``--check``
turns issue 13's ratio targets into the exit status: 2 when a target is missed
with a decidable spread (:mod:`.targets`), which no other outcome returns.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from vgis_conformance.bench import memory, render, targets
from vgis_conformance.bench.batches import DEFAULT_SIZES, QUICK_SIZES, SCHEMAS, parse_size
from vgis_conformance.bench.driver import (
    SMALL_REPEAT_FACTOR,
    harness_overhead,
    peers_running,
    select_peers,
    start_benches,
    zero_copy_check,
)
from vgis_conformance.bench.figures import plot, plot_suite, plot_targets
from vgis_conformance.bench.machine import machine, machine_after
from vgis_conformance.bench.schedule import Plan, measure
from vgis_conformance.bench.stats import Run, checks, crossover, ratios
from vgis_conformance.bench.suite import time_suite
from vgis_conformance.manifest import Manifest
from vgis_conformance.protocol import Json, PeerError, PeerFailure
from vgis_conformance.sources import add_source_argument, with_sources

OUT_DIR = Path("benchmarks") / "out"  # of the folder the command runs in
DEFAULT_BUDGET = 600.0  # seconds of rounds before the run stops narrowing intervals
EXIT_MISSED = 2  # bench --check: a ratio target missed with a decidable spread


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's options."""
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        help="benchmark this registered peer (repeatable; default: every default peer with bench)",
    )
    add_source_argument(parser)
    parser.add_argument(
        "--sizes",
        default="",
        help="comma-separated batch sizes, e.g. 1K,64K,4M,64M (default: 1K to 256M in powers of 4)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help=f"rounds every size gets first (each x{SMALL_REPEAT_FACTOR} repetitions under 1 MiB); "
        "pipe repetitions: exactly this",
    )
    parser.add_argument(
        "--bound",
        type=float,
        default=0.05,
        help="after the first rounds, add rounds until every target ratio's interval is within "
        "this fraction of its median (default 0.05: ±5%%) or --budget runs out",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help=f"wall seconds for all the rounds (default {DEFAULT_BUDGET:.0f}, 0 with --quick); "
        "the first --repeat rounds always complete",
    )
    parser.add_argument("--max-rounds", type=int, default=100, help="rounds at most per schema and size (default 100)")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit {EXIT_MISSED} when a ratio target of issue 13 is missed with a decidable spread "
        "(undecidable and not measured ones do not fail); not run in CI",
    )
    parser.add_argument(
        "--targets",
        action="store_true",
        help="what issue 13's ratio targets need: the peers "
        f"{', '.join(targets.PEERS)} and sizes 16K to 256M (unless --peer or --sizes say otherwise)",
    )
    parser.add_argument("--quick", action="store_true", help="2 small sizes, 2 rounds, 200 overhead requests")
    parser.add_argument("--requests", type=int, default=2000, help="header requests for the overhead figure")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per bench request")
    parser.add_argument("--out", default=str(OUT_DIR), help="where bench.json, bench.png (and suite.json) go")
    parser.add_argument(
        "--suite",
        action="store_true",
        help="also time `pytest conformance -n auto --require-all-peers` with 1, 2, ... peers, and the kit's tests",
    )
    parser.add_argument("--suite-only", action="store_true", help="only the suite timing")
    parser.add_argument("--suite-serial", action="store_true", help="time each peer count serially too")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only the memory a reader adds while reading one region of each size "
        "(memory.json; default sizes 1M,16M,256M,1G)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="measure nothing: print RESULTS.md's tables from the JSON files in --out",
    )


def _load(path: Path) -> Json | None:
    """A JSON file of an earlier run, or None when there is none."""
    return json.loads(path.read_text()) if path.exists() else None


def _result(
    run: Run, peers: list[str], sizes: list[int], plan: Plan, rounds: Json, info: Json, suite: Json | None
) -> Json:
    """bench.json: every sample and every figure derived from them, with the machine before and after."""
    zero_copy = zero_copy_check()
    return {
        "machine": info,
        "machine_after": machine_after(),
        "sizes": sizes,
        "repeat": plan.repeat,
        "rounds": rounds,
        "visits": run.visits,
        "unoffered": run.unoffered,
        "small_repeat_factor": SMALL_REPEAT_FACTOR,
        "peers": peers,
        "not_benchmarked": run.skipped,
        "errors": run.errors,
        "samples": [s.summary() for s in run.samples],
        "shm_gbps": [
            {"peer": p, "schema": sc, "size": s, "gbps": run.shm_gbps(p, sc, s)}
            for p in peers
            for sc in SCHEMAS
            for s in sizes
        ],
        "crossover": {p: {s: crossover(run, p, s, sizes) for s in SCHEMAS} for p in peers},
        "ratios": ratios(run, peers, sizes),
        "overhead": run.overhead,
        "overhead_load": run.overhead_load,
        "zero_copy": zero_copy,
        "targets": targets.verdicts(run, plan.confidence),
        "checks": checks(run, zero_copy, suite),
    }


MEMORY_SIZES = [1 << 20, 16 << 20, 256 << 20, 1 << 30]


def _memory(args: argparse.Namespace, manifests: Sequence[Manifest], out_dir: Path) -> int:
    """``bench --memory``: one read per peer, schema and size, its peak memory measured from outside."""
    sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s}) or MEMORY_SIZES
    errors: list[str] = []
    info = machine()
    with tempfile.TemporaryDirectory(prefix="vgis-bench-mem-") as tmp:
        rows = memory.measure(manifests, sizes, Path(tmp), args.timeout, errors)
    after = machine_after()
    result = {"machine": info, "machine_after": after, "rows": rows, "errors": errors}
    (out_dir / "memory.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(render.table(memory.HEADERS, memory.table(rows), "console")))
    print(render.load_line(info["loadavg"], after["loadavg"]))
    for line in errors:
        print(f"  error: {line}")
    print(f"\n[bench] wrote {out_dir / 'memory.json'}")
    return 1 if errors or not rows else 0


def main(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    """Run the benchmarks; 0 when every selected peer was measured without error."""
    out_dir = Path(args.out)
    if args.markdown:
        print(render.markdown(_load(out_dir / "bench.json"), _load(out_dir / "suite.json")))
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    manifests = with_sources(select_peers(args.peer or (list(targets.PEERS) if args.targets else [])), args.peer_source)
    if args.memory:
        return _memory(args, manifests, out_dir)
    suite: Json | None = None
    if args.suite or args.suite_only:
        suite = {"machine": machine(), **time_suite(manifests, extra, serial=args.suite_serial)}
        suite["machine_after"] = machine_after()
        (out_dir / "suite.json").write_text(json.dumps(suite, indent=1) + "\n")
        print("\n".join(render.suite_console(suite)))
        drew_suite = plot_suite(suite, out_dir / "suite.png")
        print(f"\n[bench] wrote {out_dir / 'suite.json'}" + (f", {out_dir / 'suite.png'}" if drew_suite else ""))
        if args.suite_only:
            return 0 if all(r["exit"] in (0, 1) for r in suite["runs"]) else 1
    if suite is None:  # an earlier --suite-only run, for the verdict
        with contextlib.suppress(ValueError, OSError):
            suite = _load(out_dir / "suite.json")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s] or (
        QUICK_SIZES if args.quick else list(targets.TARGET_SIZES) if args.targets else DEFAULT_SIZES
    )
    sizes = sorted(set(sizes))
    budget = args.budget if args.budget is not None else 0.0 if args.quick else DEFAULT_BUDGET
    plan = Plan(2 if args.quick else max(1, args.repeat), args.bound, budget, max(1, args.max_rounds))
    requests = 200 if args.quick else args.requests
    run = Run()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="vgis-bench-") as tmp:
        workdir = Path(tmp)
        with peers_running(start_benches(manifests, workdir, args.timeout, run)) as benches:
            run.overhead_load["before"] = list(os.getloadavg())
            for b in benches:
                try:
                    run.overhead[b.peer.name] = harness_overhead(b.peer, requests)
                except (PeerError, PeerFailure) as exc:
                    run.errors.append(f"{b.peer.name} overhead: {exc}")
            run.overhead_load["after"] = list(os.getloadavg())
            rounds = measure(benches, sizes, plan, workdir, args.timeout, run)
            peers = [b.peer.name for b in benches]
    result = _result(run, peers, sizes, plan, rounds, info, suite)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(render.console(json.loads((out_dir / "bench.json").read_text()))))
    drew = plot(run, peers, sizes, out_dir / "bench.png")
    drew_targets = plot_targets(result["targets"], out_dir / "targets.png")
    if not drew_targets:  # no row measured: an earlier run's figure must not pass for this one's
        (out_dir / "targets.png").unlink(missing_ok=True)
    wrote = [out_dir / "bench.json", *([out_dir / "bench.png"] if drew else [])]
    wrote += [out_dir / "targets.png"] if drew_targets else []
    print(f"\n[bench] wrote {', '.join(map(str, wrote))}")
    return exit_status(result, args.check, drew and not run.errors and bool(peers))


def exit_status(result: Json, check: bool, ok: bool) -> int:
    """``EXIT_MISSED`` under ``--check`` when a target row is missed with a decidable spread, else 0 when
    the run measured every selected peer without error (``ok``), else 1."""
    missed = targets.missed(result["targets"])
    if check:
        verdicts = [t["verdict"] for t in result["targets"]]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("met", "missed", "undecidable", "not measured"))
        print(f"[bench] --check: {counts}", flush=True)
        if missed:
            for t in missed:
                print(f"[bench] --check: MISSED {t['ratio']}: {t['hi']:.2f} < {t['threshold']:.2f}", flush=True)
            return EXIT_MISSED
    return 0 if ok else 1
