"""The adversarial corpus (fixtures/adversarial) run against every peer: ERR-1, ERR-2 and friends.

Each case is a recipe: a segment (made by the peer, by the harness, or a raw
object), bytes and a table planted by the harness, then steps, each with the
outcomes the spec allows. Around every step the harness checks what holds
whatever the outcome: a rejected step leaves the meaningful header bytes as
they were (ERR-1); no step writes magic, version, data_size, padding or bytes
65,528..65,536 (ALLOC-9); every data byte outside what the step legitimately
created keeps its value (the canary laid over the data area, and the planted
regions); an allocation lies in the data and misses every listed entry
(ALLOC-8); and the peer still answers afterwards (ERR-2).
"""

from __future__ import annotations

import _posixshmem
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pytest

from vgis.header import HEADER_SIZE, MAX_ALLOCS, decode, meaningful_length
from vgis.pointer import LENGTH_KEY, OFFSET_KEY, empty_batch
from vgis_conformance import memory
from vgis_conformance.adversarial import Case, load_cases
from vgis_conformance.checks import changed_outside, check_inside_region, check_region, written_entry
from vgis_conformance.fixtures import ipc_cases, read_stream
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.kit import Kit
from vgis_conformance.outcomes import NA_PREFIX, ReadOutsideRegion
from vgis_conformance.peer import Peer, segment_name
from vgis_conformance.protocol import PeerError

CASES = {c.case_id: c for c in load_cases()}
IPC = {c.name: c for c in ipc_cases()}
PARAMS = [
    pytest.param(
        key,
        id=key,
        marks=[pytest.mark.clauses(*c.clauses), *([pytest.mark.recommended] if c.tier == "recommended" else [])],
    )
    for key, c in CASES.items()
]
UNUSED = slice(HEADER_SIZE - 8, HEADER_SIZE)
FIXED = (slice(0, 16), slice(20, 24), UNUSED)
OFF = OFFSET_KEY.decode()
LEN = LENGTH_KEY.decode()


def listed(header: bytes) -> list[tuple[int, int]]:
    """Slots 0..min(num_allocs, 4,094) of a full header: the entries ALLOC-8 protects."""
    return list(decode(header).entries)


def meaningful(header: bytes) -> bytes:
    """HDR-9's meaningful bytes, the slot count clamped to the table."""
    return header[: meaningful_length(decode(header).num_allocs)]


def check_range(offset: int, size: int, total: int, entries: list[tuple[int, int]], what: str) -> None:
    """ALLOC-8: ``offset..offset+size`` lies in the data area and misses every listed entry."""
    assert offset >= HEADER_SIZE and offset + size <= total, (
        f"ALLOC-8: {what} [{offset}, {offset + size}) is not inside the data area [{HEADER_SIZE}, {total})"
    )
    for o, n in entries:
        if n and offset < o + n and o < offset + size:
            raise AssertionError(f"ALLOC-8: {what} [{offset}, +{size}) overlaps the listed entry ({o}, {n})")


@dataclass
class Target:
    """The segment a case works on, with the handles the peer holds to it."""

    name: str
    size: int
    mapping: memory.Mapping | None
    handle: str | None = None
    owned_by_harness: bool = False
    extra_handles: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    shrunk: bool = False  # a truncate step shrank the object: the harness no longer maps it

    def header(self) -> bytes:
        return self.mapping.read(0, HEADER_SIZE) if self.mapping is not None else b""

    def data(self) -> bytes:
        return self.mapping.data() if self.mapping is not None else b""


def make_raw(name: str, size: int, mode: int = 0o600) -> None:
    """A shared-memory object of ``size`` zero bytes, made by the harness."""
    fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, size)
        if mode != 0o600:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def plant_table(m: memory.Mapping, table: dict[str, Any]) -> None:
    """Plant the recipe's table: its entries, a run of equal entries, stale slots and a num_allocs override."""
    entries = [(int(o), int(n)) for o, n in table.get("entries", [])]
    run = table.get("run")
    if run is not None:
        entries += [(run["start"] + i * run["length"], run["length"]) for i in range(run["count"])]
    m.plant_table(entries, table.get("count"), [(int(o), int(n)) for o, n in table.get("stale", [])])


def setup_target(case: Case, peer: Peer, kit: Kit) -> Target:
    """Make the case's segment, lay the canary, plant its bytes and table."""
    seg = case.segment
    by, size = seg["by"], int(seg.get("size", 0))
    if by == "peer":
        s = kit.create(peer, size)
        target = Target(s.name, s.size, s.map, s.handle(peer))
    elif by == "none":
        return Target(segment_name("adv-none"), 0, None, owned_by_harness=True)
    else:
        name = segment_name("adv")
        make_raw(name, size)
        target = Target(name, size, None, owned_by_harness=True)
        if by == "harness" or size >= HEADER_SIZE:
            target.mapping = memory.Mapping(name)
        if by == "harness":
            assert target.mapping is not None
            target.mapping.write(0, memory.fresh_header(size))
    m = target.mapping
    if m is not None and size >= HEADER_SIZE:
        m.fill_data()
        m.fill_canary(UNUSED.start, UNUSED.stop - UNUSED.start)
    for p in case.plant:
        data = case.bins[p["bin"]] if "bin" in p else bytes.fromhex(p["hex"])
        if m is not None:
            m.write(int(p["at"]), data)
        else:
            fd = os.open(memory.shm_path(target.name), os.O_RDWR)
            try:
                os.pwrite(fd, data, int(p["at"]))
            finally:
                os.close(fd)
    if case.table is not None:
        assert m is not None, "a table needs a mapped segment"
        plant_table(m, case.table)
    if "mode" in seg and by != "none":
        os.chmod(memory.shm_path(target.name), int(seg["mode"]))
    return target


def expand(pattern: str, target: Target) -> str:
    missing = segment_name("adv-missing")
    return (
        pattern.replace("{name}", target.name)
        .replace("{bare}", target.name.lstrip("/"))
        .replace("{missing_bare}", missing.lstrip("/"))
        .replace("{missing}", missing)
    )


def schema_of(case: Case, step: dict[str, Any]) -> pa.Schema:
    if "schema_bin" in step:
        schema: pa.Schema = pa.ipc.open_stream(pa.py_buffer(case.bins[step["schema_bin"]])).schema
        return schema
    return IPC[step["schema_of"]].batch.schema


def written_batch(case: Case, step: dict[str, Any]) -> pa.RecordBatch:
    """The batch a write step sends (and its region must decode to)."""
    if "batch_bin" in step:
        return read_stream(case.bins[step["batch_bin"]])[0]
    return IPC[step["batch"]].batch


def released_reservation(header: bytes, before: bytes, after: bytes, total: int) -> tuple[int, int] | None:
    """The data range a write that did not fit may have changed: one free range it reserved and released.

    WRITE-3 lets a writer whose batch overran its reservation stop at the entry's end and free it (WRITE-6), so
    the bytes it changed must lie in one range that misses every listed entry (the span of the changes; None
    when nothing changed). check_data then holds every byte outside it to its old value.
    """
    changed = [i for i in range(len(before)) if before[i] != after[i]] if before != after else []
    if not changed:
        return None
    span = (changed[0] + HEADER_SIZE, changed[-1] + 1 + HEADER_SIZE)
    check_range(
        span[0], span[1] - span[0], total, listed(header), "WRITE-3/WRITE-6: the bytes a write that did not fit changed"
    )
    return span


def expected_batch(case: Case, step: dict[str, Any]) -> pa.RecordBatch:
    if "expect_bin" in step:
        return read_stream(case.bins[step["expect_bin"]])[0]
    return IPC[step.get("expect_batch", step["schema_of"])].batch


class Runner:
    """Runs one case's steps and checks the invariants around each."""

    def __init__(self, case: Case, peer: Peer, kit: Kit, target: Target) -> None:
        self.case, self.peer, self.kit, self.t = case, peer, kit, target

    def call(self, op: str, **args: Any) -> tuple[str, dict[str, Any]]:
        """(error kind, {}) or ("", result)."""
        try:
            return "", self.peer.call(op, **args)
        except PeerError as exc:
            return exc.kind, {"message": exc.message}

    def step(self, index: int, step: dict[str, Any]) -> None:
        op = step["op"]
        header_before, data_before = self.t.header(), self.t.data()
        kind, result, allowed = self.perform(op, step, header_before)
        outcome = kind or result.pop("outcome")
        where = f"step {index} ({op}, answered {outcome}{': ' + str(result.get('message', ''))[:200] if kind else ''})"
        assert outcome in step["expect"], f"{where}; expected {' or '.join(step['expect'])}"
        if self.t.mapping is None or self.t.size < HEADER_SIZE:
            return
        header_after, data_after = self.t.header(), self.t.data()
        for part in FIXED:
            assert header_after[part] == header_before[part], (
                f"ALLOC-9/ERR-1: {where} changed header bytes {part.start}..{part.stop}: "
                f"{header_before[part].hex()} -> {header_after[part].hex()}"
            )
        if kind or op in ("resolve", "attach", "create"):
            problem = header_mismatch(meaningful(header_before), meaningful(header_after), where)
            assert not problem, f"ERR-1/PTR-6: {problem}"
        self.check_data(where, data_before, data_after, allowed)

    def check_data(self, where: str, before: bytes, after: bytes, allowed: tuple[int, int] | None) -> None:
        """Every data byte outside ``allowed`` (absolute range) keeps its value (canary or planted)."""
        if before == after:
            return
        changed = changed_outside(after, allowed, before)
        if changed is not None:
            first = changed - HEADER_SIZE
            raise AssertionError(
                f"{where} wrote data byte {changed} outside its own entry"
                f"{f' [{allowed[0]}, {allowed[1]})' if allowed else ''}: "
                f"{before[first : first + 8].hex()} -> {after[first : first + 8].hex()}"
            )

    def perform(
        self, op: str, step: dict[str, Any], header: bytes
    ) -> tuple[str, dict[str, Any], tuple[int, int] | None]:
        t = self.t
        if op in ("attach", "create"):
            name = expand(step["name"], t)
            checkable = op == "create" and "\x00" not in name and bool(name.strip("/")) and len(name) < 256
            existed = checkable and memory.exists(name)
            kind, result = self.call(op, name=name, size=step["size"])
            if not kind:
                handle = str(result["segment"])
                if op == "create":
                    t.created.append(str(result["name"]))
                    t.extra_handles.append(handle)
                elif t.handle is None:
                    t.handle = handle
                else:
                    t.extra_handles.append(handle)
                result = {"outcome": "ok"}
            elif checkable and not existed:
                assert not memory.exists(name), f"LIFE-1: the rejected create left {name!r} behind"
            return kind, result, None
        assert t.handle is not None, f"{op} needs a handle: the recipe must create or attach first"
        if op == "truncate":
            # Unmap first: the harness's own reads of the mapping would fault past the new end.
            if t.mapping is not None:
                t.mapping.close()
                t.mapping = None
            t.shrunk = True
            os.truncate(memory.shm_path(t.name), int(step["size"]))
            return "", {"outcome": "ok"}, None
        if t.shrunk and op in ("allocate", "free", "write"):
            # The object shrank under both mappings (a truncate step): only the answer's kind is checked.
            args: dict[str, Any] = {k: step[k] for k in ("size", "offset") if k in step}
            if op == "write":
                args["batch"] = self.batch_path(step)
            kind, result = self.call(op, segment=t.handle, **args)
            return kind, ({"outcome": "ok"} if not kind else result), None
        if op == "allocate":
            kind, result = self.call(op, segment=t.handle, size=step["size"])
            if kind:
                return kind, result, None
            if result["offset"] is None:
                assert meaningful(t.header()) == meaningful(header), "ALLOC-3: a null allocate changed the table"
                return "", {"outcome": "null"}, None
            offset = int(result["offset"])
            check_range(offset, int(step["size"]), t.size, listed(header), "allocate returned")
            after = listed(t.header())
            want = sorted([*listed(header), (offset, int(step["size"]))])
            assert sorted(after) == want, f"ALLOC-2/8: after allocate the table is {after}, expected {want} in order"
            return "", {"outcome": "allocated"}, None
        if op == "free":
            kind, result = self.call(op, segment=t.handle, offset=step["offset"])
            if not kind and struct.unpack_from("<I", header, 16)[0] <= MAX_ALLOCS:
                before = listed(header)
                index = next((i for i, (o, _) in enumerate(before) if o == step["offset"]), None)
                assert index is not None, f"ALLOC-5: free({step['offset']}) succeeded, but no entry starts there"
                want = before[:index] + before[index + 1 :]
                assert listed(t.header()) == want, f"ALLOC-5: after free the table is {listed(t.header())}, not {want}"
            return kind, {"outcome": "ok"} if not kind else result, None
        if op == "shrink":
            kind, result = self.call(op, segment=t.handle, offset=step["offset"], length=step["length"])
            if not kind and struct.unpack_from("<I", header, 16)[0] <= MAX_ALLOCS:
                before = listed(header)
                index = next((i for i, (o, _) in enumerate(before) if o == step["offset"]), None)
                assert index is not None, f"ALLOC-6: shrink({step['offset']}) succeeded, but no entry starts there"
                want = [*before[:index], (step["offset"], step["length"]), *before[index + 1 :]]
                assert listed(t.header()) == want, f"ALLOC-6: after shrink the table is {listed(t.header())}"
            return kind, {"outcome": "ok"} if not kind else result, None
        if op == "write":
            data_before = t.data()
            kind, result = self.call(op, segment=t.handle, batch=self.batch_path(step))
            if kind:
                return kind, result, None
            if result["offset"] is None:
                assert meaningful(t.header()) == meaningful(header), "WRITE-6: a write that did not fit left an entry"
                return "", {"outcome": "null"}, released_reservation(header, data_before, t.data(), t.size)
            offset, length = int(result["offset"]), int(result["length"])
            entry = written_entry(listed(header), listed(t.header()), offset, length)
            check_range(entry[0], entry[1], t.size, listed(header), "write's entry")
            region = t.mapping.read(offset, length) if t.mapping else b""
            check_region(region, written_batch(self.case, step), framing=False)
            return "", {"outcome": "written"}, (entry[0], entry[0] + entry[1])
        if op == "read":
            return self.read(step)
        return self.resolve(step)

    def read(self, step: dict[str, Any]) -> tuple[str, dict[str, Any], tuple[int, int] | None]:
        """The ``read`` op: decode the region at (offset, length) under the step's schema, no pointer involved."""
        schema = schema_of(self.case, step)
        out = self.kit.out()
        claimed = claimed_region(step["metadata"])
        assert claimed is not None, "a read step names its region in metadata"
        kind, result = self.call(
            "read",
            segment=self.t.handle,
            offset=claimed[0],
            length=claimed[1],
            schema=self.kit.schema_file(schema),
            out=out,
        )
        if kind:
            return kind, result, None
        self.check_decoded(step, load_answer(self.kit, out, self.peer.name), claimed)
        return "", {"outcome": "decoded"}, None

    def check_decoded(self, step: dict[str, Any], got: pa.RecordBatch, claimed: tuple[int, int] | None) -> None:
        """A batch decoded from a region holds nothing from outside it (ERR-2), and equals the expected batch."""
        if self.t.mapping is not None and claimed is not None:
            check_inside_region(got, self.t.size, *claimed, self.peer.name)
        if "decoded" in step["expect"]:
            want = expected_batch(self.case, step)
            assert got.equals(want), f"decoded-equal: the region decoded to\n{got}\nexpected\n{want}"

    def batch_path(self, step: dict[str, Any]) -> str:
        """The batch file a write step sends: a ``fixtures/ipc`` case, or the case's own ``batch_bin``."""
        if "batch_bin" in step:
            return self.kit.batch_file(written_batch(self.case, step))
        return str(IPC[step["batch"]].arrows_path)

    def resolve(self, step: dict[str, Any]) -> tuple[str, dict[str, Any], tuple[int, int] | None]:
        schema = schema_of(self.case, step)
        source = IPC[step["schema_of"]].batch
        batch = source if step.get("rows") == "data" else empty_batch(schema)
        out = self.kit.out()
        metadata = dict(step["metadata"])
        kind, result = self.call(
            "resolve", segment=self.t.handle, batch=self.kit.batch_file(batch), metadata=metadata, out=out
        )
        if kind:
            return kind, result, None
        got = load_answer(self.kit, out, self.peer.name)
        if not result["pointer"]:
            assert result["release_offset"] is None, f"PTR-7: a non-pointer reports release_offset {result}"
            assert result["metadata"] == metadata, f"PTR-7: metadata changed to {result['metadata']}"
            assert got.equals(batch), "PTR-7: the passed-through batch changed"
            return "", {"outcome": "passed-through"}, None
        self.check_decoded(step, got, claimed_region(metadata))
        if "decoded" in step["expect"]:
            assert str(result["release_offset"]) == metadata[OFF], f"PTR-6: release_offset in {result}"
        return "", {"outcome": "decoded"}, None


def load_answer(kit: Kit, out: str, who: str) -> pa.RecordBatch:
    """The batch a peer wrote to ``out``; a file Arrow cannot read back is the peer's failure, not the harness's."""
    try:
        return kit.load(out)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise AssertionError(f"{who} answered with an out file that is not a valid batch: {exc}") from exc


def claimed_region(metadata: dict[str, str]) -> tuple[int, int] | None:
    """The (offset, length) a pointer's metadata names, read leniently; None where no reading gives one."""
    try:
        offset, length = int(metadata[OFF]), int(metadata[LEN])
    except (KeyError, ValueError):
        return None
    return (offset, length) if offset >= 0 and length >= 0 else None


def run_steps(runner: Runner, steps: list[dict[str, Any]]) -> None:
    """Run the steps in order; after a failed step only probes run, and the first failure is raised with theirs.

    A probe (``"probe": true``) runs only once the peer holds a handle. It follows an attach that must refuse
    but might not, so that a peer which wrongly attached is also asked to touch what it trusted.
    """
    failures: list[AssertionError | ReadOutsideRegion] = []
    for index, step in enumerate(steps):
        if (failures and not step.get("probe")) or (step.get("probe") and runner.t.handle is None):
            continue
        try:
            runner.step(index, step)
        except (AssertionError, ReadOutsideRegion) as exc:
            failures.append(exc)
    if failures:
        worst = ReadOutsideRegion if any(isinstance(f, ReadOutsideRegion) for f in failures) else AssertionError
        raise worst("; then ".join(map(str, failures)))


@pytest.fixture
def cleanup() -> Iterator[list[Target]]:
    targets: list[Target] = []
    yield targets
    for t in targets:
        if t.mapping is not None:
            t.mapping.close()
        for name in t.created:
            memory.unlink(name)
        if t.owned_by_harness:
            memory.unlink(t.name)


@pytest.mark.oracle("adversarial")
@pytest.mark.parametrize("case_id", PARAMS)
def test_case(peer: Peer, kit: Kit, case_id: str, cleanup: list[Target]) -> None:
    case = CASES[case_id]
    missing = sorted(set(case.needs) - peer.capabilities)
    if missing:
        pytest.skip(f"{NA_PREFIX}{peer.name} lacks capability {', '.join(missing)}")
    target = setup_target(case, peer, kit)
    cleanup.append(target)
    runner = Runner(case, peer, kit, target)
    try:
        run_steps(runner, case.steps)
    finally:
        kit.case.header_snapshot = target.header()[:24].hex() if target.mapping else None
        for handle in ([target.handle] if target.owned_by_harness and target.handle else []) + target.extra_handles:
            try:
                peer.call("close", segment=handle)
            except PeerError:
                pass
        for name in target.created:
            peer.forget(name)
    peer.call("hello")
