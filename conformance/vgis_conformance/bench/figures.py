"""The benchmark's figures: GB/s against batch size, and issue 13's target ratios with their intervals.

Drawn with matplotlib when the ``bench`` extra is installed. matplotlib is
optional (a conformance run never needs it), so it is imported here only, and
its absence costs the PNGs, not the run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from vgis_conformance.bench.batches import SCHEMAS, human
from vgis_conformance.bench.interval import CONFIDENCE
from vgis_conformance.bench.stats import Run, crossover
from vgis_conformance.bench.suite import added_seconds
from vgis_conformance.protocol import Json

_VERDICT_COLORS = {"met": "tab:green", "missed": "tab:red", "undecidable": "tab:orange"}


def plot_suite(suite: Json, path: Path, limit: float = 60.0) -> bool:
    """Wall seconds of ``pytest conformance -n auto`` against the number of peers, with the 60 s target line:
    the slope is what each added peer costs (the cross grid grows with the square of the count)."""
    try:
        import matplotlib
    except ImportError:
        print("[bench] matplotlib is missing (pip install -e '.[bench]'): no suite PNG", file=sys.stderr)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = added_seconds(suite)
    if not points:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([n for n, _, _ in points], [s for _, s, _ in points], "o-", color="tab:blue", label="-n auto")
    serial = sorted((len(r["peers"]), r["seconds"]) for r in suite["runs"] if r["mode"] == "serial")
    if serial:
        ax.plot(*zip(*serial), "s--", color="tab:gray", label="serial")
    ax.axhline(limit, color="tab:red", linestyle=":", label=f"target {limit:.0f} s")
    for n, s, added in points:
        ax.annotate(
            suite["peers"][n - 1] + ("" if added is None else f" ({added:+.0f} s)"),
            (n, s),
            fontsize=7,
            xytext=(4, -10),
            textcoords="offset points",
        )
    ax.set_xlabel("peers (in the order of the table)")
    ax.set_ylabel("wall seconds")
    ax.set_xticks([n for n, _, _ in points])
    ax.set_ylim(bottom=0)
    ax.set_title(f"pytest conformance --require-all-peers, {suite['machine']['nproc']} CPUs")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot(run: Run, peers: Sequence[str], sizes: Sequence[int], path: Path) -> bool:
    """GB/s against batch size: one row per peer (write, resolve, shm, pipe, memcpy), one column per schema."""
    try:
        import matplotlib
    except ImportError:
        print("[bench] matplotlib is missing (pip install -e '.[bench]'): no PNG", file=sys.stderr)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(peers) + 1
    fig, axes = plt.subplots(rows, len(SCHEMAS), figsize=(6.5 * len(SCHEMAS), 3.6 * rows), squeeze=False)
    styles = {
        "write": ("tab:blue", "-"),
        "resolve": ("tab:green", "-"),
        "shm": ("tab:red", "-"),
        "pipe": ("tab:orange", "--"),
        "memcpy": ("black", ":"),
    }
    for col, schema in enumerate(SCHEMAS):
        for row, peer in enumerate(peers):
            ax = axes[row][col]
            for action, (color, style) in styles.items():
                xs = [s for s in sizes if run.gbps(peer, schema, s, action) is not None]
                ys = [run.gbps(peer, schema, s, action) or 0.0 for s in xs]
                label = "shm (write+resolve)" if action == "shm" else action
                ax.plot(xs, ys, style, color=color, marker="o", markersize=3, label=label)
            cross = crossover(run, peer, schema, sizes)
            if isinstance(cross, int):
                ax.axvline(cross, color="tab:red", alpha=0.3, linewidth=4)
                ax.annotate(
                    f"shm > pipe from {human(cross)}", (cross, 0.02), xycoords=("data", "axes fraction"), fontsize=8
                )
            ax.set_title(f"{peer}: {schema} schema", fontsize=10)
        ax = axes[len(peers)][col]
        for peer in peers:
            xs = [s for s in sizes if run.shm_gbps(peer, schema, s) is not None]
            ax.plot(
                xs, [run.shm_gbps(peer, schema, s) or 0.0 for s in xs], marker="o", markersize=3, label=f"{peer} shm"
            )
        ref_memcpy = [s for s in sizes if run.gbps(peers[0], schema, s, "memcpy") is not None] if peers else []
        ax.plot(
            ref_memcpy,
            [run.gbps(peers[0], schema, s, "memcpy") or 0.0 for s in ref_memcpy],
            ":",
            color="black",
            label=f"memcpy ({peers[0]})" if peers else "memcpy",
        )
        ax.set_title(f"all peers, shm (write+resolve): {schema} schema", fontsize=10)
    for ax in axes.flat:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(list(sizes), [human(s) for s in sizes], fontsize=7)
        ax.set_xlabel("batch size")
        ax.set_ylabel("GB/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_targets(rows: Sequence[Json], path: Path) -> bool:
    """Each measured target row as its median and interval over its floor (1 = the floor), coloured by verdict.

    Dividing by the floor puts every row on one axis: a row is met when its
    whole bar is right of the line, missed when it is all left, undecidable
    when the bar crosses it. False (no PNG) when no row was measured.
    """
    measured = [r for r in rows if r["verdict"] != "not measured"]
    if not measured:
        return False
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.32 * len(measured)))
    for y, r in enumerate(reversed(measured)):
        t = r["threshold"]
        mid, lo, hi = r["median"] / t, r["lo"] / t, r["hi"] / t
        ax.errorbar([mid], [y], xerr=[[mid - lo], [hi - mid]], fmt="o", color=_VERDICT_COLORS[r["verdict"]], capsize=3)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(measured)), [f"{r['ratio']} ({r['verdict']})" for r in reversed(measured)], fontsize=7)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="both", labelsize=7)
    ax.set_xlabel(
        f"ratio / its floor: median and {CONFIDENCE:.0%} interval of per-round ratios (right of the line: met)"
    )
    ax.grid(True, axis="x", which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return True
