"""Cross-attach: every ordered pair of peers shares one segment (all clause groups at once).

The producer creates and writes; the consumer attaches, resolves and frees;
the producer then sees the free. A peer paired with itself is included.
"""

from __future__ import annotations

import pytest

from vgis.header import HEADER_SIZE
from vgis.pointer import LENGTH_KEY, OFFSET_KEY
from vgis_conformance import memory
from vgis_conformance.checks import check_write
from vgis_conformance.fixtures import IpcCase, ipc_cases
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.kit import Kit, ok, release, resolve_at
from vgis_conformance.peer import Peer

CASES = ipc_cases()
SIZE = HEADER_SIZE + (12 << 20)


def segment_size(case: IpcCase) -> int:
    """Room for any writer's region of ``case`` (twice the reference's, plus 256 KiB), whole pages.

    Per case rather than the grid's 12 MiB: the harness lays its canary over every data byte of every
    case's segment, and 12 MiB of fresh pages 1,700 times was a third of the grid's time.
    """
    return HEADER_SIZE + -(-(2 * len(case.region) + (256 << 10)) // 4096) * 4096


def table_seen_by(peer: Peer, handle: str) -> str:
    """The peer's own view of the meaningful header, as hex."""
    count = int.from_bytes(bytes.fromhex(ok(peer, "header", segment=handle, length=24)["hex"])[16:20], "little")
    return str(ok(peer, "header", segment=handle, length=24 + 16 * min(count, 4094))["hex"])


@pytest.mark.clauses("HDR-1", "HDR-7", "HDR-8", "HDR-9", "LIFE-9")
@pytest.mark.oracle("byte-exact")
def test_attach_sees_header(producer: Peer, consumer: Peer, kit: Kit) -> None:
    seg = kit.create(producer, SIZE)
    if "allocate" in producer.capabilities:
        for size in (100, 256, 50):
            ok(producer, "allocate", segment=seg.handle(producer), size=size)
    handle = kit.attach(consumer, seg)
    truth = seg.map.header_bytes()
    for who, h in ((producer, seg.handle(producer)), (consumer, handle)):
        seen = bytes.fromhex(table_seen_by(who, h))
        assert seen == truth, header_mismatch(truth, seen, f"{who.name}'s view")


@pytest.mark.clauses("WRITE-1", "WRITE-3", "FRAME-1", "FRAME-3", "PTR-5", "PTR-6", "ALLOC-5")
@pytest.mark.oracle("decoded-equal")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_write_then_resolve(producer: Peer, consumer: Peer, kit: Kit, case: IpcCase) -> None:
    """One batch per case, so a layout one peer cannot handle hides none of the pair's other batches."""
    seg = kit.create(producer, segment_size(case))
    kit.attach(consumer, seg)
    kit.snapshot(seg)
    before = list(seg.map.header().entries)
    seg.map.fill_data()
    answer = ok(producer, "write", segment=seg.handle(producer), batch=str(case.arrows_path))
    offset, length = answer["offset"], answer["length"]
    check_write(seg, before, offset, length, case.batch, None)  # byte-exactness: framing/write-byte-exact
    batch, res = resolve_at(kit, consumer, seg, case.batch.schema, int(offset), int(length))
    assert batch.equals(case.batch), f"{consumer.name} decoded a different batch"
    assert res["release_offset"] == offset, f"release offset {res['release_offset']}"
    release(consumer, seg, int(offset))
    after_seen = bytes.fromhex(table_seen_by(producer, seg.handle(producer)))
    assert after_seen[: 24 + 16 * len(before)] == seg.map.header_bytes(), (
        "the producer does not see the table back where it started"
    )
    assert list(seg.map.header().entries) == before, "the consumer's free did not restore the table"


@pytest.mark.clauses("PTR-1", "PTR-2", "PTR-4", "PTR-5", "PTR-6")
@pytest.mark.oracle("decoded-equal")
@pytest.mark.needs("maybe_write")
def test_maybe_write_then_resolve(producer: Peer, consumer: Peer, kit: Kit) -> None:
    big = next(c for c in CASES if c.name == "large-4mb")
    seg = kit.create(producer, SIZE)
    handle = kit.attach(consumer, seg)
    out = kit.out()
    answer = ok(
        producer,
        "maybe_write",
        segment=seg.handle(producer),
        batch=str(big.arrows_path),
        metadata={"app.key": "kept"},
        out=out,
    )
    if not answer["pointer"]:
        assert big.batch.nbytes < int(producer.info.get("min_batch_bytes", 0)), "maybe_write kept a batch that fits"
        return
    resolved = kit.out()
    res = ok(consumer, "resolve", segment=handle, batch=out, metadata=answer["metadata"], out=resolved)
    assert kit.load(resolved).equals(big.batch), f"{consumer.name} resolved a different batch"
    assert res["metadata"]["app.key"] == "kept"
    offset = int(answer["metadata"][OFFSET_KEY.decode()])
    assert res["release_offset"] == offset
    assert LENGTH_KEY.decode() not in res["metadata"]
    release(consumer, seg, offset)
    assert seg.map.header().num_allocs == 0


@pytest.mark.clauses("LIFE-10")
@pytest.mark.oracle("filesystem")
def test_unlink_leaves_nothing(producer: Peer, consumer: Peer, kit: Kit) -> None:
    seg = kit.create(producer, SIZE)
    handle = kit.attach(consumer, seg)
    ok(consumer, "close", segment=handle)
    assert memory.exists(seg.name), "LIFE-10: the attacher's close removed the segment"
    ok(producer, "close", segment=seg.handle(producer))
    ok(producer, "unlink", segment=seg.handle(producer))
    assert not memory.exists(seg.name), "LIFE-10: the creator's unlink left the segment in /dev/shm"
