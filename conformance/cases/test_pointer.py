"""Pointer batches: making, writing, resolving and rejecting them (PTR-*, WRITE-4..6).

Non-canonical and missing pointer values are inputs of the adversarial corpus (fixtures/adversarial/pointers,
run by test_adversarial), the one place they are defined, as are out-of-bounds pointers and broken regions.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from vgis.header import HEADER_SIZE
from vgis.pointer import LENGTH_KEY, LOG_LEVEL_KEY, OFFSET_KEY, SOURCE_KEY, empty_batch
from vgis_conformance.checks import check_write
from vgis_conformance.fixtures import IpcCase, ipc_cases
from vgis_conformance.kit import Kit, ok, rejects_unchanged, release, resolve_at
from vgis_conformance.outcomes import NA_PREFIX
from vgis_conformance.peer import Peer

CASES = {c.name: c for c in ipc_cases()}
SMALL = CASES["signed-ints"]
DICT = CASES["dict-int8-utf8"]
LARGE = CASES["large-4mb"]
SIZE = HEADER_SIZE + (16 << 20)
OFF, LEN = OFFSET_KEY.decode(), LENGTH_KEY.decode()


@pytest.mark.clauses("PTR-1", "PTR-2")
@pytest.mark.oracle("exact metadata")
@pytest.mark.needs("make_pointer")
@pytest.mark.parametrize(
    "where", [(HEADER_SIZE, 1), (123_456_789_012, 4096), ((1 << 64) - 1, (1 << 63))], ids=["first", "large", "u64-max"]
)
@pytest.mark.parametrize("schema_case", ["signed-ints", "dict-int8-utf8", "unions"])
def test_make_pointer(peer: Peer, kit: Kit, where: tuple[int, int], schema_case: str) -> None:
    schema = CASES[schema_case].batch.schema
    out = kit.out()
    answer = ok(peer, "make_pointer", schema=kit.schema_file(schema), offset=where[0], length=where[1], out=out)
    batch = kit.load(out)
    assert batch.num_rows == 0, f"PTR-1: pointer batch has {batch.num_rows} rows"
    assert batch.schema.equals(schema), f"PTR-1: pointer schema {batch.schema} differs from {schema}"
    assert answer["metadata"] == {OFF: str(where[0]), LEN: str(where[1])}, f"PTR-2: {answer['metadata']}"


def maybe_write(
    kit: Kit, peer: Peer, handle: str, batch_path: str, metadata: dict[str, str]
) -> tuple[pa.RecordBatch, dict[str, object]]:
    out = kit.out()
    answer = ok(peer, "maybe_write", segment=handle, batch=batch_path, metadata=metadata, out=out)
    return kit.load(out), answer


@pytest.mark.clauses("PTR-1", "PTR-2", "PTR-4", "WRITE-1", "WRITE-3")
@pytest.mark.oracle("exact metadata; decoded-equal")
@pytest.mark.needs("maybe_write")
def test_maybe_write_pointer(peer: Peer, kit: Kit) -> None:
    if LARGE.batch.nbytes < int(peer.info.get("min_batch_bytes", 0)):
        pytest.skip(f"{NA_PREFIX}{peer.name}'s size gate keeps a {LARGE.batch.nbytes}-byte batch on the pipe")
    seg = kit.create(peer, SIZE)
    seg.map.fill_data()
    before = list(seg.map.header().entries)
    extra = {"app.key": "kept", OFF: "999", LEN: "1"}
    batch, answer = maybe_write(kit, peer, seg.handle(peer), str(LARGE.arrows_path), extra)
    assert answer["pointer"] is True, "maybe_write kept a batch that fits on the pipe"
    assert batch.num_rows == 0 and batch.schema.equals(LARGE.batch.schema), "PTR-1: not a zero-row batch of the schema"
    md = answer["metadata"]
    assert isinstance(md, dict) and set(md) == {"app.key", OFF, LEN}, f"PTR-4: metadata keys {md}"
    assert md["app.key"] == "kept", "PTR-4: other keys must be kept"
    offset, length = int(md[OFF]), int(md[LEN])
    assert md[OFF] == str(offset) and md[LEN] == str(length), f"PTR-2: not canonical: {md}"
    check_write(seg, before, offset, length, LARGE.batch, None)


@pytest.mark.clauses("WRITE-4")
@pytest.mark.oracle("header")
@pytest.mark.needs("maybe_write")
def test_maybe_write_zero_rows(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    before = seg.map.header_bytes()
    batch, answer = maybe_write(
        kit, peer, seg.handle(peer), kit.batch_file(empty_batch(SMALL.batch.schema)), {"k": "v"}
    )
    assert answer["pointer"] is False and batch.num_rows == 0, "WRITE-4: a zero-row batch was written"
    assert answer["metadata"] == {"k": "v"}
    assert seg.map.header_bytes() == before, "WRITE-4: zero-row maybe_write changed the header"


@pytest.mark.clauses("WRITE-6", "ALLOC-3")
@pytest.mark.oracle("header")
@pytest.mark.needs("maybe_write")
def test_maybe_write_does_not_fit(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, HEADER_SIZE + 4096)
    before = seg.map.header_bytes()
    batch, answer = maybe_write(kit, peer, seg.handle(peer), str(LARGE.arrows_path), {"k": "v"})
    assert answer["pointer"] is False and batch.equals(LARGE.batch), "WRITE-6: the batch must come back unchanged"
    assert answer["metadata"] == {"k": "v"}
    assert seg.map.header_bytes() == before, "WRITE-6: a batch that does not fit left an entry behind"


@pytest.mark.clauses("PTR-5", "PTR-6")
@pytest.mark.oracle("exact metadata")
@pytest.mark.parametrize("case", [SMALL, DICT], ids=lambda c: c.name)
def test_resolve_metadata(peer: Peer, kit: Kit, case: IpcCase) -> None:
    data = CASES[case.name]
    seg = kit.create(peer, SIZE)
    offset = seg.map.place(data.region)
    assert offset is not None
    extra = {"app.key": "kept", SOURCE_KEY.decode(): "stale-name"}
    batch, answer = resolve_at(kit, peer, seg, data.batch.schema, offset, len(data.region), extra)
    assert batch.equals(data.batch)
    assert answer["metadata"] == {"app.key": "kept", SOURCE_KEY.decode(): seg.name}, f"PTR-5: {answer['metadata']}"
    assert answer["release_offset"] == offset, f"PTR-6: release offset {answer['release_offset']} != {offset}"
    release(peer, seg, offset)


@pytest.mark.clauses("PTR-3", "PTR-7")
@pytest.mark.oracle("exact metadata")
@pytest.mark.parametrize("shape", ["log-batch", "rows-with-offset-key", "no-pointer-keys"])
def test_resolve_passes_non_pointers(peer: Peer, kit: Kit, shape: str) -> None:
    seg = kit.create(peer, SIZE)
    metadata = {OFF: str(HEADER_SIZE), LEN: "64"}
    batch = empty_batch(SMALL.batch.schema)
    if shape == "log-batch":
        metadata[LOG_LEVEL_KEY.decode()] = "INFO"
    elif shape == "rows-with-offset-key":
        batch = SMALL.batch
    else:
        metadata = {"app.key": "v"}
    out = kit.out()
    answer = ok(peer, "resolve", segment=seg.handle(peer), batch=kit.batch_file(batch), metadata=metadata, out=out)
    assert answer["pointer"] is False and answer["release_offset"] is None, f"PTR-3: treated as a pointer: {answer}"
    assert answer["metadata"] == metadata, f"PTR-7: metadata changed: {answer['metadata']}"
    assert kit.load(out).equals(batch), "PTR-7: the batch changed"


@pytest.mark.clauses("PTR-11", "ERR-1")
@pytest.mark.oracle("error-kind")
def test_resolve_rejects_schema_mismatch(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    offset = seg.map.place(SMALL.region)
    other = pa.schema([pa.field("not_the_same", pa.utf8())])
    rejects_unchanged(
        seg,
        peer,
        ["schema_mismatch"],
        "resolve",
        segment=seg.handle(peer),
        batch=kit.batch_file(empty_batch(other)),
        metadata={OFF: str(offset), LEN: str(len(SMALL.region))},
        out=kit.out(),
    )
