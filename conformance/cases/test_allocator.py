"""Allocator behaviour beyond the header recipes (ALLOC-*), including hostile tables."""

from __future__ import annotations

import pytest

from vgis.header import HEADER_SIZE, MAX_ALLOCS
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.kit import Kit, Seg, ok, rejects
from vgis_conformance.peer import Peer

SIZE = HEADER_SIZE + 64 * 1024
END = SIZE


def assert_unchanged(seg: Seg, before: bytes, what: str) -> None:
    problem = header_mismatch(before, seg.map.header_bytes(full=True)[: len(before)], what)
    assert not problem, f"ERR-1: {problem}"


@pytest.mark.clauses("ALLOC-5", "ERR-1")
@pytest.mark.oracle("error-kind")
@pytest.mark.needs("allocate")
def test_free_unknown_offset(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    offset = ok(peer, "allocate", segment=seg.handle(peer), size=100)["offset"]
    before = seg.map.header_bytes(full=True)
    for bad in (offset + 1, offset + 100, HEADER_SIZE + 4096, 0):
        rejects(peer, ["no_allocation"], "free", segment=seg.handle(peer), offset=bad)
        assert_unchanged(seg, before, f"after free({bad})")


@pytest.mark.clauses("ALLOC-4")
@pytest.mark.oracle("header")
@pytest.mark.needs("allocate")
def test_allocate_zero(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    before = seg.map.header_bytes(full=True)
    try:
        result = peer.call("allocate", segment=seg.handle(peer), size=0)
        assert result["offset"] is None, f"allocate(0) created an entry at {result['offset']}"
    except Exception as exc:
        assert getattr(exc, "kind", None) == "bad_request", f"allocate(0) failed with {exc}"
    assert_unchanged(seg, before, "after allocate(0)")


@pytest.mark.clauses("ALLOC-3", "ERR-1")
@pytest.mark.oracle("header")
@pytest.mark.needs("allocate")
@pytest.mark.parametrize("size", [SIZE - HEADER_SIZE + 1, 1 << 40])
def test_no_gap_is_null(peer: Peer, kit: Kit, size: int) -> None:
    seg = kit.create(peer, SIZE)
    before = seg.map.header_bytes(full=True)
    assert ok(peer, "allocate", segment=seg.handle(peer), size=size)["offset"] is None
    assert_unchanged(seg, before, f"after allocate({size}) that does not fit")


@pytest.mark.clauses("ALLOC-3")
@pytest.mark.oracle("header")
@pytest.mark.needs("allocate")
def test_planted_full_table_is_null(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, HEADER_SIZE + 8 * MAX_ALLOCS + 1024)
    seg.map.plant_table([(HEADER_SIZE + 8 * i, 8) for i in range(MAX_ALLOCS)])
    before = seg.map.header_bytes(full=True)
    assert ok(peer, "allocate", segment=seg.handle(peer), size=8)["offset"] is None
    assert_unchanged(seg, before, "allocate on a full table")


@pytest.mark.clauses("ALLOC-6", "ERR-1")
@pytest.mark.oracle("error-kind")
@pytest.mark.needs("allocate", "shrink")
def test_shrink_rejections(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    offset = ok(peer, "allocate", segment=seg.handle(peer), size=1000)["offset"]
    before = seg.map.header_bytes(full=True)
    rejects(peer, ["bad_request"], "shrink", segment=seg.handle(peer), offset=offset, length=1001)
    rejects(peer, ["bad_request"], "shrink", segment=seg.handle(peer), offset=offset, length=0)
    rejects(peer, ["no_allocation"], "shrink", segment=seg.handle(peer), offset=offset + 8, length=10)
    assert_unchanged(seg, before, "after rejected shrinks")


@pytest.mark.clauses("ALLOC-7", "HDR-9")
@pytest.mark.oracle("byte-exact")
@pytest.mark.needs("allocate", "reset")
def test_reset_touches_only_count(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    for size in (100, 200, 300):
        ok(peer, "allocate", segment=seg.handle(peer), size=size)
    before = seg.map.header_bytes(full=True)
    ok(peer, "reset", segment=seg.handle(peer))
    after = seg.map.header_bytes(full=True)
    expected = before[:16] + bytes(4) + before[20:]
    assert after == expected, header_mismatch(expected, after[: len(before)], "after reset")


@pytest.mark.clauses("ALLOC-9", "WRITE-3")
@pytest.mark.oracle("canary")
@pytest.mark.needs("allocate", "shrink", "reset")
def test_table_ops_never_touch_data(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer, SIZE)
    seg.map.fill_data()
    data = seg.map.data()
    h = seg.handle(peer)
    a = ok(peer, "allocate", segment=h, size=1000)["offset"]
    b = ok(peer, "allocate", segment=h, size=2000)["offset"]
    ok(peer, "shrink", segment=h, offset=b, length=10)
    ok(peer, "free", segment=h, offset=a)
    ok(peer, "reset", segment=h)
    assert seg.map.data() == data, "ALLOC-9: a table operation wrote into the data region"
