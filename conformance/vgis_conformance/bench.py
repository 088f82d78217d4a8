"""``vgis-conformance bench``: throughput of the peers' write and resolve paths, and the harness's own speed.

Every figure that says GB/s is timed *inside* the peer (the ``bench`` op of
docs/peer-protocol.md), so the JSON-lines protocol costs nothing in it. For
each schema, batch size and peer, in that order (peers side by side, so their
ratios come from the same minute of the same run):

- ``write``: the peer's own write path into a fresh segment sized for the batch;
- ``resolve``: a region the peer wrote is resolved through a pointer batch and
  every byte of every buffer is read;
- ``memcpy``: the same number of bytes copied from private memory into the
  segment, the ceiling for ``write``;
- ``pipe``: the batch as an IPC stream through a FIFO from a second process of
  the same peer (``pipe_write``) to the first (``pipe_read``), the reader's time:
  what shared memory replaces.

``shm`` is write and resolve together (bytes / (median write + median resolve)),
the figure the pipe is compared with. The harness's own cost is measured as
requests per second of a trivial ``header`` request, and ``--suite`` times the
full conformance suite serial and with ``-n auto`` for 1, 2, ... peers.

Outputs: a table on stdout, ``benchmarks/out/bench.json``, ``benchmarks/out/bench.png``
and, with ``--suite``, ``benchmarks/out/suite.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from vgis_conformance import memory
from vgis_conformance.builder import PeerUnavailable, ensure_built
from vgis_conformance.layout import suite_argv
from vgis_conformance.manifest import Manifest, lookup, registry
from vgis_conformance.peer import Peer, save_batch, segment_name
from vgis_conformance.protocol import Json, PeerError, PeerFailure
from vgis_conformance.sources import add_source_argument, with_sources

KIB = 1024
MIB = 1024 * KIB
DEFAULT_SIZES = [KIB * 4**i for i in range(10)]  # 1 KiB, 4 KiB, ... 256 MiB
QUICK_SIZES = [KIB, 16 * KIB]
OUT_DIR = Path("benchmarks") / "out"  # of the folder the command runs in
SCHEMAS = ("plain", "dictionary")
ACTIONS = ("write", "resolve", "memcpy", "pipe")
BASELINE = "python-reference"
UPSTREAM_PYTHON = "vgi-rpc-python"
HEADER_SIZE = 65_536
SMALL_REPEAT_FACTOR = 5  # batches under 1 MiB get this many times more repetitions (cheap, noisier)


# --- batches ------------------------------------------------------------------


def _pattern(length: int, seed: bytes) -> bytes:
    """``length`` bytes of a repeated printable pattern (cheap to make at 256 MiB, not all one byte)."""
    unit = bytes(33 + (b * 7 + i * 13) % 90 for i, b in enumerate(seed * 64))
    return (unit * (length // len(unit) + 1))[:length]


def make_batch(schema: str, size: int) -> pa.RecordBatch:
    """A batch of about ``size`` bytes of Arrow data.

    ``plain``: an int64 column and a utf8 column (12-byte strings), 24 bytes a
    row. ``dictionary``: a utf8 dictionary of 16 values with int32 indices,
    4 bytes a row. Built from buffers, so 256 MiB takes a second, not minutes.
    """
    if schema == "plain":
        rows = max(1, size // 24)
        ints = pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(array("q", range(rows)).tobytes())])
        width = 12
        offsets = pa.py_buffer(array("i", range(0, width * (rows + 1), width)).tobytes())
        strings = pa.Array.from_buffers(pa.utf8(), rows, [None, offsets, pa.py_buffer(_pattern(width * rows, b"vgis"))])
        return pa.record_batch([ints, strings], names=["id", "text"])
    if schema == "dictionary":
        rows = max(1, size // 4)
        unit = array("i", [(i * 7) % 16 for i in range(16)]).tobytes()
        indices = pa.Array.from_buffers(pa.int32(), rows, [None, pa.py_buffer((unit * (rows // 16 + 1))[: 4 * rows])])
        values = pa.array([f"category-{i:02d}" for i in range(16)], pa.utf8())
        return pa.record_batch([pa.DictionaryArray.from_arrays(indices, values)], names=["category"])
    raise ValueError(f"unknown schema {schema!r}; known: {SCHEMAS}")


def stream_size(batch: pa.RecordBatch) -> int:
    """Bytes of ``batch`` as a complete IPC stream (an upper bound for any region of it)."""
    mock = pa.MockOutputStream()
    with pa.ipc.new_stream(mock, batch.schema) as writer:
        writer.write_batch(batch)
    return int(mock.size())


def segment_size_for(stream_bytes: int) -> int:
    """A segment with room for one region of the batch, whatever a writer's size estimate."""
    data = stream_bytes + stream_bytes // 8 + MIB
    return HEADER_SIZE + (data + 4095) // 4096 * 4096


# --- statistics ---------------------------------------------------------------


@dataclass
class Sample:
    """One action's repetitions, as the peer timed them."""

    peer: str
    schema: str
    size: int
    action: str
    bytes: int
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def gbps(self, seconds: float) -> float:
        return self.bytes / seconds / 1e9 if seconds > 0 else float("inf")

    def summary(self) -> Json:
        s = sorted(self.seconds)
        q1, q3 = (statistics.quantiles(s, n=4)[0], statistics.quantiles(s, n=4)[2]) if len(s) >= 2 else (s[0], s[0])
        return {
            "peer": self.peer, "schema": self.schema, "size": self.size, "action": self.action,
            "bytes": self.bytes, "repeat": len(s), "seconds": self.seconds,
            "median_s": self.median,
            "gbps": {"median": self.gbps(self.median), "min": self.gbps(s[-1]), "max": self.gbps(s[0]),
                     "q1": self.gbps(q3), "q3": self.gbps(q1)},
        }


@dataclass
class Run:
    """Everything one ``bench`` invocation measured."""

    samples: list[Sample] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    overhead: dict[str, Json] = field(default_factory=dict)

    def get(self, peer: str, schema: str, size: int, action: str) -> Sample | None:
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
        if action == "shm":
            return self.shm_gbps(peer, schema, size)
        s = self.get(peer, schema, size, action)
        return None if s is None else s.gbps(s.median)


def machine() -> Json:
    """What the numbers ran on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    return {
        "nproc": os.cpu_count(), "ram_bytes": ram, "ram_gib": round(ram / 2**30, 1), "cpu_model": model,
        "platform": platform.platform(), "python": platform.python_version(), "pyarrow": pa.__version__,
        "loadavg": list(os.getloadavg()), "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


# --- driving the peers --------------------------------------------------------


@dataclass
class Bench:
    """One benchmarked peer: the process that times, and a second one that writes into the pipe."""

    peer: Peer
    writer: Peer
    writer_segment: str = ""


def _release(peer: Peer, seg: Json) -> None:
    with contextlib.suppress(PeerError, PeerFailure):
        peer.call("close", segment=seg["segment"])
        peer.call("unlink", segment=seg["segment"])
    if memory.unlink(str(seg["name"])):
        pass
    peer.forget(str(seg["name"]))


def _pipe(bench: Bench, handle: str, batch_path: Path, fifo: Path, timeout: float) -> tuple[float, int]:
    """One pipe round: reader first (it blocks opening the FIFO), then the writer; the reader's time."""
    reader, writer = bench.peer.process, bench.writer.process
    assert reader is not None and writer is not None
    os.mkfifo(fifo, 0o600)
    try:
        rid = reader.send("bench", segment=handle, action="pipe_read", batch=str(batch_path), path=str(fifo),
                          repeat=1)
        try:
            writer.request("bench", _timeout=timeout, segment=bench.writer_segment, action="pipe_write",
                           batch=str(batch_path), path=str(fifo), repeat=1)
        except (PeerError, PeerFailure):
            # The writer failed, perhaps before opening the FIFO: open and close it so the reader sees EOF.
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            with contextlib.suppress(PeerError, PeerFailure):
                reader.receive(rid, timeout)
            raise
        result = reader.receive(rid, timeout)
    finally:
        fifo.unlink()
    return float(result["seconds"][0]), int(result["bytes"])


def bench_one(bench: Bench, schema: str, size: int, batch_path: Path, stream_bytes: int, repeat: int,
              fifo: Path, timeout: float) -> list[Sample]:
    """Every action for one peer, one batch."""
    peer = bench.peer
    reps = repeat * (SMALL_REPEAT_FACTOR if size < MIB else 1)
    out: list[Sample] = []
    seg = peer.call("create", name=segment_name("bench"), size=segment_size_for(stream_bytes))
    handle = seg["segment"]
    assert peer.process is not None
    try:
        def timed(action: str, **extra: Any) -> Sample:
            assert peer.process is not None
            got = peer.process.request("bench", _timeout=timeout, segment=handle, action=action,
                                       batch=str(batch_path), repeat=reps, **extra)
            return Sample(peer.name, schema, size, action, int(got["bytes"]), [float(x) for x in got["seconds"]])

        out.append(timed("write"))
        placed = peer.call("write", segment=handle, batch=str(batch_path))
        if placed.get("offset") is None:
            raise PeerError(peer.name, {"op": "write"}, "bench", "the batch did not fit in its segment")
        out.append(timed("resolve", offset=placed["offset"], length=placed["length"]))
        out.append(timed("memcpy", length=placed["length"]))
        pipe_seconds: list[float] = []
        pipe_bytes = 0
        for _ in range(repeat):
            seconds, pipe_bytes = _pipe(bench, handle, batch_path, fifo, timeout)
            pipe_seconds.append(seconds)
        out.append(Sample(peer.name, schema, size, "pipe", pipe_bytes, pipe_seconds))
    finally:
        _release(peer, seg)
    return out


def select_peers(names: Sequence[str]) -> tuple[list[Manifest], dict[str, str]]:
    """The peers asked for, or every default peer; unknown names are an error."""
    known = registry()
    if names:
        unknown = [n for n in names if n.partition("@")[0] not in known]
        if unknown:
            raise SystemExit(f"unknown peer(s) {unknown}; registered: {sorted(known)}")
        try:
            return [lookup(n, known) for n in names], {}
        except ValueError as exc:
            raise SystemExit(str(exc)) from exc
    return [m for m in known.values() if m.default], {}


def start_benches(manifests: Sequence[Manifest], workdir: Path, timeout: float,
                  run: Run) -> list[Bench]:
    """Start two processes of each peer that declares ``bench``; note the others and why."""
    benches: list[Bench] = []
    for manifest in manifests:
        peer = Peer(manifest, workdir / manifest.name, timeout=timeout)
        try:
            peer.start()
        except (PeerUnavailable, PeerFailure, PeerError) as exc:
            run.skipped[manifest.name] = f"not started: {exc}"
            peer.stop()
            continue
        if "bench" not in peer.capabilities:
            run.skipped[manifest.name] = "its hello does not declare the bench capability"
            peer.stop()
            continue
        writer = Peer(manifest, workdir / f"{manifest.name}-pipe-writer", timeout=timeout)
        try:
            writer.start()
            small = writer.call("create", name=segment_name("bench-w"), size=HEADER_SIZE + MIB)
        except (PeerUnavailable, PeerFailure, PeerError) as exc:
            run.skipped[manifest.name] = f"second process not started: {exc}"
            peer.stop()
            writer.stop()
            continue
        benches.append(Bench(peer, writer, str(small["segment"])))
    return benches


def harness_overhead(peer: Peer, requests: int) -> Json:
    """Requests per second of ``header`` (length 24) over the protocol: the harness's per-request cost."""
    seg = peer.call("create", name=segment_name("overhead"), size=HEADER_SIZE + 4096)
    try:
        assert peer.process is not None
        for _ in range(min(50, requests)):  # warm up
            peer.process.request("header", segment=seg["segment"], length=24)
        start = time.perf_counter()
        for _ in range(requests):
            peer.process.request("header", segment=seg["segment"], length=24)
        elapsed = time.perf_counter() - start
    finally:
        _release(peer, seg)
    return {"requests": requests, "seconds": elapsed, "requests_per_s": requests / elapsed,
            "ms_per_request": elapsed / requests * 1000}


def zero_copy_check() -> Json:
    """Is the reference's non-dictionary resolve zero-copy? Every buffer must lie inside the mapping."""
    from vgis import pointer, region
    from vgis.segment import Segment

    batch = make_batch("plain", 4 * MIB)
    name = segment_name("zerocopy")
    with Segment.create(name, segment_size_for(stream_size(batch))) as seg:
        placed = region.write_batch(seg, batch)
        assert placed is not None
        ptr, md = pointer.make_pointer(batch.schema, *placed)
        got = pointer.resolve(ptr, md, seg).batch
        lo = pa.py_buffer(seg.buf).address
        buffers = [b for col in got.columns for b in col.buffers() if b is not None and b.size]
        inside = [lo + placed[0] <= b.address and b.address + b.size <= lo + placed[0] + placed[1] for b in buffers]
        del got, buffers
    return {"zero_copy": all(inside), "buffers": len(inside), "buffers_inside_region": sum(inside)}


def run_throughput(benches: Sequence[Bench], sizes: Sequence[int], repeat: int, workdir: Path,
                   timeout: float, run: Run) -> None:
    """Schema by schema, size by size, peer by peer."""
    for schema in SCHEMAS:
        for size in sizes:
            batch = make_batch(schema, size)
            batch_path = save_batch(workdir / f"{schema}-{size}.arrows", batch)
            stream_bytes = stream_size(batch)
            del batch
            for bench in benches:
                label = f"{bench.peer.name} {schema} {human(size)}"
                print(f"[bench] {label}", file=sys.stderr, flush=True)
                try:
                    run.samples += bench_one(bench, schema, size, batch_path, stream_bytes, repeat,
                                             workdir / f"pipe-{bench.peer.name}", timeout)
                except (PeerError, PeerFailure, KeyError, TypeError, ValueError) as exc:
                    run.errors.append(f"{label}: {type(exc).__name__}: {exc}")
                    print(f"[bench] {label}: {exc}", file=sys.stderr, flush=True)
                    # A dead peer restarts on the next call; its pipe writer too.
                    for p in (bench.peer, bench.writer):
                        if p.process is None or not p.process.alive:
                            with contextlib.suppress(PeerFailure, PeerError, PeerUnavailable):
                                p.start()
                                if p is bench.writer:
                                    small = p.call("create", name=segment_name("bench-w"), size=HEADER_SIZE + MIB)
                                    bench.writer_segment = str(small["segment"])
            batch_path.unlink()


# --- derived figures ----------------------------------------------------------


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


def verdicts(run: Run, sizes: Sequence[int], zero_copy: Json, suite: Json | None) -> list[Json]:
    """The issue's targets, each met or missed by how much."""
    out: list[Json] = []
    size = 64 * MIB
    w, m = run.gbps(BASELINE, "plain", size, "write"), run.gbps(BASELINE, "plain", size, "memcpy")
    if w is None or m is None:
        out.append({"target": "reference write within 10% of memcpy (64 MiB, non-dictionary)", "met": None,
                    "detail": "not measured in this run (needs python-reference and --sizes including 64M)"})
    else:
        out.append({"target": "reference write within 10% of memcpy (64 MiB, non-dictionary)",
                    "met": w >= m / 1.1,
                    "detail": f"write {w:.2f} GB/s, memcpy {m:.2f} GB/s: write takes {m / w:.2f}x memcpy's time"})
    slower: list[str] = []
    compared = 0
    for schema in SCHEMAS:
        for s in sizes:
            ref, up = run.gbps(BASELINE, schema, s, "write"), run.gbps(UPSTREAM_PYTHON, schema, s, "write")
            if ref is None or up is None:
                continue
            compared += 1
            if ref < up:
                slower.append(f"{schema} {human(s)}: {ref / up:.2f}x")
    out.append({"target": "reference write at least as fast as upstream vgi-rpc (Python) at every size",
                "met": None if not compared else not slower,
                "detail": (f"compared at {compared} sizes; slower at: {', '.join(slower)}" if slower
                           else f"faster or equal at all {compared} compared sizes" if compared
                           else "not measured (needs both python peers)")})
    out.append({"target": "reference non-dictionary resolve is zero-copy", "met": zero_copy.get("zero_copy"),
                "detail": f"{zero_copy.get('buffers_inside_region')} of {zero_copy.get('buffers')} buffers of the "
                          "resolved batch lie inside the region (in-process check of vgis.pointer.resolve)"})
    worst = max((o["ms_per_request"] for o in run.overhead.values()), default=None)
    out.append({"target": "harness overhead < 1 ms per request", "met": None if worst is None else worst < 1.0,
                "detail": "; ".join(f"{p} {o['ms_per_request'] * 1000:.0f} us ({o['requests_per_s']:.0f} req/s)"
                                    for p, o in run.overhead.items()) or "not measured"})
    if suite is not None:
        full = [r for r in suite["runs"] if r["peers"] == suite["peers"] and r["mode"] == "-n auto"]
        if full:
            secs = full[0]["seconds"]
            out.append({"target": "full suite with every peer under 2 minutes with -n auto", "met": secs < 120,
                        "detail": f"{secs:.1f} s with {len(suite['peers'])} peers, exit status {full[0]['exit']}"})
    return out


# --- output -------------------------------------------------------------------


def human(size: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", MIB), ("K", KIB)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": KIB, "M": MIB, "G": 1 << 30}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


def print_tables(run: Run, peers: Sequence[str], sizes: Sequence[int]) -> None:
    def cell(peer: str, schema: str, size: int, action: str) -> str:
        s = run.get(peer, schema, size, action)
        if s is None:
            return "-"
        summ = s.summary()["gbps"]
        return f"{summ['median']:.2f} ({summ['min']:.2f}-{summ['max']:.2f})"

    for peer in peers:
        for schema in SCHEMAS:
            print(f"\n{peer}, {schema} schema: GB/s median (min-max)")
            head = ["size", "bytes", "write", "resolve", "shm w+r", "memcpy", "pipe", "write/memcpy"]
            rows = [head]
            for size in sizes:
                w = run.get(peer, schema, size, "write")
                wg, mg = run.gbps(peer, schema, size, "write"), run.gbps(peer, schema, size, "memcpy")
                shm = run.shm_gbps(peer, schema, size)
                rows.append([human(size), str(w.bytes if w else "-"), cell(peer, schema, size, "write"),
                             cell(peer, schema, size, "resolve"), "-" if shm is None else f"{shm:.2f}",
                             cell(peer, schema, size, "memcpy"), cell(peer, schema, size, "pipe"),
                             "-" if wg is None or not mg else f"{wg / mg:.2f}"])
            widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
            for r in rows:
                print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
            cross = crossover(run, peer, schema, sizes)
            print(f"  shm (write+resolve) overtakes the pipe from: {cross if isinstance(cross, str) else human(cross)}"
                  if cross is not None else "  crossover: not measured")


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
    styles = {"write": ("tab:blue", "-"), "resolve": ("tab:green", "-"), "shm": ("tab:red", "-"),
              "pipe": ("tab:orange", "--"), "memcpy": ("black", ":")}
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
                ax.annotate(f"shm > pipe from {human(cross)}", (cross, 0.02), xycoords=("data", "axes fraction"),
                            fontsize=8)
            ax.set_title(f"{peer}: {schema} schema", fontsize=10)
        ax = axes[len(peers)][col]
        for peer in peers:
            xs = [s for s in sizes if run.shm_gbps(peer, schema, s) is not None]
            ax.plot(xs, [run.shm_gbps(peer, schema, s) or 0.0 for s in xs], marker="o", markersize=3,
                    label=f"{peer} shm")
        ref_memcpy = [s for s in sizes if run.gbps(peers[0], schema, s, "memcpy") is not None] if peers else []
        ax.plot(ref_memcpy, [run.gbps(peers[0], schema, s, "memcpy") or 0.0 for s in ref_memcpy], ":",
                color="black", label=f"memcpy ({peers[0]})" if peers else "memcpy")
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


# --- the suite's own speed ----------------------------------------------------


def time_suite(manifests: Sequence[Manifest], extra: Sequence[str]) -> Json:
    """``pytest conformance`` serial and with -n auto for the first 1, 2, ... peers (builds cached first)."""
    names: list[str] = []
    for m in manifests:
        try:
            ensure_built(m)
            names.append(m.name)
        except PeerUnavailable as exc:
            print(f"[bench] suite: {exc}", file=sys.stderr)
    runs: list[Json] = []
    with tempfile.TemporaryDirectory(prefix="vgis-suite-") as tmp:
        for count in range(1, len(names) + 1):
            for mode in ("serial", "-n auto"):
                argv = [*suite_argv(), "-q", "--report-dir", str(Path(tmp) / f"{count}-{mode.replace(' ', '')}"),
                        *(["-n", "auto"] if mode == "-n auto" else ["-p", "no:xdist"]),
                        *[a for n in names[:count] for a in ("--peer", n)], *extra]
                print(f"[bench] suite: {count} peer(s) {names[:count]}, {mode}", file=sys.stderr, flush=True)
                start = time.perf_counter()
                proc = subprocess.run(argv, capture_output=True, text=True, check=False)
                seconds = time.perf_counter() - start
                tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or [""]
                runs.append({"peers": names[:count], "mode": mode, "seconds": seconds, "exit": proc.returncode,
                             "summary": tail[0]})
                print(f"[bench] suite: {seconds:.1f} s, exit {proc.returncode}: {tail[0]}", file=sys.stderr,
                      flush=True)
    return {"peers": names, "runs": runs}


def print_suite(suite: Json) -> None:
    print("\nfull conformance suite, wall seconds (pytest conformance, builds cached)")
    print(f"  {'peers':>5}  {'serial':>8}  {'-n auto':>8}  names")
    for count in range(1, len(suite["peers"]) + 1):
        got = {r["mode"]: r for r in suite["runs"] if len(r["peers"]) == count}
        cells = [f"{got[m]['seconds']:.1f}" if m in got else "-" for m in ("serial", "-n auto")]
        print(f"  {count:>5}  {cells[0]:>8}  {cells[1]:>8}  {', '.join(suite['peers'][:count])}")


# --- markdown (benchmarks/RESULTS.md's tables) ----------------------------------


def render_markdown(bench: Json | None, suite: Json | None) -> str:
    """The tables of benchmarks/RESULTS.md from bench.json and suite.json (the prose is written by hand)."""
    lines: list[str] = []
    if bench is not None:
        m = bench["machine"]
        lines += [f"Throughput run: {m['date']}, {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
                  f"Python {m['python']}, pyarrow {m['pyarrow']}; load average at start "
                  f"{m['loadavg'][0]:.2f}, at end {bench['machine_after']['loadavg'][0]:.2f}; "
                  f"{bench['repeat']} repetitions (x{bench['small_repeat_factor']} under 1 MiB).", ""]
        by = {(s["peer"], s["schema"], s["size"], s["action"]): s for s in bench["samples"]}
        shm = {(r["peer"], r["schema"], r["size"]): r["gbps"] for r in bench["shm_gbps"]}
        for schema in SCHEMAS:
            lines += [f"#### {schema} schema: median GB/s (min-max)", "",
                      "| peer | size | write | resolve | shm w+r | memcpy | pipe | write/memcpy |",
                      "|---|---|---|---|---|---|---|---|"]
            for peer in bench["peers"]:
                for size in bench["sizes"]:
                    cells = []
                    for action in ("write", "resolve", "memcpy", "pipe"):
                        got = by.get((peer, schema, size, action))
                        g = got["gbps"] if got else None
                        cells.append(f"{g['median']:.2f} ({g['min']:.2f}-{g['max']:.2f})" if g else "-")
                    w, mc = by.get((peer, schema, size, "write")), by.get((peer, schema, size, "memcpy"))
                    ratio = f"{w['gbps']['median'] / mc['gbps']['median']:.2f}" if w and mc else "-"
                    sg = shm.get((peer, schema, size))
                    lines.append(f"| {peer} | {human(size)} | {cells[0]} | {cells[1]} | "
                                 f"{'-' if sg is None else f'{sg:.2f}'} | {cells[2]} | {cells[3]} | {ratio} |")
            lines.append("")
        lines += ["#### shm (write + resolve) overtakes the pipe from", "", "| peer | " + " | ".join(SCHEMAS) + " |",
                  "|---|" + "---|" * len(SCHEMAS)]
        for peer, cross in bench["crossover"].items():
            cells = [human(c) if isinstance(c, int) else "not measured" if c is None else str(c)
                     for c in (cross[s] for s in SCHEMAS)]
            lines.append(f"| {peer} | " + " | ".join(cells) + " |")
        lines += ["", "#### Harness overhead (`header`, length 24, round trip over the protocol)", "",
                  "| peer | requests/s | per request |", "|---|---|---|"]
        for peer, o in bench["overhead"].items():
            lines.append(f"| {peer} | {o['requests_per_s']:.0f} | {o['ms_per_request'] * 1000:.0f} us |")
        if bench["not_benchmarked"]:
            skipped = bench["not_benchmarked"].items()
            lines += ["", "Not benchmarked: " + "; ".join(f"{p} ({why})" for p, why in skipped)]
        lines.append("")
    if suite is not None:
        m = suite["machine"]
        lines += [f"#### Full suite, wall seconds (`pytest conformance`, builds cached; {m['date']}, "
                  f"load average at start {m['loadavg'][0]:.2f}, at end {suite['machine_after']['loadavg'][0]:.2f})",
                  "", "| peers | serial | -n auto | exit (serial / -n auto) | names |", "|---|---|---|---|---|"]
        for count in range(1, len(suite["peers"]) + 1):
            got = {r["mode"]: r for r in suite["runs"] if len(r["peers"]) == count}
            secs = [f"{got[md]['seconds']:.1f}" if md in got else "-" for md in ("serial", "-n auto")]
            codes = " / ".join(str(got[md]["exit"]) if md in got else "-" for md in ("serial", "-n auto"))
            lines.append(f"| {count} | {secs[0]} | {secs[1]} | {codes} | {', '.join(suite['peers'][:count])} |")
        lines.append("")
    return "\n".join(lines)


# --- entry point --------------------------------------------------------------


@contextlib.contextmanager
def _peers_running(benches: list[Bench]) -> Iterator[list[Bench]]:
    try:
        yield benches
    finally:
        for b in benches:
            b.writer.stop()
            b.peer.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's options."""
    parser.add_argument("--peer", action="append", default=[],
                        help="benchmark this registered peer (repeatable; default: every default peer with bench)")
    add_source_argument(parser)
    parser.add_argument("--sizes", default="", help="comma-separated batch sizes, e.g. 1K,64K,4M,64M "
                        "(default: 1K to 256M in powers of 4)")
    parser.add_argument("--repeat", type=int, default=5,
                        help=f"repetitions per action (x{SMALL_REPEAT_FACTOR} under 1 MiB; pipe rounds: exactly this)")
    parser.add_argument("--quick", action="store_true", help="2 small sizes, 2 repetitions, 200 overhead requests")
    parser.add_argument("--requests", type=int, default=2000, help="header requests for the overhead figure")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per bench request")
    parser.add_argument("--out", default=str(OUT_DIR), help="where bench.json, bench.png (and suite.json) go")
    parser.add_argument("--suite", action="store_true",
                        help="also time `pytest conformance` serial and -n auto with 1, 2, ... peers")
    parser.add_argument("--suite-only", action="store_true", help="only the suite timing")
    parser.add_argument("--markdown", action="store_true",
                        help="measure nothing: print RESULTS.md's tables from the JSON files in --out")


def main(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    """Run the benchmarks; 0 when every selected peer was measured without error."""
    out_dir = Path(args.out)
    if args.markdown:
        loaded = {n: json.loads((out_dir / f"{n}.json").read_text()) if (out_dir / f"{n}.json").exists() else None
                  for n in ("bench", "suite")}
        print(render_markdown(loaded["bench"], loaded["suite"]))
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    manifests, _ = select_peers(args.peer)
    manifests = with_sources(manifests, args.peer_source)
    suite: Json | None = None
    if args.suite or args.suite_only:
        suite = {"machine": machine(), **time_suite(manifests, extra)}
        suite["machine_after"] = {"loadavg": list(os.getloadavg())}
        (out_dir / "suite.json").write_text(json.dumps(suite, indent=1) + "\n")
        print_suite(suite)
        print(f"\n[bench] wrote {out_dir / 'suite.json'}")
        if args.suite_only:
            return 0 if all(r["exit"] in (0, 1) for r in suite["runs"]) else 1
    if suite is None and (out_dir / "suite.json").exists():  # an earlier --suite-only run, for the verdict
        with contextlib.suppress(ValueError, OSError):
            suite = json.loads((out_dir / "suite.json").read_text())
    sizes = QUICK_SIZES if args.quick and not args.sizes else [parse_size(s) for s in args.sizes.split(",") if s] \
        or DEFAULT_SIZES
    sizes = sorted(set(sizes))
    repeat = 2 if args.quick else max(1, args.repeat)
    requests = 200 if args.quick else args.requests
    run = Run()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="vgis-bench-") as tmp:
        workdir = Path(tmp)
        with _peers_running(start_benches(manifests, workdir, args.timeout, run)) as benches:
            for b in benches:
                try:
                    run.overhead[b.peer.name] = harness_overhead(b.peer, requests)
                except (PeerError, PeerFailure) as exc:
                    run.errors.append(f"{b.peer.name} overhead: {exc}")
            run_throughput(benches, sizes, repeat, workdir, args.timeout, run)
            peers = [b.peer.name for b in benches]
    zero_copy = zero_copy_check()
    crossovers = {p: {s: crossover(run, p, s, sizes) for s in SCHEMAS} for p in peers}
    result: Json = {
        "machine": info, "machine_after": {"loadavg": list(os.getloadavg())},
        "sizes": sizes, "repeat": repeat, "small_repeat_factor": SMALL_REPEAT_FACTOR,
        "peers": peers, "not_benchmarked": run.skipped, "errors": run.errors,
        "samples": [s.summary() for s in run.samples],
        "shm_gbps": [{"peer": p, "schema": sc, "size": s, "gbps": run.shm_gbps(p, sc, s)}
                     for p in peers for sc in SCHEMAS for s in sizes],
        "crossover": crossovers, "ratios": ratios(run, peers, sizes), "overhead": run.overhead,
        "zero_copy": zero_copy, "verdicts": verdicts(run, sizes, zero_copy, suite),
    }
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    print_tables(run, peers, sizes)
    print("\nharness overhead (header, length 24, over the protocol)")
    for name, o in run.overhead.items():
        print(f"  {name}: {o['requests_per_s']:.0f} requests/s, {o['ms_per_request'] * 1000:.0f} us per request")
    for name, why in run.skipped.items():
        print(f"not benchmarked: {name}: {why}")
    for err in run.errors:
        print(f"ERROR {err}")
    print("\ntargets")
    for v in result["verdicts"]:
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[v["met"]]
        print(f"  {mark} {v['target']}: {v['detail']}")
    drew = plot(run, peers, sizes, out_dir / "bench.png")
    print(f"\n[bench] wrote {out_dir / 'bench.json'}" + (f" and {out_dir / 'bench.png'}" if drew else ""))
    return 0 if drew and not run.errors and peers else 1
