"""HDR-*: the 65,536-byte header, checked byte by byte against literal values."""

from __future__ import annotations

import os

import pytest

from vgis import header
from vgis.errors import BadHeader
from vgis.segment import Segment
from vgis_conformance.header_diff import field_lines
from vgis_conformance.testkit import ShmFactory, pack_header, raw_entries, raw_num_allocs, shm_path, write_raw_table

GOLDEN_TWO_ENTRY = bytes.fromhex(
    "5647495301000000004000000000000002000000000000000000010000000000640000000000000000010100000000003200000000000000"
)


def test_HDR_golden_two_entry_header(shm: ShmFactory) -> None:
    seg = shm.create(65_536 + 16_384)
    assert seg.allocator.allocate(100) == 65_536
    assert seg.allocator.allocate(156) == 65_636
    assert seg.allocator.allocate(50) == 65_792
    seg.allocator.free(65_636)
    assert bytes(seg.buf[:56]) == GOLDEN_TWO_ENTRY
    assert seg.header_bytes() == GOLDEN_TWO_ENTRY


def test_HDR_golden_matches_independent_encoder() -> None:
    # The test's own encoder agrees with the literal golden bytes.
    assert pack_header(16_384, [(65_536, 100), (65_792, 50)]) == GOLDEN_TWO_ENTRY


def test_HDR_1_header_is_65536_bytes_and_data_starts_after(segment: Segment) -> None:
    assert header.HEADER_SIZE == 65_536
    assert segment.allocator.allocate(1) == 65_536
    assert segment.size - int.from_bytes(segment.buf[8:16], "little") == 65_536


def test_HDR_2_magic(segment: Segment) -> None:
    assert bytes(segment.buf[0:4]) == b"VGIS"


def test_HDR_3_version_little_endian(segment: Segment) -> None:
    assert bytes(segment.buf[4:8]) == b"\x01\x00\x00\x00"


def test_HDR_4_data_size_little_endian_from_object_size(shm: ShmFactory) -> None:
    seg = shm.create(65_536 + 0x1234)
    assert bytes(seg.buf[8:16]) == b"\x34\x12\x00\x00\x00\x00\x00\x00"
    assert os.stat(shm_path(seg.name)).st_size == 65_536 + 0x1234


def test_HDR_5_num_allocs_little_endian(shm: ShmFactory) -> None:
    seg = shm.create(65_536 + 1_000)
    assert bytes(seg.buf[16:20]) == b"\x00\x00\x00\x00"
    for _ in range(300):
        assert seg.allocator.allocate(1) is not None
    assert bytes(seg.buf[16:20]) == b"\x2c\x01\x00\x00"
    assert header.MAX_ALLOCS == 4_094


@pytest.mark.parametrize("count, ok", [(4_094, True), (4_095, False), (0xFFFF_FFFF, False)])
def test_HDR_5_num_allocs_range_on_attach(shm: ShmFactory, count: int, ok: bool) -> None:
    seg = shm.create()
    seg.buf[16:20] = count.to_bytes(4, "little")
    if ok:
        assert shm.attach(seg.name).header().num_allocs == count
    else:
        with pytest.raises(BadHeader):
            shm.attach(seg.name)


def test_HDR_6_padding_written_zero_and_ignored(shm: ShmFactory) -> None:
    seg = shm.create()
    assert bytes(seg.buf[20:24]) == b"\x00\x00\x00\x00"
    seg.buf[20:24] = b"\xde\xad\xbe\xef"
    other = shm.attach(seg.name)
    assert other.allocator.allocate(10) == 65_536
    assert bytes(seg.buf[20:24]) == b"\xde\xad\xbe\xef"  # a table operation leaves padding alone
    assert raw_entries(seg.buf) == [(65_536, 10)]


def test_HDR_7_entry_slots(segment: Segment) -> None:
    segment.allocator.allocate(100)
    segment.allocator.allocate(7)
    assert bytes(segment.buf[24:40]) == bytes.fromhex("00000100000000006400000000000000")
    assert bytes(segment.buf[40:56]) == bytes.fromhex("64000100000000000700000000000000")
    # The last slot ends inside the header.
    assert 24 + 16 * header.MAX_ALLOCS <= 65_536 < 24 + 16 * (header.MAX_ALLOCS + 1)


def test_HDR_8_offsets_are_absolute(segment: Segment) -> None:
    offset = segment.allocator.allocate(16)
    assert offset == 65_536
    assert int.from_bytes(segment.buf[24:32], "little") == 65_536


def test_HDR_9_stale_entries_past_num_allocs_are_ignored(segment: Segment) -> None:
    # Slot 0 is live; slots 1..3 hold stale garbage covering the whole data region.
    write_raw_table(segment.buf, [(65_536, 8), (65_536, 1 << 40), (0, 1 << 60), (65_544, 1)], num_allocs=1)
    assert segment.header().entries == ((65_536, 8),)
    assert segment.allocator.entries() == [(65_536, 8)]
    assert segment.allocator.allocate(4) == 65_544
    assert segment.header_bytes() == pack_header(segment.size - 65_536, [(65_536, 8), (65_544, 4)])


def test_HDR_9_data_bytes_are_never_zeroed(segment: Segment) -> None:
    data = segment.buf[65_536:]
    data[:] = b"\xab" * len(data)
    try:
        first = segment.allocator.allocate(100)
        second = segment.allocator.allocate(200)
        assert first is not None and second is not None
        segment.allocator.shrink(second, 50)
        segment.allocator.free(first)
        segment.allocator.reset()
        assert bytes(data) == b"\xab" * len(data)
    finally:
        data.release()


def test_HDR_9_meaningful_length(segment: Segment) -> None:
    assert header.meaningful_length(0) == 24
    assert header.meaningful_length(3) == 72
    assert header.meaningful_length(10_000) == 65_528
    assert segment.header_bytes() == pack_header(segment.size - 65_536, [])


def test_HDR_10_table_stays_sorted(segment: Segment) -> None:
    a = segment.allocator
    assert [a.allocate(n) for n in (100, 200, 300)] == [65_536, 65_636, 65_836]
    a.free(65_536)
    a.free(65_836)
    assert a.allocate(50) == 65_536
    assert a.allocate(60) == 65_836
    assert a.allocate(40) == 65_586
    entries = raw_entries(segment.buf)
    assert entries == [(65_536, 50), (65_586, 40), (65_636, 200), (65_836, 60)]


def test_HDR_decode_reads_fields_without_validating() -> None:
    raw = pack_header(99, [(1, 2), (3, 4)], magic=b"NOPE", version=7, padding=5)
    decoded = header.decode(raw)
    assert (decoded.magic, decoded.version, decoded.data_size, decoded.num_allocs, decoded.padding) == (
        b"NOPE",
        7,
        99,
        2,
        5,
    )
    assert decoded.entries == ((1, 2), (3, 4))
    assert decoded.encode() == raw


def test_HDR_field_diff_names_the_changed_fields() -> None:
    want = pack_header(16_384, [(65_536, 100)])
    got = pack_header(16_384, [(65_536, 101)], version=2)
    lines = field_lines(want, got)
    assert [line.split(" @ byte ")[0] for line in lines] == ["version", "entries[0].length"]
    assert [int(line.split(" @ byte ")[1].split()[0]) for line in lines] == [4, 32]
    assert field_lines(want, want) == []


def test_HDR_num_allocs_reads_little_endian(segment: Segment) -> None:
    segment.buf[16:20] = b"\x01\x02\x00\x00"
    assert raw_num_allocs(segment.buf) == 0x0201
    assert segment.allocator.num_allocs == 0x0201
