"""PTR-*, ADV-1, WRITE-4..6 and ERR-1: pointer batches and their metadata."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pyarrow as pa
import pytest

from vgis import encoding, pointer, region
from vgis.errors import BadPointer, InvalidArgument, IpcError, OutOfBounds, SchemaMismatch, VgisError
from vgis.segment import Segment
from vgis_conformance.testkit import ShmFactory, raw_entries, raw_num_allocs

OFFSET = b"vgi_rpc.shm_offset"
LENGTH = b"vgi_rpc.shm_length"
SOURCE = b"vgi_rpc.shm_source"
LOG_LEVEL = b"vgi_rpc.log_level"
U64_MAX = 2**64 - 1

BATCH = pa.record_batch([pa.array([1, 2, 3], pa.int64()), pa.array(["a", None, "c"])], names=["i", "s"])
DICT_BATCH = pa.record_batch(
    [pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int8()), ["x", "y"]), pa.array([1, 2, 3], pa.int64())],
    names=["d", "i"],
)


def assert_rejected(seg: Segment, error: type[VgisError], call: Callable[[], object]) -> VgisError:
    """``call`` raises exactly ``error`` (ERR-2) and the header is unchanged (ERR-1)."""
    before = bytes(seg.buf[:65_536])
    with pytest.raises(VgisError) as info:
        call()
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}: {info.value}"
    assert bytes(seg.buf[:65_536]) == before
    return info.value


def written(seg: Segment, batch: Any = BATCH) -> tuple[int, int]:
    placed = region.write_batch(seg, batch)
    assert placed is not None
    return placed


def md(offset: bytes | int, length: bytes | int, **extra: bytes) -> dict[bytes, bytes]:
    meta = {
        OFFSET: offset if isinstance(offset, bytes) else str(offset).encode(),
        LENGTH: length if isinstance(length, bytes) else str(length).encode(),
    }
    meta.update({k.encode(): v for k, v in extra.items()})
    return meta


# --------------------------------------------------------------- PTR-1/2


def test_PTR_1_2_make_pointer() -> None:
    batch, meta = pointer.make_pointer(BATCH.schema, 65_536, 472)
    assert batch.num_rows == 0
    assert batch.schema.equals(BATCH.schema)
    assert meta == {OFFSET: b"65536", LENGTH: b"472"}


def test_PTR_1_pointer_of_union_schema() -> None:
    union = pa.UnionArray.from_sparse(pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])])
    schema = pa.schema([("u", union.type)])
    batch, _ = pointer.make_pointer(schema, 65_536, 8)
    assert batch.num_rows == 0 and batch.schema.equals(schema)


@pytest.mark.parametrize("value, text", [(0, b"0"), (7, b"7"), (65_536, b"65536"), (U64_MAX, b"18446744073709551615")])
def test_PTR_2_encode_canonical_decimal(value: int, text: bytes) -> None:
    assert pointer.encode_decimal(value) == text


@pytest.mark.parametrize("value", [-1, 2**64])
def test_PTR_2_encode_rejects_non_u64(value: int) -> None:
    with pytest.raises(BadPointer):
        pointer.encode_decimal(value)


# --------------------------------------------------------------- PTR-8 table

ACCEPT = [(b"0", 0), (b"5", 5), (b"10", 10), (b"65536", 65_536), (b"18446744073709551615", U64_MAX)]
REJECT = [
    b"+5",
    b" 5",
    b"05",
    b"00",
    b"0x10",
    b"",
    b"-1",
    b"-0",
    b"5 ",
    b"5\n",
    b"\t5",
    b"1_0",
    b"1e3",
    b"5.0",
    b"\xd9\xa5",  # ARABIC-INDIC DIGIT FIVE: int() would take it
    b"\xef\xbc\x95",  # FULLWIDTH DIGIT FIVE
    str(2**64).encode(),
    b"99999999999999999999999",
]


@pytest.mark.parametrize("raw, value", ACCEPT, ids=[a.decode() for a, _ in ACCEPT])
def test_PTR_8_canonical_decimal_accepted(raw: bytes, value: int) -> None:
    assert pointer.parse_decimal(raw, OFFSET) == value


@pytest.mark.parametrize("raw", REJECT, ids=[repr(r) for r in REJECT])
def test_PTR_8_non_canonical_decimal_rejected(raw: bytes) -> None:
    with pytest.raises(BadPointer):
        pointer.parse_decimal(raw, OFFSET)


@pytest.mark.parametrize("raw", REJECT, ids=[repr(r) for r in REJECT])
@pytest.mark.parametrize("key", ["offset", "length"])
def test_PTR_8_resolve_rejects_non_canonical(segment: Segment, raw: bytes, key: str) -> None:
    offset, length = written(segment)
    meta = md(raw, length) if key == "offset" else md(offset, raw)
    empty, _ = pointer.make_pointer(BATCH.schema, offset, length)
    assert_rejected(segment, BadPointer, lambda: pointer.resolve(empty, meta, segment))


def test_PTR_8_missing_length_rejected(segment: Segment) -> None:
    offset, _ = written(segment)
    empty = pointer.empty_batch(BATCH.schema)
    assert_rejected(segment, BadPointer, lambda: pointer.resolve(empty, {OFFSET: str(offset).encode()}, segment))


def test_PTR_8_canonical_values_resolve(segment: Segment) -> None:
    offset, length = written(segment)
    empty = pointer.empty_batch(BATCH.schema)
    assert pointer.resolve(empty, md(offset, length), segment).batch.equals(BATCH)


# --------------------------------------------------------------- PTR-3


@pytest.mark.parametrize(
    "rows, meta, expected",
    [
        (0, {OFFSET: b"65536", LENGTH: b"8"}, True),
        (0, {OFFSET: b"65536"}, True),  # a pointer, though a bad one (PTR-8)
        (0, {OFFSET: b"junk", LENGTH: b"8"}, True),
        (0, {OFFSET: b"65536", LENGTH: b"8", LOG_LEVEL: b"INFO"}, False),
        (0, {OFFSET: b"65536", LENGTH: b"8", LOG_LEVEL: b""}, False),
        (0, {LENGTH: b"8"}, False),
        (0, {}, False),
        (0, None, False),
        (1, {OFFSET: b"65536", LENGTH: b"8"}, False),
    ],
)
def test_PTR_3_is_pointer(rows: int, meta: dict[bytes, bytes] | None, expected: bool) -> None:
    batch = BATCH.slice(0, rows)
    assert pointer.is_pointer(batch, meta) is expected


def test_PTR_3_log_batch_is_not_resolved(segment: Segment) -> None:
    offset, length = written(segment)
    empty = pointer.empty_batch(BATCH.schema)
    meta = md(offset, length, **{"vgi_rpc.log_level": b"WARN", "vgi_rpc.log_message": b"hi"})
    before = bytes(segment.buf[:65_536])
    res = pointer.resolve(empty, meta, segment)
    assert res.batch is empty
    assert res.metadata == meta
    assert res.release_offset is None
    assert bytes(segment.buf[:65_536]) == before


# --------------------------------------------------------------- PTR-4/5/6/7


def test_PTR_4_maybe_write_keeps_other_keys_pointer_keys_win(segment: Segment) -> None:
    segment.allocator.allocate(10)
    meta = {b"app.state": b"7", OFFSET: b"1", LENGTH: b"2", b"x": b""}
    out, out_meta = pointer.maybe_write(BATCH, meta, segment)
    expected_length = len(encoding.encode_region(BATCH))
    assert out.num_rows == 0 and out.schema.equals(BATCH.schema)
    assert out_meta == {b"app.state": b"7", OFFSET: b"65546", LENGTH: str(expected_length).encode(), b"x": b""}
    assert meta == {b"app.state": b"7", OFFSET: b"1", LENGTH: b"2", b"x": b""}  # caller's dict untouched
    assert raw_entries(segment.buf) == [(65_536, 10), (65_546, expected_length)]


def test_PTR_5_6_resolve_replaces_source_and_releases_by_offset(shm: ShmFactory) -> None:
    seg = shm.create()
    out, meta = pointer.maybe_write(BATCH, {b"keep": b"me", SOURCE: b"/somewhere-else"}, seg)
    assert meta[SOURCE] == b"/somewhere-else"  # writing does not touch it
    res = pointer.resolve(out, meta, seg)
    assert res.batch.equals(BATCH)
    assert res.metadata == {b"keep": b"me", SOURCE: seg.name.encode()}
    assert res.release_offset == 65_536
    # Attached under another mapping (the usual reader), the result is the same.
    other = shm.attach(seg.name)
    res2 = pointer.resolve(out, meta, other)
    assert res2.batch.equals(BATCH)
    assert res2.metadata[SOURCE] == other.name.encode()
    assert list(res2.metadata).count(SOURCE) == 1
    seg.allocator.free(res.release_offset)
    assert raw_num_allocs(seg.buf) == 0


def test_PTR_5_resolved_metadata_survives_arrow_round_trip(segment: Segment) -> None:
    out, meta = pointer.maybe_write(BATCH, {SOURCE: b"old", b"k": b"v"}, segment)
    res = pointer.resolve(out, meta, segment)
    kv = pa.KeyValueMetadata(res.metadata)
    assert kv.get_all(SOURCE) == [segment.name.encode()]
    assert OFFSET not in kv and LENGTH not in kv


@pytest.mark.parametrize("meta", [None, {}, {b"a": b"b"}, {SOURCE: b"x"}])
def test_PTR_7_non_pointer_passes_through(segment: Segment, meta: dict[bytes, bytes] | None) -> None:
    before = bytes(segment.buf[:65_536])
    res = pointer.resolve(BATCH, meta, segment)
    assert res.batch is BATCH
    assert res.metadata == (meta or {})
    assert res.release_offset is None
    assert bytes(segment.buf[:65_536]) == before


# --------------------------------------------------------------- PTR-9


def oob_cases(size: int, offset: int, length: int) -> list[tuple[str, int, int]]:
    return [
        ("offset-0", 0, length),
        ("offset-in-fixed-fields", 16, 8),
        ("offset-last-header-byte", 65_535, length),
        ("end-one-past-segment", offset, size - offset + 1),
        ("offset-at-end", size, 1),
        ("offset-past-end", size + 1, 0),
        ("offset-u64-max", U64_MAX, 1),
        ("length-u64-max", offset, U64_MAX),
        ("sum-overflows-u64", 2**63, 2**63),
        ("sum-is-exactly-2^64", 65_536, 2**64 - 65_536),
    ]


def test_PTR_9_out_of_bounds(segment: Segment) -> None:
    offset, length = written(segment)
    empty = pointer.empty_batch(BATCH.schema)
    for case, o, n in oob_cases(segment.size, offset, length):
        exc = assert_rejected(segment, OutOfBounds, partial(pointer.resolve, empty, md(o, n), segment))
        assert exc.kind == "out_of_bounds", case


def test_PTR_9_region_ending_exactly_at_segment_end_is_in_bounds(shm: ShmFactory) -> None:
    length = len(encoding.encode_region(BATCH))
    seg = shm.create(65_536 + length)
    assert region.write_batch(seg, BATCH) == (65_536, length)
    empty = pointer.empty_batch(BATCH.schema)
    assert pointer.resolve(empty, md(65_536, length), seg).batch.equals(BATCH)


# --------------------------------------------------------------- PTR-10/11


@pytest.mark.parametrize("batch", [BATCH, DICT_BATCH], ids=["stream", "messages"])
def test_PTR_10_truncated_region_is_ipc_error(segment: Segment, batch: Any) -> None:
    offset, length = written(segment, batch)
    empty = pointer.empty_batch(batch.schema)
    for short in (0, 1, 8, length // 2, length - 9):
        assert_rejected(segment, IpcError, partial(pointer.resolve, empty, md(offset, short), segment))


def test_PTR_10_garbage_region_is_ipc_error(segment: Segment) -> None:
    offset = segment.allocator.allocate(256)
    assert offset is not None
    segment.buf[offset : offset + 256] = bytes(range(256))
    for batch in (BATCH, DICT_BATCH):
        empty = pointer.empty_batch(batch.schema)
        assert_rejected(segment, IpcError, partial(pointer.resolve, empty, md(offset, 256), segment))


def test_PTR_10_offset_not_at_region_start_is_ipc_error(segment: Segment) -> None:
    offset, length = written(segment)
    empty = pointer.empty_batch(BATCH.schema)
    assert_rejected(segment, IpcError, lambda: pointer.resolve(empty, md(offset + 8, length - 8), segment))


@pytest.mark.parametrize(
    "other",
    [
        pa.schema([("i", pa.int32()), ("s", pa.string())]),
        pa.schema([("j", pa.int64()), ("s", pa.string())]),
        pa.schema([("i", pa.int64())]),
        pa.schema([("i", pa.int64()), ("s", pa.large_string())]),
    ],
    ids=["type", "name", "fewer-fields", "string-width"],
)
def test_PTR_11_schema_mismatch(segment: Segment, other: Any) -> None:
    offset, length = written(segment)
    empty = pointer.empty_batch(other)
    assert_rejected(segment, SchemaMismatch, lambda: pointer.resolve(empty, md(offset, length), segment))


def test_PTR_11_dictionary_framing_mismatch_is_rejected(segment: Segment) -> None:
    # The dictionary framing carries no schema: a mismatch can only surface as
    # bytes that do not decode under the pointer's schema. The reference must
    # still reject it with a typed error (ipc_error or schema_mismatch).
    offset, length = written(segment, DICT_BATCH)
    other = pa.schema([("d", pa.dictionary(pa.int8(), pa.string())), ("i", pa.list_(pa.int64()))])
    empty = pointer.empty_batch(other)
    before = bytes(segment.buf[:65_536])
    with pytest.raises((IpcError, SchemaMismatch)):
        pointer.resolve(empty, md(offset, length), segment)
    assert bytes(segment.buf[:65_536]) == before


# --------------------------------------------------------------- WRITE-4..6


def test_WRITE_4_zero_row_batch_is_never_written(segment: Segment) -> None:
    empty = BATCH.slice(0, 0)
    before = bytes(segment.buf)
    out, meta = pointer.maybe_write(empty, {b"a": b"b"}, segment)
    assert out is empty and meta == {b"a": b"b"}
    assert bytes(segment.buf) == before
    exc = assert_rejected(segment, InvalidArgument, lambda: region.write_batch(segment, empty))
    assert exc.kind == "bad_request"


def test_WRITE_5_size_gate(segment: Segment) -> None:
    out, _ = pointer.maybe_write(BATCH, None, segment, min_bytes=BATCH.nbytes + 1)
    assert out is BATCH
    assert raw_num_allocs(segment.buf) == 0
    out, _ = pointer.maybe_write(BATCH, None, segment, min_bytes=BATCH.nbytes)
    assert out.num_rows == 0
    assert raw_num_allocs(segment.buf) == 1


@pytest.mark.parametrize("batch", [BATCH, DICT_BATCH], ids=["stream", "messages"])
def test_WRITE_6_batch_that_does_not_fit(shm: ShmFactory, batch: Any) -> None:
    need = len(encoding.encode_region(batch))
    seg = shm.create(65_536 + need - 1)
    seg.buf[65_536:] = b"\x77" * (need - 1)
    before = bytes(seg.buf)
    assert region.write_batch(seg, batch) is None
    out, meta = pointer.maybe_write(batch, {b"k": b"v"}, seg)
    assert out is batch and meta == {b"k": b"v"}
    assert bytes(seg.buf) == before  # no entry left behind, no byte written


def test_WRITE_6_fits_exactly(shm: ShmFactory) -> None:
    need = len(encoding.encode_region(BATCH))
    seg = shm.create(65_536 + need)
    out, meta = pointer.maybe_write(BATCH, None, seg)
    assert meta == md(65_536, need)
    assert out.num_rows == 0


# --------------------------------------------------------------- ADV-1


def test_ADV_1_advertise(shm: ShmFactory) -> None:
    seg = shm.create(65_536 + 1_000)
    assert pointer.advertise(seg) == {
        b"vgi_rpc.shm_segment_name": seg.name.encode(),
        b"vgi_rpc.shm_segment_size": b"66536",
    }
