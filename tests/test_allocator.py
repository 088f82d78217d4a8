"""ALLOC-*: the first-fit allocator whose whole state is the header's entry table.

Expected placements are literal numbers or come from ``TableModel``, a plain
sorted-list first-fit written here from the SPEC text, never from vgis code.
"""

from __future__ import annotations

import bisect
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vgis.errors import BadHeader, InvalidArgument, NoAllocation
from vgis.segment import Segment
from vgis_conformance.testkit import ShmFactory, pack_header, raw_entries, raw_num_allocs, write_raw_table

HEADER = 65_536
MAX_ALLOCS = 4_094
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def snapshot(seg: Segment) -> bytes:
    return bytes(seg.buf)


def changed_ranges(before: bytes, after: bytes) -> list[int]:
    """Indices of every byte that differs."""
    return [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]


def assert_only_table_bytes_changed(before: bytes, after: bytes) -> None:
    """ALLOC-8/9: only num_allocs (16..20) and entry slots (24..65528) may change."""
    assert len(before) == len(after)
    assert after[:16] == before[:16], "magic, version or data_size changed"
    assert after[20:24] == before[20:24], "padding changed"
    end = 24 + 16 * MAX_ALLOCS
    assert after[end:HEADER] == before[end:HEADER], "bytes past the last slot changed"
    assert after[HEADER:] == before[HEADER:], "data region changed"


# --------------------------------------------------------------- unit tests


def test_ALLOC_1_first_fit_from_header_end(segment: Segment) -> None:
    a = segment.allocator
    assert a.allocate(10) == 65_536
    assert a.allocate(20) == 65_546
    assert a.allocate(30) == 65_566


def test_ALLOC_1_gap_reuse_before_between_after(segment: Segment) -> None:
    a = segment.allocator
    offsets = [a.allocate(100) for _ in range(5)]
    assert offsets == [65_536, 65_636, 65_736, 65_836, 65_936]
    a.free(65_536)  # gap before the first entry
    a.free(65_736)  # gap between entries
    assert a.allocate(101) == 66_036  # neither 100-byte gap fits: after the last
    assert a.allocate(100) == 65_536  # exactly fills the first gap
    assert a.allocate(60) == 65_736
    assert a.allocate(40) == 65_796  # the rest of the middle gap
    assert a.allocate(1) == 66_137
    assert raw_entries(segment.buf) == [
        (65_536, 100),
        (65_636, 100),
        (65_736, 60),
        (65_796, 40),
        (65_836, 100),
        (65_936, 100),
        (66_036, 101),
        (66_137, 1),
    ]


def test_ALLOC_1_last_gap_reaches_exactly_the_end(shm: ShmFactory) -> None:
    seg = shm.create(HEADER + 1_000)
    assert seg.allocator.allocate(1_001) is None
    assert seg.allocator.allocate(1_000) == 65_536
    assert seg.allocator.allocate(1) is None


def test_ALLOC_2_insert_in_order_others_unchanged(segment: Segment) -> None:
    a = segment.allocator
    for n in (10, 20, 30):
        a.allocate(n)
    a.free(65_546)
    before = raw_entries(segment.buf)
    assert a.allocate(5) == 65_546
    assert raw_entries(segment.buf) == [before[0], (65_546, 5), before[1]]
    assert raw_num_allocs(segment.buf) == 3


def test_ALLOC_3_full_table_returns_none_and_leaves_header(shm: ShmFactory) -> None:
    seg = shm.create(HEADER + 3 * MAX_ALLOCS)
    # 4,093 one-byte entries every 2 bytes, written raw (the API path is O(n^2)).
    write_raw_table(seg.buf, [(HEADER + 2 * i, 1) for i in range(MAX_ALLOCS - 1)])
    # No 1-byte gap holds 2 bytes: placed after the last entry (offset 65,536 + 8,184, length 1).
    assert seg.allocator.allocate(2) == HEADER + 8_185
    assert raw_num_allocs(seg.buf) == MAX_ALLOCS
    before = snapshot(seg)
    assert seg.allocator.allocate(1) is None  # gaps of 1 byte remain, the table is full
    assert snapshot(seg) == before


def test_ALLOC_3_no_gap_returns_none_and_leaves_header(shm: ShmFactory) -> None:
    seg = shm.create(HEADER + 300)
    a = seg.allocator
    assert [a.allocate(100) for _ in range(3)] == [65_536, 65_636, 65_736]
    a.free(65_636)
    before = snapshot(seg)
    assert a.allocate(101) is None
    assert a.allocate(10**12) is None
    assert snapshot(seg) == before


@pytest.mark.parametrize("size", [0, -1])
def test_ALLOC_4_zero_size_creates_no_entry(segment: Segment, size: int) -> None:
    segment.allocator.allocate(8)
    before = snapshot(segment)
    try:
        result = segment.allocator.allocate(size)
    except InvalidArgument as exc:
        assert exc.kind == "bad_request"
    else:
        assert result is None
    assert snapshot(segment) == before


def test_ALLOC_5_free_removes_exact_entry_keeps_order(segment: Segment) -> None:
    a = segment.allocator
    for n in (10, 20, 30, 40):
        a.allocate(n)
    a.free(65_546)
    assert raw_entries(segment.buf) == [(65_536, 10), (65_566, 30), (65_596, 40)]
    a.free(65_596)
    assert raw_entries(segment.buf) == [(65_536, 10), (65_566, 30)]
    a.free(65_536)
    assert raw_entries(segment.buf) == [(65_566, 30)]


@pytest.mark.parametrize("offset", [0, 65_535, 65_537, 65_545, 65_556, 1 << 63])
def test_ALLOC_5_free_unknown_offset(segment: Segment, offset: int) -> None:
    segment.allocator.allocate(10)
    segment.allocator.allocate(10)
    before = snapshot(segment)
    with pytest.raises(NoAllocation) as info:
        segment.allocator.free(offset)
    assert info.value.kind == "no_allocation"
    assert snapshot(segment) == before


def test_ALLOC_5_free_twice(segment: Segment) -> None:
    segment.allocator.allocate(10)
    segment.allocator.free(65_536)
    with pytest.raises(NoAllocation):
        segment.allocator.free(65_536)


def test_ALLOC_6_shrink_rules(segment: Segment) -> None:
    a = segment.allocator
    a.allocate(100)
    a.allocate(50)
    a.shrink(65_536, 100)  # to the current length: allowed, no change
    assert raw_entries(segment.buf) == [(65_536, 100), (65_636, 50)]
    a.shrink(65_536, 40)
    assert raw_entries(segment.buf) == [(65_536, 40), (65_636, 50)]
    assert raw_num_allocs(segment.buf) == 2
    a.shrink(65_536, 1)
    assert raw_entries(segment.buf) == [(65_536, 1), (65_636, 50)]
    assert a.allocate(99) == 65_537  # the released tail is a gap again
    assert a.allocate(1) == 65_686


@pytest.mark.parametrize(
    "offset, length, error",
    [
        (65_536, 0, InvalidArgument),
        (65_536, 101, InvalidArgument),
        (65_536, -1, InvalidArgument),
        (65_537, 10, NoAllocation),
        (0, 1, NoAllocation),
    ],
)
def test_ALLOC_6_shrink_errors_leave_header(segment: Segment, offset: int, length: int, error: type[Exception]) -> None:
    segment.allocator.allocate(100)
    before = snapshot(segment)
    with pytest.raises(error):
        segment.allocator.shrink(offset, length)
    assert snapshot(segment) == before


def test_ALLOC_6_shrink_only_touches_the_length_field(segment: Segment) -> None:
    for n in (10, 20, 30):
        segment.allocator.allocate(n)
    before = snapshot(segment)
    segment.allocator.shrink(65_546, 7)
    # entry 1's length field is bytes 48..56; 7 fits in its first byte.
    assert changed_ranges(before, snapshot(segment)) == [48]


def test_ALLOC_7_reset_sets_num_allocs_only(segment: Segment) -> None:
    for n in (10, 20, 30):
        segment.allocator.allocate(n)
    segment.buf[20:24] = b"\x01\x02\x03\x04"
    before = snapshot(segment)
    segment.allocator.reset()
    after = snapshot(segment)
    assert changed_ranges(before, after) == [16]
    assert after[16:20] == b"\x00\x00\x00\x00"
    assert segment.allocator.allocate(5) == 65_536


def test_ALLOC_9_table_operations_never_touch_data(segment: Segment) -> None:
    segment.buf[HEADER:] = bytes(range(256)) * ((segment.size - HEADER) // 256)
    before = snapshot(segment)
    a = segment.allocator
    a.allocate(10)
    a.allocate(20)
    a.shrink(65_546, 3)
    a.free(65_536)
    a.reset()
    assert_only_table_bytes_changed(before, snapshot(segment))
    assert snapshot(segment)[HEADER:] == before[HEADER:]


# ----------------------------------------------------- defensive (ALLOC-8)


def _check_placement(entries: list[tuple[int, int]], offset: int | None, size: int, total: int) -> None:
    if offset is None:
        return
    assert offset >= HEADER and offset + size <= total, f"{offset}+{size} out of [{HEADER}, {total})"
    for o, length in entries:
        # ALLOC-8: each listed entry occupies the bytes it claims; a zero-length one occupies none.
        assert offset + size <= o or o + length <= offset, f"{offset}+{size} overlaps listed entry {o}+{length}"


@pytest.mark.parametrize(
    "entries, expected",
    [
        pytest.param([(65_736, 100), (65_536, 100)], 65_636, id="unsorted"),
        pytest.param([(65_536, 300), (65_636, 50)], 65_836, id="overlapping"),
        pytest.param([(65_536, 100), (65_600, 10)], 65_636, id="nested"),
        pytest.param([(65_536, 100), (10**9, 5)], 65_636, id="entry-past-end"),
        pytest.param([(100, 65_500)], 65_600, id="entry-inside-header"),
        pytest.param([(0, 1 << 63), (65_536, 8)], None, id="entry-covering-everything"),
        pytest.param([((1 << 64) - 1, (1 << 64) - 1)], 65_536, id="entry-overflowing-u64"),
        # ALLOC-8: "a zero-length entry occupies no byte, so a new entry may start at its offset".
        pytest.param([(65_536, 0), (65_537, 0)], 65_537, id="zero-length-entries"),
        pytest.param([(65_536, 0), (65_600, 0)], 65_600, id="zero-length-entries-apart"),
    ],
)
def test_ALLOC_8_defensive_tables(shm: ShmFactory, entries: list[tuple[int, int]], expected: int | None) -> None:
    seg = shm.create(HEADER + 4_096)
    write_raw_table(seg.buf, entries)
    before = snapshot(seg)
    offset = seg.allocator.allocate(100)
    assert offset == expected
    _check_placement(entries, offset, 100, seg.size)
    after = snapshot(seg)
    assert_only_table_bytes_changed(before, after)
    if offset is None:
        assert after == before
    else:
        assert sorted(raw_entries(after)) == sorted([*entries, (offset, 100)])


@pytest.mark.parametrize("count", [4_095, 5_000, 0xFFFF_FFFF])
def test_ALLOC_8_num_allocs_over_capacity(shm: ShmFactory, count: int) -> None:
    seg = shm.create(HEADER + 4_096)
    write_raw_table(seg.buf, [(HEADER + i, 1) for i in range(10)], num_allocs=count)
    before = snapshot(seg)
    assert seg.allocator.allocate(1) is None
    with pytest.raises(BadHeader):
        seg.allocator.free(HEADER)
    with pytest.raises(BadHeader):
        seg.allocator.shrink(HEADER, 1)
    assert snapshot(seg) == before
    assert len(seg.allocator.entries()) == MAX_ALLOCS  # reads stop at the last slot


def test_ALLOC_5_free_of_a_repeated_offset_removes_the_first_slot(segment: Segment) -> None:
    write_raw_table(segment.buf, [(65_600, 5), (65_536, 10), (65_600, 7)])
    segment.allocator.free(65_600)
    assert raw_entries(segment.buf) == [(65_536, 10), (65_600, 7)]


def test_ALLOC_5_free_at_segment_end_is_no_allocation(segment: Segment) -> None:
    segment.allocator.allocate(10)
    before = snapshot(segment)
    with pytest.raises(NoAllocation):
        segment.allocator.free(segment.size)
    assert snapshot(segment) == before


def test_ALLOC_8_free_in_unsorted_table_keeps_the_others(segment: Segment) -> None:
    entries = [(65_736, 10), (65_536, 10), (65_636, 10)]
    write_raw_table(segment.buf, entries)
    segment.allocator.free(65_536)
    assert raw_entries(segment.buf) == [(65_736, 10), (65_636, 10)]


raw_offsets = st.one_of(
    st.integers(0, HEADER + 5_000),
    st.integers(HEADER - 200, HEADER + 200),
    st.integers(0, (1 << 64) - 1),
)
raw_lengths = st.one_of(st.integers(0, 2_000), st.integers(0, (1 << 64) - 1))


@SETTINGS
@given(
    entries=st.lists(st.tuples(raw_offsets, raw_lengths), max_size=12),
    extra=st.integers(0, 3),
    size=st.one_of(st.integers(1, 600), st.integers(1, 1 << 20)),
    data_size=st.integers(1, 4_096),
)
def test_ALLOC_8_hypothesis_foreign_tables(
    shm_session: ShmFactory, entries: list[tuple[int, int]], extra: int, size: int, data_size: int
) -> None:
    """Whatever a foreign peer left, placement stays in bounds and clear of every listed entry.

    ``extra`` counts listed slots beyond the written ones: they read as whatever
    the slot holds (zeros here), which a reader must treat as entries too.
    """
    with shm_session.fresh(HEADER + data_size) as seg:
        write_raw_table(seg.buf, entries, num_allocs=len(entries) + extra)
        listed = raw_entries(seg.buf)
        before = snapshot(seg)
        offset = seg.allocator.allocate(size)
        _check_placement(listed, offset, size, seg.size)
        after = snapshot(seg)
        assert_only_table_bytes_changed(before, after)
        if offset is None:
            assert after == before
        else:
            assert sorted(raw_entries(after)) == sorted([*listed, (offset, size)])
            assert raw_entries(after) == sorted(raw_entries(after))


# ------------------------------------------- model-based (ALLOC-1..7, HDR)


class TableModel:
    """The table as a sorted list of (offset, length); first-fit from byte 65,536."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.entries: list[tuple[int, int]] = []

    def allocate(self, size: int) -> int | None:
        if len(self.entries) == MAX_ALLOCS:
            return None
        cursor = HEADER
        for offset, length in self.entries:
            if offset - cursor >= size:
                break
            cursor = offset + length
        if cursor + size > self.total:
            return None
        bisect.insort(self.entries, (cursor, size))
        return cursor

    def index(self, offset: int) -> int | None:
        for i, (o, _) in enumerate(self.entries):
            if o == offset:
                return i
        return None


Op = tuple[str, int, int]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("allocate"), st.integers(1, 1_500), st.just(0)),
        st.tuples(st.just("allocate"), st.integers(1, 40), st.just(0)),
        st.tuples(st.just("free"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("free_unknown"), st.integers(0, 1 << 20), st.just(0)),
        st.tuples(st.just("shrink"), st.integers(0, 50), st.integers(-1, 1_600)),
        st.tuples(st.just("reset"), st.just(0), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, data_size=st.integers(1, 8_192))
def test_ALLOC_1_to_7_against_model(shm_session: ShmFactory, ops: list[Op], data_size: int) -> None:
    with shm_session.fresh(HEADER + data_size) as seg:
        model = TableModel(seg.size)
        seg.buf[HEADER:] = b"\x5a" * data_size
        a = seg.allocator
        for name, x, y in ops:
            before = snapshot(seg)
            if name == "allocate":
                expected = model.allocate(x)
                assert a.allocate(x) == expected
                if expected is None:
                    assert snapshot(seg) == before  # ALLOC-3
            elif name == "free":
                if not model.entries:
                    continue
                offset, _ = model.entries.pop(x % len(model.entries))
                a.free(offset)
            elif name == "free_unknown":
                if model.index(x) is not None:
                    continue
                with pytest.raises(NoAllocation):
                    a.free(x)
                assert snapshot(seg) == before  # ALLOC-5, ERR-1
            elif name == "shrink":
                if not model.entries:
                    continue
                i = x % len(model.entries)
                offset, current = model.entries[i]
                if 1 <= y <= current:
                    a.shrink(offset, y)
                    model.entries[i] = (offset, y)
                else:
                    with pytest.raises(InvalidArgument):
                        a.shrink(offset, y)
                    assert snapshot(seg) == before  # ALLOC-6, ERR-1
            else:
                a.reset()
                model.entries.clear()
            after = snapshot(seg)
            assert_only_table_bytes_changed(before, after)  # ALLOC-9
            # Exact meaningful header bytes (HDR-2..7, HDR-10).
            expected_header = pack_header(data_size, model.entries)
            assert after[: len(expected_header)] == expected_header
            assert seg.header_bytes() == expected_header
            table = raw_entries(after)
            assert len(table) == len(model.entries)
            for (o1, l1), (o2, _) in itertools.pairwise(table):
                assert o1 + l1 <= o2  # sorted, no overlap
            for o, length in table:
                assert o >= HEADER and o + length <= seg.size
        assert bytes(seg.buf[HEADER:]) == b"\x5a" * data_size
