"""Framing in both directions for every fixtures/ipc batch (WRITE-*, FRAME-*)."""

from __future__ import annotations

import pytest

from vgis.header import HEADER_SIZE
from vgis.pointer import SOURCE_KEY
from vgis_conformance.checks import BYTE_EXACT_LIBRARIES, check_write, first_difference
from vgis_conformance.fixtures import IpcCase, byte_drift_note, ipc_cases
from vgis_conformance.kit import Kit, ok, release, resolve_at
from vgis_conformance.outcomes import NA_PREFIX
from vgis_conformance.peer import Peer

CASES = ipc_cases()
# A fixture's clauses include FRAME-9 (its bytes are what FRAME-9 compares with); only write-byte-exact checks it.
PARAMS = [
    pytest.param(c, id=c.name, marks=pytest.mark.clauses(*(k for k in c.clauses if k != "FRAME-9"))) for c in CASES
]


def size_for(case: IpcCase) -> int:
    return HEADER_SIZE + max(1 << 20, 3 * len(case.region))


@pytest.mark.oracle("decoded-equal")
@pytest.mark.parametrize("case", PARAMS)
def test_write(peer: Peer, kit: Kit, case: IpcCase) -> None:
    seg = kit.create(peer, size_for(case))
    seg.map.fill_data()
    before = list(seg.map.header().entries)
    answer = ok(peer, "write", segment=seg.handle(peer), batch=str(case.arrows_path))
    check_write(seg, before, answer["offset"], answer["length"], case.batch, None)
    release(peer, seg, int(answer["offset"]))
    assert list(seg.map.header().entries) == before, "the table is not back where it started after free"


@pytest.mark.recommended
@pytest.mark.clauses("FRAME-9")
@pytest.mark.oracle("byte-exact")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_write_byte_exact(peer: Peer, kit: Kit, case: IpcCase) -> None:
    """A writer on Arrow C++ with default options writes the golden region (FRAME-9, a SHOULD: a warning)."""
    if peer.arrow_library not in BYTE_EXACT_LIBRARIES:
        pytest.skip(
            f"{NA_PREFIX}{peer.name} writes with {peer.arrow_library}, not Arrow C++ (FRAME-9 compares "
            "writers on one library)"
        )
    seg = kit.create(peer, size_for(case))
    answer = ok(peer, "write", segment=seg.handle(peer), batch=str(case.arrows_path))
    assert answer["offset"] is not None, "the writer said the batch does not fit a segment sized for it"
    region = seg.map.read(int(answer["offset"]), int(answer["length"]))
    release(peer, seg, int(answer["offset"]))
    drift = byte_drift_note(f"ipc/{case.name}.region", peer.arrow_library, peer.info.get("arrow", {}).get("version"))
    assert region == case.region, "byte-exact (FRAME-9): " + first_difference(case.region, region) + drift


@pytest.mark.oracle("decoded-equal")
@pytest.mark.parametrize("case", PARAMS)
def test_read_golden(peer: Peer, kit: Kit, case: IpcCase) -> None:
    seg = kit.create(peer, size_for(case))
    before = list(seg.map.header().entries)
    offset = seg.map.place(case.region)
    assert offset is not None
    batch, answer = resolve_at(kit, peer, seg, case.batch.schema, offset, len(case.region))
    assert answer["pointer"] is True and answer["release_offset"] == offset, answer
    assert batch.equals(case.batch), f"decoded-equal: got\n{batch}\nexpected\n{case.batch}"
    assert answer["metadata"] == {SOURCE_KEY.decode(): seg.name}, answer["metadata"]
    release(peer, seg, offset)
    assert list(seg.map.header().entries) == before


TRAILING = [c for c in CASES if c.name in ("signed-ints", "dict-int8-utf8")]
TRAILERS = {"zeros": b"\x00" * 8, "garbage": b"\xff" * 8 + b"garbage!", "second-eos": b"\xff\xff\xff\xff" + bytes(4)}


@pytest.mark.clauses("FRAME-6")
@pytest.mark.oracle("decoded-equal")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in TRAILING])
@pytest.mark.parametrize("trailer", list(TRAILERS))
def test_trailing_bytes_ignored(peer: Peer, kit: Kit, case: IpcCase, trailer: str) -> None:
    seg = kit.create(peer, size_for(case))
    data = case.region + TRAILERS[trailer]
    offset = seg.map.place(data)
    assert offset is not None
    batch, _ = resolve_at(kit, peer, seg, case.batch.schema, offset, len(data))
    assert batch.equals(case.batch), f"with {trailer} trailing bytes: got\n{batch}"
    release(peer, seg, offset)


UNALIGNED = [c for c in CASES if c.name in ("signed-ints", "strings", "dict-int8-utf8", "structs")]


@pytest.mark.clauses("FRAME-10")
@pytest.mark.oracle("decoded-equal")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in UNALIGNED])
@pytest.mark.parametrize("skew", [1, 4, 7])
def test_read_unaligned(peer: Peer, kit: Kit, case: IpcCase, skew: int) -> None:
    seg = kit.create(peer, size_for(case))
    pad = seg.map.place(b"\x00" * skew)
    offset = seg.map.place(case.region)
    assert pad is not None and offset is not None and offset % 8 == skew % 8
    batch, _ = resolve_at(kit, peer, seg, case.batch.schema, offset, len(case.region))
    assert batch.equals(case.batch), f"region at offset {offset} ({offset % 8} mod 8) decoded to\n{batch}"
    release(peer, seg, offset)
