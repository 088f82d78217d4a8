"""Driving the peers: starting two processes of each, and running rounds of every action's repetitions.

Every GB/s figure is timed *inside* the peer (the ``bench`` op of
docs/peer-protocol.md), so the JSON-lines protocol costs nothing in it; this
module only asks, collects the seconds, and cleans up the segments it made even
when a peer dies half-way. The peers are measured in *rounds*: one round asks
every peer for each action once, the peers back to back, so that a ratio can
pair round i of one peer with round i of another (:mod:`.interval`) and load
that drifts over the run hits both sides of it. :mod:`.schedule` decides how
many rounds each schema and size gets.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from vgis_conformance import memory
from vgis_conformance.bench.batches import HEADER_SIZE, MIB, human, make_batch, segment_size_for, stream_size
from vgis_conformance.bench.stats import Run
from vgis_conformance.builder import PeerUnavailable
from vgis_conformance.manifest import Manifest, lookup, registry
from vgis_conformance.peer import Peer, save_batch, segment_name
from vgis_conformance.protocol import Json, PeerError, PeerFailure

SMALL_REPEAT_FACTOR = 5  # batches under 1 MiB get this many times more repetitions (cheap, noisier)


@dataclass
class Bench:
    """One benchmarked peer: the process that times, and a second one that writes into the pipe."""

    peer: Peer
    writer: Peer
    writer_segment: str = ""


def _release(peer: Peer, seg: Json) -> None:
    """Close and unlink a segment the bench made, and remove its name even if the peer cannot."""
    with contextlib.suppress(PeerError, PeerFailure):
        peer.call("close", segment=seg["segment"])
        peer.call("unlink", segment=seg["segment"])
    memory.unlink(str(seg["name"]))
    peer.forget(str(seg["name"]))


def _pipe(bench: Bench, handle: str, batch_path: Path, fifo: Path, timeout: float) -> tuple[float, int]:
    """One pipe round: reader first (it blocks opening the FIFO), then the writer; the reader's time."""
    reader, writer = bench.peer.process, bench.writer.process
    assert reader is not None and writer is not None
    os.mkfifo(fifo, 0o600)
    try:
        rid = reader.send("bench", segment=handle, action="pipe_read", batch=str(batch_path), path=str(fifo), repeat=1)
        try:
            writer.request(
                "bench",
                _timeout=timeout,
                segment=bench.writer_segment,
                action="pipe_write",
                batch=str(batch_path),
                path=str(fifo),
                repeat=1,
            )
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


# In each round every peer runs these in this order, action by action across the peers (so one peer's write
# is timed right after another's); resolve_trusted is optional: a peer that declines it is not asked again.
ACTIONS = ("write", "resolve", "resolve_trusted", "memcpy")
OPTIONAL_ACTIONS = frozenset({"resolve_trusted"})


@dataclass
class Placed:
    """One peer's two segments for one schema and size.

    ``seg`` is empty: ``write`` allocates and frees in it, ``memcpy`` copies
    over its data area (the allocation table is in the header, so that harms no
    later write). ``held`` keeps one region of the batch for ``resolve``, which
    neither of the others may overwrite between rounds.
    """

    bench: Bench
    seg: Json
    held: Json
    offset: int
    length: int
    failed: bool = False


def _place(bench: Bench, batch_path: Path, stream_bytes: int) -> Placed:
    """An empty segment sized for the batch, and a second one with the batch written into it (untimed)."""
    peer = bench.peer
    made: list[Json] = []
    try:
        for label in ("bench", "bench-held"):
            made.append(peer.call("create", name=segment_name(label), size=segment_size_for(stream_bytes)))
        placed = peer.call("write", segment=made[1]["segment"], batch=str(batch_path))
        if placed.get("offset") is None:
            raise PeerError(peer.name, {"op": "write"}, "bench", "the batch did not fit in its segment")
    except BaseException:
        for seg in made:
            _release(peer, seg)
        raise
    return Placed(bench, made[0], made[1], int(placed["offset"]), int(placed["length"]))


def _timed(placed: Placed, action: str, batch_path: Path, reps: int, timeout: float) -> Json:
    """One request of ``reps`` repetitions of ``action``, timed inside the peer."""
    extra: dict[str, Any] = {}
    seg = placed.seg
    if action in ("resolve", "resolve_trusted"):
        extra, seg = {"offset": placed.offset, "length": placed.length}, placed.held
    elif action == "memcpy":
        extra = {"length": placed.length}
    process = placed.bench.peer.process
    assert process is not None
    return process.request(
        "bench",
        _timeout=timeout,
        segment=seg["segment"],
        action=action,
        batch=str(batch_path),
        repeat=reps,
        **extra,
    )


def _round(
    order: Sequence[Placed], schema: str, size: int, index: int, batch_path: Path, timeout: float, run: Run
) -> None:
    """Round ``index``: each action once per peer, the peers back to back; a failing peer sits out the rest."""
    reps = SMALL_REPEAT_FACTOR if size < MIB else 1
    for action in ACTIONS:
        for p in order:
            name = p.bench.peer.name
            if p.failed or (action in OPTIONAL_ACTIONS and name in run.unoffered):
                continue
            try:
                got = _timed(p, action, batch_path, reps, timeout)
                sample = run.sample(name, schema, size, action, int(got["bytes"]))
                faults = got.get("minor_faults")
                sample.add_round(
                    index, [float(x) for x in got["seconds"]], [int(f) for f in faults] if faults else None
                )
            except PeerError as exc:
                if action in OPTIONAL_ACTIONS and exc.kind in ("bad_request", "unsupported"):
                    run.unoffered[name] = f"{action}: {exc.kind}: {exc.message}"
                    continue
                _failed(p, f"{name} {schema} {human(size)} {action}", exc, run)
            except (PeerFailure, KeyError, TypeError, ValueError) as exc:
                _failed(p, f"{name} {schema} {human(size)} {action}", exc, run)


def _failed(placed: Placed, label: str, exc: Exception, run: Run) -> None:
    """Record a failed request; the peer sits out the rest of this stretch of rounds."""
    placed.failed = True
    run.errors.append(f"{label}: {type(exc).__name__}: {exc}")
    print(f"[bench] {label}: {exc}", file=sys.stderr, flush=True)


def _pipe_round(
    order: Sequence[Placed],
    schema: str,
    size: int,
    index: int,
    batch_path: Path,
    workdir: Path,
    timeout: float,
    run: Run,
) -> None:
    """One pipe repetition per peer (reader's time): a context figure, so only in the first rounds."""
    for p in order:
        if p.failed:
            continue
        name = p.bench.peer.name
        try:
            seconds, moved = _pipe(p.bench, p.seg["segment"], batch_path, workdir / f"pipe-{name}", timeout)
            run.sample(name, schema, size, "pipe", moved).add_round(index, [seconds])
        except (PeerError, PeerFailure, KeyError, TypeError, ValueError, OSError) as exc:
            _failed(p, f"{name} {schema} {human(size)} pipe", exc, run)


def _restart_dead(benches: Sequence[Bench]) -> None:
    """A dead peer restarts for the next stretch of rounds; its pipe writer too."""
    for bench in benches:
        for p in (bench.peer, bench.writer):
            if p.process is None or not p.process.alive:
                with contextlib.suppress(PeerFailure, PeerError, PeerUnavailable):
                    p.start()
                    if p is bench.writer:
                        bench.writer_segment = _writer_segment(p)


def run_rounds(
    benches: Sequence[Bench],
    schema: str,
    size: int,
    first: int,
    count: int,
    pipe_rounds: int,
    workdir: Path,
    timeout: float,
    run: Run,
) -> None:
    """Rounds ``first`` to ``first + count - 1`` of one schema and size, every peer in each, interleaved.

    The peers' order rotates by round, so none is always first after the
    untimed set-up. Pipe repetitions run in the rounds below ``pipe_rounds``.
    The stretch is recorded in ``run.visits`` with the load average before and
    after it, and every segment it made is released however it ends.
    """
    print(f"[bench] {schema} {human(size)}: rounds {first + 1}-{first + count}", file=sys.stderr, flush=True)
    visit: Json = {"schema": schema, "size": size, "first_round": first, "rounds": count}
    visit["loadavg_before"] = list(os.getloadavg())
    start = time.perf_counter()
    batch = make_batch(schema, size)
    batch_path = save_batch(workdir / f"{schema}-{size}.arrows", batch)
    stream_bytes = stream_size(batch)
    del batch
    placed: list[Placed] = []
    try:
        for bench in benches:
            try:
                placed.append(_place(bench, batch_path, stream_bytes))
            except (PeerError, PeerFailure, KeyError, TypeError, ValueError) as exc:
                run.errors.append(f"{bench.peer.name} {schema} {human(size)} set-up: {type(exc).__name__}: {exc}")
        for index in range(first, first + count):
            k = index % len(placed) if placed else 0
            order = placed[k:] + placed[:k]
            _round(order, schema, size, index, batch_path, timeout, run)
            if index < pipe_rounds:
                _pipe_round(order, schema, size, index, batch_path, workdir, timeout, run)
    finally:
        for p in placed:
            _release(p.bench.peer, p.seg)
            _release(p.bench.peer, p.held)
        batch_path.unlink()
        _restart_dead(benches)
        visit["seconds"] = time.perf_counter() - start
        visit["loadavg_after"] = list(os.getloadavg())
        run.visits.append(visit)


def select_peers(names: Sequence[str]) -> list[Manifest]:
    """The peers asked for, or every default peer; unknown names are an error."""
    known = registry()
    if names:
        unknown = [n for n in names if n.partition("@")[0] not in known]
        if unknown:
            raise SystemExit(f"unknown peer(s) {unknown}; registered: {sorted(known)}")
        try:
            return [lookup(n, known) for n in names]
        except ValueError as exc:
            raise SystemExit(str(exc)) from exc
    return [m for m in known.values() if m.default]


def _writer_segment(writer: Peer) -> str:
    """The pipe writer's own small segment: the ``bench`` op needs one, the pipe never touches it."""
    return str(writer.call("create", name=segment_name("bench-w"), size=HEADER_SIZE + MIB)["segment"])


def start_benches(manifests: Sequence[Manifest], workdir: Path, timeout: float, run: Run) -> list[Bench]:
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
            small = _writer_segment(writer)
        except (PeerUnavailable, PeerFailure, PeerError) as exc:
            run.skipped[manifest.name] = f"second process not started: {exc}"
            peer.stop()
            writer.stop()
            continue
        benches.append(Bench(peer, writer, small))
    return benches


@contextlib.contextmanager
def peers_running(benches: list[Bench]) -> Iterator[list[Bench]]:
    """Stop both processes of every peer on the way out, failures and Ctrl-C included."""
    try:
        yield benches
    finally:
        for b in benches:
            b.writer.stop()
            b.peer.stop()


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
    return {
        "requests": requests,
        "seconds": elapsed,
        "requests_per_s": requests / elapsed,
        "ms_per_request": elapsed / requests * 1000,
    }


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
