"""Generated batches through a real segment (WRITE-*, PTR-*) and generated bad input (ERR-1, ERR-2).

The expected region bytes come from pyarrow's stock stream writer, expected
table contents from the test's own header codec, and validity of corrupted
headers and pointers from the SPEC's rules restated here.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vgis import pointer, region
from vgis.errors import BadHeader, BadPointer, IpcError, OutOfBounds, VgisError
from vgis.segment import Segment
from vgis_conformance.strategies import record_batches
from vgis_conformance.testkit import ShmFactory, pack_header, raw_entries

HEADER = 65_536
DATA = 256 * 1024
FILL = 0xA5
OFFSET = b"vgi_rpc.shm_offset"
LENGTH = b"vgi_rpc.shm_length"
SOURCE = b"vgi_rpc.shm_source"
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected_region(batch: Any) -> bytes:
    """FRAME-1/3 region bytes built from a pyarrow stream by slicing off schema and EOS."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    stream = bytes(sink.getvalue().to_pybytes())
    if not any(pa.types.is_dictionary(f.type) for f in batch.schema):
        return stream
    metadata_length = int.from_bytes(stream[4:8], "little")
    return stream[8 + metadata_length : -8]


def canonical(raw: bytes) -> int:
    assert re.fullmatch(rb"0|[1-9][0-9]*", raw), raw
    return int(raw)


@SETTINGS
@given(batch=record_batches(), lead=st.integers(0, 2_000), hole=st.booleans())
def test_WRITE_PTR_generated_batches_round_trip(shm_session: ShmFactory, batch: Any, lead: int, hole: bool) -> None:
    with shm_session.fresh(HEADER + DATA) as seg:
        seg.buf[HEADER:] = bytes([FILL]) * DATA
        prior: list[tuple[int, int]] = []
        if lead:
            assert seg.allocator.allocate(lead) == HEADER
            prior.append((HEADER, lead))
            if hole:  # a freed gap in front that is too small for most regions
                assert seg.allocator.allocate(32) == HEADER + lead
                seg.allocator.free(HEADER)
                prior = [(HEADER + lead, 32)]
        before = bytes(seg.buf)
        expected = expected_region(batch)

        # --- WRITE-1..3 and FRAME-9 through write_batch
        placed = region.write_batch(seg, batch)
        assert placed is not None
        offset, length = placed
        assert length == len(expected)
        holed = hole and lead > 0
        first_fit = HEADER if (holed and lead >= length) else (HEADER + lead + (32 if holed else 0))
        assert offset == first_fit
        entries = raw_entries(seg.buf)
        mine = [e for e in entries if e[0] == offset]
        assert len(mine) == 1
        entry_length = mine[0][1]
        assert length <= entry_length  # WRITE-1
        assert entry_length == length  # WRITE-2: the reference shrinks to the region
        assert offset >= HEADER and offset + entry_length <= seg.size
        after = bytes(seg.buf)
        assert after[:HEADER][: 24 + 16 * len(entries)] == pack_header(DATA, sorted([*prior, (offset, length)]))
        assert after[HEADER:offset] == before[HEADER:offset]  # WRITE-3
        assert after[offset + entry_length :] == before[offset + entry_length :]
        assert after[offset : offset + length] == expected
        seg.allocator.free(offset)

        # --- PTR-1..6 through maybe_write and resolve
        out, meta = pointer.maybe_write(batch, {b"user.key": b"v"}, seg)
        assert out.num_rows == 0 and out.schema.equals(batch.schema)
        assert canonical(meta[OFFSET]) == offset  # same table state: same first-fit placement
        assert canonical(meta[LENGTH]) == length
        assert meta[b"user.key"] == b"v"
        assert pointer.is_pointer(out, meta)
        res = pointer.resolve(out, meta, seg)
        assert res.batch.schema.equals(batch.schema)
        assert res.batch.equals(batch)
        assert res.metadata == {b"user.key": b"v", SOURCE: seg.name.encode()}
        assert res.release_offset == offset
        del res
        seg.allocator.free(offset)
        assert raw_entries(seg.buf) == prior
        assert bytes(seg.buf[HEADER:offset]) == before[HEADER:offset]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=record_batches(max_rows=3))
def test_PTR_generated_batches_resolve_from_an_attacher(shm_session: ShmFactory, batch: Any) -> None:
    with shm_session.fresh(HEADER + DATA) as seg:
        out, meta = pointer.maybe_write(batch, None, seg)
        other = Segment.attach(seg.name)
        try:
            res = pointer.resolve(out, meta, other)
            assert res.batch.equals(batch)
            other.allocator.free(res.release_offset or 0)  # PTR-6: the resolver frees
            del res
        finally:
            other.close()
        assert raw_entries(seg.buf) == []


# ------------------------------------------------------- ERR-1: bad headers

fixed_field_bytes = st.lists(
    st.tuples(st.integers(0, 23), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


@SETTINGS
@given(edits=fixed_field_bytes)
def test_ERR_1_corrupted_header_rejected_and_unchanged(shm_session: ShmFactory, edits: list[tuple[int, int]]) -> None:
    with shm_session.fresh(HEADER + 4_096) as seg:
        seg.allocator.allocate(100)
        for at, value in edits:
            seg.buf[at] = value
        raw = bytes(seg.buf[:24])
        valid = (
            raw[0:4] == b"VGIS"
            and int.from_bytes(raw[4:8], "little") == 1
            and int.from_bytes(raw[8:16], "little") == seg.size - HEADER
            and int.from_bytes(raw[16:20], "little") <= 4_094
        )
        before = bytes(seg.buf)
        try:
            other = Segment.attach(seg.name)
        except BadHeader:
            assert not valid
        else:
            other.close()
            assert valid  # only padding (or an equal value) was changed
        assert bytes(seg.buf) == before


# ------------------------------------------------------- ERR-1: bad pointers

decimalish = st.one_of(
    st.integers(0, HEADER + 2 * DATA).map(lambda n: str(n).encode()),
    st.integers(0, 2**64 + 10).map(lambda n: str(n).encode()),
    st.from_regex(rb"\A[ +\-0-9xe_.]{0,6}\Z"),
    st.binary(max_size=4),
)


@SETTINGS
@given(offset_raw=decimalish, length_raw=st.one_of(st.none(), decimalish), near=st.integers(-16, 16))
def test_ERR_1_bad_pointers_rejected_with_right_kind(
    shm_session: ShmFactory, offset_raw: bytes, length_raw: bytes | None, near: int
) -> None:
    batch = pa.record_batch([pa.array([1, 2, 3], pa.int64())], names=["x"])
    with shm_session.fresh(HEADER + DATA) as seg:
        seg.buf[HEADER:] = bytes([FILL]) * DATA
        assert seg.allocator.allocate(64) == HEADER
        placed = region.write_batch(seg, batch)
        assert placed is not None
        start, size = placed
        if near and length_raw is not None:  # aim at the region itself, give or take
            offset_raw = str(start).encode()
            length_raw = str(max(0, size + near)).encode()
        meta = {OFFSET: offset_raw}
        if length_raw is not None:
            meta[LENGTH] = length_raw

        def parse(raw: bytes | None) -> int | None:
            if raw is None or re.fullmatch(rb"0|[1-9][0-9]*", raw) is None or int(raw) >= 2**64:
                return None
            return int(raw)

        offset, length = parse(offset_raw), parse(length_raw)
        expected: tuple[type[VgisError], ...] | None
        if offset is None or length is None:
            expected = (BadPointer,)
        elif offset < HEADER or offset + length > seg.size:
            expected = (OutOfBounds,)
        elif offset == start and length >= size:
            expected = None  # FRAME-6: bytes after the region are ignored
        elif offset == start and length >= size - 8:
            expected = None  # only (part of) the EOS is cut: the batch is whole
        else:
            expected = (IpcError,)
        before = bytes(seg.buf[:HEADER])
        empty = pointer.empty_batch(batch.schema)
        try:
            res = pointer.resolve(empty, meta, seg)
        except VgisError as exc:
            assert expected is not None, f"rejected a valid pointer: {exc}"
            assert isinstance(exc, expected), f"{type(exc).__name__} not in {expected}: {exc}"
        else:
            assert expected is None, f"accepted {meta}"
            assert res.batch.equals(batch)
            del res
        assert bytes(seg.buf[:HEADER]) == before


@pytest.mark.parametrize("cut", range(1, 9))
def test_FRAME_6_stream_region_without_its_eos_still_decodes(segment: Segment, cut: int) -> None:
    batch = pa.record_batch([pa.array([1, 2, 3], pa.int64())], names=["x"])
    placed = region.write_batch(segment, batch)
    assert placed is not None
    empty = pointer.empty_batch(batch.schema)
    meta = {OFFSET: str(placed[0]).encode(), LENGTH: str(placed[1] - cut).encode()}
    assert pointer.resolve(empty, meta, segment).batch.equals(batch)


FRAME_10_BATCHES = [
    pa.record_batch([pa.array([1.5, None, 3.25]), pa.array(["a", "bb", None])], names=["f", "s"]),
    pa.record_batch(
        [pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int16()), ["x", "y"]), pa.array([1, 2, 3])],
        names=["d", "i"],
    ),
    pa.record_batch(
        [pa.StructArray.from_arrays([pa.array([[1], [], [2, 3]], pa.list_(pa.int64()))], names=["l"])], names=["s"]
    ),
]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 63])
@pytest.mark.parametrize("index", range(len(FRAME_10_BATCHES)), ids=["stream", "messages", "nested"])
def test_FRAME_10_regions_at_unaligned_offsets(segment: Segment, k: int, index: int) -> None:
    batch = FRAME_10_BATCHES[index]
    assert segment.allocator.allocate(k) == HEADER
    placed = region.write_batch(segment, batch)
    assert placed is not None and placed[0] == HEADER + k
    out, meta = pointer.make_pointer(batch.schema, *placed)
    res = pointer.resolve(out, meta, segment)
    assert res.batch.equals(batch)
