"""Driving the peers: starting two processes of each, and running every action's samples.

Every GB/s figure is timed *inside* the peer (the ``bench`` op of
docs/peer-protocol.md), so the JSON-lines protocol costs nothing in it; this
module only asks, collects the seconds, and cleans up the segments it made even
when a peer dies half-way.
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
from vgis_conformance.bench.batches import HEADER_SIZE, MIB, SCHEMAS, human, make_batch, segment_size_for, stream_size
from vgis_conformance.bench.stats import Run, Sample
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


def bench_one(
    bench: Bench, schema: str, size: int, batch_path: Path, stream_bytes: int, repeat: int, fifo: Path, timeout: float
) -> list[Sample]:
    """Every action for one peer, one batch."""
    peer = bench.peer
    reps = repeat * (SMALL_REPEAT_FACTOR if size < MIB else 1)
    out: list[Sample] = []
    seg = peer.call("create", name=segment_name("bench"), size=segment_size_for(stream_bytes))
    handle = seg["segment"]
    try:

        def timed(action: str, **extra: Any) -> Sample:
            assert peer.process is not None
            got = peer.process.request(
                "bench", _timeout=timeout, segment=handle, action=action, batch=str(batch_path), repeat=reps, **extra
            )
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


def run_throughput(
    benches: Sequence[Bench], sizes: Sequence[int], repeat: int, workdir: Path, timeout: float, run: Run
) -> None:
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
                    run.samples += bench_one(
                        bench,
                        schema,
                        size,
                        batch_path,
                        stream_bytes,
                        repeat,
                        workdir / f"pipe-{bench.peer.name}",
                        timeout,
                    )
                except (PeerError, PeerFailure, KeyError, TypeError, ValueError) as exc:
                    run.errors.append(f"{label}: {type(exc).__name__}: {exc}")
                    print(f"[bench] {label}: {exc}", file=sys.stderr, flush=True)
                    # A dead peer restarts on the next call; its pipe writer too.
                    for p in (bench.peer, bench.writer):
                        if p.process is None or not p.process.alive:
                            with contextlib.suppress(PeerFailure, PeerError, PeerUnavailable):
                                p.start()
                                if p is bench.writer:
                                    bench.writer_segment = _writer_segment(p)
            batch_path.unlink()
