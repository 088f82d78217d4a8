"""The harness and the peers under stress: many segments, full segments, big ones, peers killed mid-request.

Sizes are chosen to keep the whole file under about 60 s for the five default
peers on two cores. ``VGIS_STRESS_BIG=1`` adds a multi-GB case (a 1 GiB batch
written across the 4 GiB mark of a 6 GiB segment, one to two minutes for the five
peers) when memory allows.

The kill cases expect the kill: they pass when the harness reported the
killed request as a crash that says "killed", removed everything the dead
peer created from /dev/shm (and nothing it had only attached), and the next
request ran on a restarted peer.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vgis import region as reference
from vgis.header import HEADER_SIZE
from vgis.pointer import LENGTH_KEY, OFFSET_KEY, SOURCE_KEY, empty_batch
from vgis.segment import Segment
from vgis_conformance import memory
from vgis_conformance.checks import check_region, written_entry
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.kit import Kit, Seg, ok, release, resolve_at
from vgis_conformance.outcomes import CRASH, NA_PREFIX
from vgis_conformance.peer import Peer, names_of_pids, save_batch, segment_name
from vgis_conformance.protocol import Json, PeerKilled

pytestmark = pytest.mark.oracle("stress")

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SMALL = HEADER_SIZE + 64 * KiB
BIG_TIMEOUT = 180.0


# --- helpers -------------------------------------------------------------------------------------------------


def arange(rows: int, start: int = 0) -> pa.Array:
    """int64 ``start, start + 1, ...`` built by Arrow's kernels, fast at any size (no numpy: not a dependency)."""
    return pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), rows), start=pa.scalar(start - 1, pa.int64()))


def ints(rows: int, start: int = 0) -> pa.RecordBatch:
    """``x: int64 = start, start + 1, ...``: cheap to build at any size, distinct per ``start``."""
    return pa.record_batch({"x": arange(rows, start)})


def mixed(rows: int) -> pa.RecordBatch:
    """Ints and strings: a batch whose region length depends on the writer's Arrow library."""
    return pa.record_batch(
        {
            "x": arange(rows),
            "s": pa.array([f"row-{i}" * (1 + i % 3) for i in range(rows)]),
        }
    )


def num_allocs(seg: Seg) -> int:
    """The table's count as the harness sees it now (no validation)."""
    return int(struct.unpack("<I", seg.map.read(16, 4))[0])


def entries(seg: Seg) -> list[tuple[int, int]]:
    return list(seg.map.header().entries)


def pointer_md(offset: int, length: int) -> dict[str, str]:
    return {OFFSET_KEY.decode(): str(offset), LENGTH_KEY.decode(): str(length)}


def check_written(
    seg: Seg, before: list[tuple[int, int]], answer: dict[str, object], batch: pa.RecordBatch
) -> tuple[int, int]:
    """WRITE-1 without copying the whole data area: one new entry, the region inside it, decoding to ``batch``."""
    offset, length = answer["offset"], answer["length"]
    assert isinstance(offset, int) and isinstance(length, int), f"the write said it does not fit: {answer}"
    written_entry(before, entries(seg), offset, length)
    check_region(seg.map.read(offset, length), batch, framing=False)
    return offset, length


def forget(kit: Kit, segs: list[Seg]) -> None:
    """A killed peer's segments: the harness already removed them; its handles died with it.

    The handles must not reach the restarted process, where the same strings
    name other segments.
    """
    for seg in segs:
        if seg._mapping is not None:
            seg._mapping.close()
            seg._mapping = None
        kit.segments.remove(seg)


def meminfo_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * KiB
    return 0


def need_memory(touched: int) -> None:
    """Not applicable unless /dev/shm and RAM can hold what the case touches (with room for copies)."""
    st = os.statvfs(memory.SHM_DIR)
    shm_free = st.f_bavail * st.f_frsize
    available = meminfo_available()
    if shm_free < 2 * touched or available < 4 * touched:
        pytest.skip(
            f"{NA_PREFIX}needs {touched / GiB:.1f} GiB touched: /dev/shm has {shm_free / GiB:.1f} GiB "
            f"free, {available / GiB:.1f} GiB RAM available"
        )


# --- many segments -------------------------------------------------------------------------------------------

MANY = 64
WRITTEN = range(0, MANY, 8)


@pytest.mark.clauses("LIFE-3", "LIFE-10", "WRITE-1", "ALLOC-1")
def test_many_segments(peer: Peer, kit: Kit) -> None:
    """One peer holds 64 segments at once; writes into eight stay in their own segment; all are unlinked."""
    segs = [kit.create(peer, SMALL) for _ in range(MANY)]
    names = [s.name for s in segs]
    assert len(set(names)) == MANY, f"create reused names: {sorted(names)}"
    for s in segs:
        assert memory.exists(s.name), f"{s.name} is not in /dev/shm"
        h = s.map.header()
        assert h.data_size == s.size - HEADER_SIZE and h.num_allocs == 0, f"{s.name}: fresh header {h}"
    written = {}
    for i in WRITTEN:
        batch = ints(100 + i, start=1000 * i)
        answer = ok(peer, "write", segment=segs[i].handle(peer), batch=kit.batch_file(batch))
        written[i] = (batch, check_written(segs[i], [], answer, batch))
    for i, s in enumerate(segs):
        if i not in written:
            assert num_allocs(s) == 0, f"segment {i} ({s.name}) gained entries {entries(s)} from writes elsewhere"
    for i, (batch, (offset, length)) in written.items():
        assert entries(segs[i]) == [(offset, entries(segs[i])[0][1])], f"segment {i}: {entries(segs[i])}"
        got, answer = resolve_at(kit, peer, segs[i], batch.schema, offset, length, keep_out=False)
        assert got.equals(batch), f"segment {i} resolved to another batch (rows {got.num_rows})"
        assert answer["metadata"] == {SOURCE_KEY.decode(): segs[i].name}, answer["metadata"]
        release(peer, segs[i], offset)
    for s in segs:
        s.map.close()
        s._mapping = None
        ok(peer, "close", segment=s.handle(peer))
        ok(peer, "unlink", segment=s.handle(peer))
        peer.forget(s.name)
    left = [n for n in names if memory.exists(n)]
    assert not left, f"LIFE-10: {len(left)} of {MANY} segments still in /dev/shm after unlink: {left[:4]}"
    kit.segments.clear()  # all closed and unlinked through the peer


# --- the largest batch that fits -----------------------------------------------------------------------------

FITS = {
    # name: (extra bytes in the data area, bytes of a planted entry in front, must fit)
    "exact": (0, 0, True),
    "one-byte-short": (-1, 0, False),
    "exact-behind-entry": (0, 4096, True),
    "one-byte-short-behind-entry": (-1, 4096, False),
}
FIT_ROWS = 20_000


@dataclass(frozen=True)
class LargestWrite:
    """One write of the mixed batch into a segment sized to this peer's own region for it."""

    seg: Seg
    answer: Json
    region: int
    batch: pa.RecordBatch
    entries_before: list[tuple[int, int]]
    header_before: bytes


def largest_write(peer: Peer, kit: Kit, fit: str) -> LargestWrite:
    """Size a segment to the peer's own region for the batch (after a planted entry, if any), then write it."""
    extra, planted, _ = FITS[fit]
    batch = mixed(FIT_ROWS)
    path = kit.batch_file(batch)
    roomy = kit.create(peer, HEADER_SIZE + 4 * MiB)
    probe = ok(peer, "write", segment=roomy.handle(peer), batch=path)
    region = int(probe["length"])  # this peer's region for this batch (arrow-rs and Arrow C++ differ)
    seg = kit.create(peer, HEADER_SIZE + planted + region + extra)
    assert seg.size == HEADER_SIZE + planted + region + extra, f"LIFE-2: asked {HEADER_SIZE + planted + region + extra}"
    if planted:
        seg.map.plant_table([(HEADER_SIZE, planted)])
    entries_before, header_before = entries(seg), seg.map.header_bytes()
    answer = ok(peer, "write", segment=seg.handle(peer), batch=path)
    return LargestWrite(seg, answer, region, batch, entries_before, header_before)


@pytest.mark.clauses("ALLOC-1", "ALLOC-3", "WRITE-1", "WRITE-2", "WRITE-6", "ERR-1")
@pytest.mark.parametrize("fit", list(FITS))
def test_largest_batch(peer: Peer, kit: Kit, fit: str) -> None:
    """A data area the size of the peer's own region fits it where it is placed, a byte less does not.

    A writer that reserves more than its region (WRITE-2 is a MAY) may say an
    exact fit does not fit, as WRITE-6 allows, if it leaves the table as it
    was; whether it accepts the exact fit is the recommended case
    ``largest-batch-fits-exactly``.
    """
    _, planted, fits = FITS[fit]
    w = largest_write(peer, kit, fit)
    seg, answer, region = w.seg, w.answer, w.region
    if answer["offset"] is not None:
        assert fits, (
            f"ALLOC-3/WRITE-6: a {region}-byte region in a {region - 1}-byte gap: expected does-not-fit, got {answer}"
        )
        offset, length = check_written(seg, w.entries_before, answer, w.batch)
        assert (offset, length) == (HEADER_SIZE + planted, region), (
            f"ALLOC-1: expected the region at {HEADER_SIZE + planted} with length {region}, got {offset}+{length}"
        )
        return
    assert answer["length"] is None, f"WRITE-6: a does-not-fit answer with a length: {answer}"
    # Meaningful bytes only: a reservation made and released may leave stale slot bytes (WRITE-6).
    problem = header_mismatch(w.header_before, seg.map.header_bytes(), "after the write that did not fit")
    assert not problem, f"WRITE-6: {problem}"


@pytest.mark.recommended
@pytest.mark.clauses("WRITE-2", "ALLOC-1")
@pytest.mark.parametrize("fit", [f for f, (_, _, fits) in FITS.items() if fits])
def test_largest_batch_fits_exactly(peer: Peer, kit: Kit, fit: str) -> None:
    """The writer's own region fits a gap of exactly its size (recommended: a writer that over-reserves may refuse)."""
    w = largest_write(peer, kit, fit)
    answer, region = w.answer, w.region
    assert answer["offset"] is not None, (
        f"WRITE-2: the peer's own {region}-byte region exactly fills the {region}-byte gap at the end of the "
        f"segment, but the write said it does not fit: the writer reserves more than the region (allowed by "
        f"WRITE-2 and WRITE-6, at the cost of the largest batch)"
    )


# --- big segments --------------------------------------------------------------------------------------------


@pytest.mark.clauses("LIFE-2", "ALLOC-1", "WRITE-1", "PTR-2", "PTR-6")
def test_offset_past_4gib(peer: Peer, kit: Kit) -> None:
    """A 4.5 GiB segment (sparse: only its header and one small region are touched): a region past 2^32."""
    size = HEADER_SIZE + 4 * GiB + 512 * MiB
    need_memory(64 * MiB)
    seg = kit.create(peer, size)
    assert seg.map.header().data_size == size - HEADER_SIZE, f"LIFE-2: data_size of a {size}-byte segment"
    seg.map.plant_table([(HEADER_SIZE, 4 * GiB)])  # a neighbour the writer must skip, never touched
    batch = mixed(1000)
    before = entries(seg)
    answer = ok(peer, "write", segment=seg.handle(peer), batch=kit.batch_file(batch))
    offset, length = check_written(seg, before, answer, batch)
    assert offset == HEADER_SIZE + 4 * GiB, f"ALLOC-1: first fit after the 4 GiB entry is {HEADER_SIZE + 4 * GiB}"
    got, answer = resolve_at(kit, peer, seg, batch.schema, offset, length, keep_out=False)
    assert got.equals(batch), "the region past 4 GiB resolved to another batch"
    assert answer["release_offset"] == offset, f"PTR-6: release offset {answer['release_offset']}, wrote {offset}"
    release(peer, seg, offset)
    assert entries(seg) == before, f"PTR-6: after free the table is {entries(seg)}"


# name: (segment size, planted entry in front, batch bytes); a 64 MiB batch from 256 MiB on by default.
BIG = {"512MiB": (HEADER_SIZE + 512 * MiB, 256 * MiB, 64 * MiB)}
if os.environ.get("VGIS_STRESS_BIG") == "1":
    # A 1 GiB batch written from 3.5 GiB on, so the region crosses the 4 GiB mark; the gap after the planted
    # entry is 2.5 GiB because vgi-rpc's Rust crate reserves twice the batch's memory (D10).
    BIG["6GiB"] = (HEADER_SIZE + 6 * GiB, 3 * GiB + 512 * MiB, 1 * GiB)


@pytest.fixture(scope="module")
def big_files(workdir: Path) -> Iterator[dict[str, tuple[pa.RecordBatch, Path]]]:
    """One int64 batch file per big size, shared by every peer; removed afterwards (they are large)."""
    made: dict[str, tuple[pa.RecordBatch, Path]] = {}
    yield made
    for _, path in made.values():
        path.unlink(missing_ok=True)


@pytest.mark.clauses("WRITE-1", "FRAME-1", "PTR-6")
@pytest.mark.parametrize("big", list(BIG))
def test_big_batch(peer: Peer, kit: Kit, big: str, big_files: dict[str, tuple[pa.RecordBatch, Path]]) -> None:
    """Write and resolve one large batch, if need be past a planted entry of several GiB."""
    size, planted, batch_bytes = BIG[big]
    need_memory(batch_bytes)
    if big not in big_files:
        batch = ints(batch_bytes // 8)
        big_files[big] = (batch, save_batch(kit.workdir / f"stress-{big}.arrows", batch))
    batch, path = big_files[big]
    seg = kit.create(peer, size)
    if planted:
        seg.map.plant_table([(HEADER_SIZE, planted)])
    before = entries(seg)
    answer = ok(peer, "write", segment=seg.handle(peer), batch=str(path), _timeout=BIG_TIMEOUT)
    offset, length = check_written(seg, before, answer, batch)
    assert offset == HEADER_SIZE + planted, f"ALLOC-1: first fit is {HEADER_SIZE + planted}, got {offset}"
    got, _ = resolve_at(kit, peer, seg, batch.schema, offset, length, timeout=BIG_TIMEOUT, keep_out=False)
    assert got.equals(batch), "the big region resolved to another batch"
    del got
    release(peer, seg, offset)


# --- peers killed mid-request --------------------------------------------------------------------------------

KILL_BYTES = 64 * MiB


@pytest.fixture(scope="module")
def kill_file(workdir: Path) -> Iterator[tuple[pa.RecordBatch, Path]]:
    """A 64 MiB batch: enough to keep every peer busy for tens of milliseconds."""
    batch = ints(KILL_BYTES // 8)
    path = save_batch(workdir / "stress-kill.arrows", batch)
    yield batch, path
    path.unlink(missing_ok=True)


def expect_killed(exc: PeerKilled, peer: Peer, op: str) -> None:
    assert exc.outcome == CRASH, f"a killed peer must be reported as {CRASH}, not {exc.outcome}"
    assert "killed with SIGKILL" in str(exc) and op in str(exc), str(exc)
    assert peer.process is not None and not peer.process.alive, "the killed peer still runs"


def recovers(peer: Peer, kit: Kit, restarts: int) -> None:
    """The next request starts a fresh peer, which writes and resolves as before."""
    seg = kit.create(peer, SMALL)
    assert peer.restarts == restarts + 1, f"restarts {restarts} -> {peer.restarts}; expected one restart"
    batch = ints(10)
    offset, length = check_written(
        seg, [], ok(peer, "write", segment=seg.handle(peer), batch=kit.batch_file(batch)), batch
    )
    got, _ = resolve_at(kit, peer, seg, batch.schema, offset, length, keep_out=False)
    assert got.equals(batch)
    release(peer, seg, offset)


@pytest.mark.clauses("LIFE-10", "WRITE-1")
def test_killed_mid_write(peer: Peer, kit: Kit, kill_file: tuple[pa.RecordBatch, Path]) -> None:
    """SIGKILL while the peer writes 64 MiB: reported as a crash; its four segments removed; it restarts."""
    _, path = kill_file
    segs = [kit.create(peer, HEADER_SIZE + KILL_BYTES + MiB)] + [kit.create(peer, SMALL) for _ in range(3)]
    restarts, removed = peer.restarts, peer.segments_removed
    target = segs[0]
    with pytest.raises(PeerKilled) as caught:
        # Kill once the writer holds its entry (mid-copy for writers that allocate first), else after 2 s.
        peer.call_and_kill(
            "write", segment=target.handle(peer), batch=str(path), when=lambda: num_allocs(target) > 0, within=2.0
        )
    expect_killed(caught.value, peer, "write")
    left = [s.name for s in segs if memory.exists(s.name)]
    assert not left, f"the harness left the dead peer's segments in /dev/shm: {left}"
    assert peer.segments_removed - removed == len(segs), (
        f"removed_after_failure counted {peer.segments_removed - removed}, expected {len(segs)}"
    )
    forget(kit, segs)
    recovers(peer, kit, restarts)


@pytest.mark.clauses("LIFE-10", "PTR-6")
def test_killed_mid_resolve(peer: Peer, kit: Kit, kill_file: tuple[pa.RecordBatch, Path]) -> None:
    """SIGKILL while the peer resolves 64 MiB from a segment it attached: the harness's segment survives intact."""
    batch, _ = kill_file
    small = ints(10, start=7)
    theirs = Segment.create(segment_name("stress-attached"), HEADER_SIZE + KILL_BYTES + MiB)
    try:
        placed, placed_small = reference.write_batch(theirs, batch), reference.write_batch(theirs, small)
        assert placed is not None and placed_small is not None
        (offset, length), (small_offset, small_length) = placed, placed_small
        header = bytes(theirs.buf[:HEADER_SIZE])
        own = kit.create(peer, SMALL)
        handle = ok(peer, "attach", name=theirs.name, size=theirs.size)["segment"]
        restarts = peer.restarts
        out = Path(kit.out())
        with pytest.raises(PeerKilled) as caught:
            # Kill once the peer starts writing the resolved batch out (mid-resolve), else after 2 s.
            peer.call_and_kill(
                "resolve",
                segment=handle,
                batch=kit.batch_file(empty_batch(batch.schema)),
                metadata=pointer_md(offset, length),
                out=str(out),
                when=out.exists,
                within=2.0,
            )
        out.unlink(missing_ok=True)
        expect_killed(caught.value, peer, "resolve")
        assert not memory.exists(own.name), f"the harness left the dead peer's own segment {own.name}"
        assert memory.exists(theirs.name), "LIFE-10: the segment the dead peer only attached was removed"
        assert bytes(theirs.buf[:HEADER_SIZE]) == header, "the killed resolve changed the attached segment's header"
        forget(kit, [own])
        seg = Seg(theirs.name, theirs.size, {}, peer)
        seg.handles[peer.name] = ok(peer, "attach", name=theirs.name, size=theirs.size)["segment"]
        assert peer.restarts == restarts + 1
        got, _ = resolve_at(kit, peer, seg, small.schema, small_offset, small_length, keep_out=False)
        assert got.equals(small), "the restarted peer resolved the small region to another batch"
        ok(peer, "close", segment=seg.handle(peer))
        seg.map.close()
    finally:
        theirs.close()
        memory.unlink(theirs.name)


@pytest.mark.clauses("LIFE-10")
def test_killed_mid_create(peer: Peer, kit: Kit) -> None:
    """SIGKILL as soon as the new object shows in /dev/shm, before the harness reads the create's answer.

    The harness never learns the name from a response, yet nothing of it is left (Peer.cleanup finds it by the
    name the harness asked for, or by the peer's pid for a peer that names its segments itself).
    """
    name = segment_name(peer.name)
    ok(peer, "hello")  # a running process (restarted if an earlier case killed it): its pid is the last one
    restarts, killed = peer.restarts, peer.pids[-1]

    def made() -> bool:
        return memory.exists(name) or bool(names_of_pids(os.listdir(memory.SHM_DIR), [killed]))

    with pytest.raises(PeerKilled) as caught:
        peer.call_and_kill("create", name=name, size=HEADER_SIZE + GiB, when=made, within=2.0)
    expect_killed(caught.value, peer, "create")
    assert peer.pids[-1] == killed
    left = [n for n in [name.lstrip("/"), *names_of_pids(os.listdir(memory.SHM_DIR), [killed])] if memory.exists(n)]
    assert not left, f"the harness left what the peer killed mid-create made: {left}"
    recovers(peer, kit, restarts)
