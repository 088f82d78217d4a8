"""FRAME-*: how a batch is laid out as bytes in a region.

Regions are checked with a message walker written here from the Arrow
encapsulation format (continuation, int32 length, metadata, body), and against
streams written directly with pyarrow's stock stream writer.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vgis import decoding, encoding, framing
from vgis.errors import IpcError, SchemaMismatch
from vgis_conformance.strategies import record_batches

EOS = bytes.fromhex("ffffffff00000000")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stream_bytes(batch: Any, **options: Any) -> bytes:
    """A complete IPC stream of ``batch`` written by pyarrow directly."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batch.schema, options=ipc.IpcWriteOptions(**options)) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def walk(region: bytes) -> tuple[list[dict[str, Any]], int]:
    """Every encapsulated message up to EOS or the end; also where walking stopped."""
    found: list[dict[str, Any]] = []
    pos = 0
    while pos < len(region):
        assert region[pos : pos + 4] == b"\xff\xff\xff\xff", f"no continuation marker at {pos}"
        length = int.from_bytes(region[pos + 4 : pos + 8], "little", signed=True)
        if length == 0:
            found.append({"offset": pos, "type": "eos"})
            return found, pos + 8
        message = ipc.read_message(pa.py_buffer(region[pos:]))
        body = 0 if message.body is None else message.body.size
        found.append(
            {
                "offset": pos,
                "type": message.type,
                "metadata_length": length,
                "body_length": body,
                "version": message.metadata_version,
            }
        )
        pos += 8 + length + body
    return found, pos


def count_dictionaries(dtype: Any) -> int:
    own = 1 if pa.types.is_dictionary(dtype) else 0
    if own:
        return own + count_dictionaries(dtype.value_type)
    return sum(count_dictionaries(dtype.field(i).type) for i in range(dtype.num_fields))


def schema_message_length(stream: bytes) -> int:
    messages, _ = walk(stream)
    assert messages[0]["type"] == "schema"
    return int(8 + messages[0]["metadata_length"] + messages[0]["body_length"])


DICT = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 0], pa.int8()), pa.array(["x", "yy"]))
PLAIN = pa.record_batch([pa.array([1, 2, None, 4]), pa.array(["a", "b", "c", None])], names=["i", "s"])
TOP_DICT = pa.record_batch([pa.array([1, 2, 3, 4]), DICT], names=["i", "d"])
TWO_TOP_DICTS = pa.record_batch([DICT, DICT], names=["d1", "d2"])


def nested_batches() -> list[tuple[str, Any]]:
    offsets = pa.array([0, 1, 3, 3, 4], pa.int32())
    types = pa.array([0, 1, 0, 1], pa.int8())
    return [
        ("struct", pa.StructArray.from_arrays([DICT], names=["d"])),
        ("list", pa.ListArray.from_arrays(offsets, DICT)),
        ("large_list", pa.LargeListArray.from_arrays(pa.array([0, 1, 3, 3, 4], pa.int64()), DICT)),
        ("fixed_size_list", pa.FixedSizeListArray.from_arrays(DICT, 2)),
        ("map", pa.MapArray.from_arrays(offsets, pa.array(["k", "l", "m", "n"]), DICT)),
        ("sparse_union", pa.UnionArray.from_sparse(types, [DICT, pa.array([1, 2, 3, 4])])),
        (
            "dense_union",
            pa.UnionArray.from_dense(types, pa.array([0, 0, 1, 1], pa.int32()), [DICT, pa.array([5, 6])]),
        ),
    ]


NESTED = nested_batches()


def test_FRAME_1_stream_has_schema_batch_eos() -> None:
    region = encoding.encode_region(PLAIN)
    messages, end = walk(region)
    assert [m["type"] for m in messages] == ["schema", "record batch", "eos"]
    assert end == len(region)
    assert region.endswith(EOS)
    assert framing.framing_of(PLAIN.schema) is framing.Framing.STREAM


@pytest.mark.parametrize("kind, column", NESTED, ids=[k for k, _ in NESTED])
def test_FRAME_4_nested_dictionaries_use_stream_framing(kind: str, column: Any) -> None:
    batch = pa.record_batch([column], names=["n"])
    region = encoding.encode_region(batch)
    messages, end = walk(region)
    assert [m["type"] for m in messages] == ["schema", "dictionary", "record batch", "eos"]
    assert end == len(region)
    assert region == stream_bytes(batch)
    assert framing.framing_of(batch.schema) is framing.Framing.STREAM
    decoded = decoding.decode_region(pa.py_buffer(region), batch.schema)
    assert decoded.equals(batch)


@pytest.mark.parametrize("batch", [TOP_DICT, TWO_TOP_DICTS], ids=["one", "two"])
def test_FRAME_3_top_level_dictionary_has_no_schema_and_no_eos(batch: Any) -> None:
    region = encoding.encode_region(batch)
    messages, end = walk(region)
    dictionaries = sum(pa.types.is_dictionary(f.type) for f in batch.schema)
    assert [m["type"] for m in messages] == ["dictionary"] * dictionaries + ["record batch"]
    assert end == len(region)
    assert not region.endswith(EOS)
    stream = stream_bytes(batch)
    assert region == stream[schema_message_length(stream) : -8]
    assert framing.framing_of(batch.schema) is framing.Framing.MESSAGES
    assert decoding.decode_region(pa.py_buffer(region), batch.schema).equals(batch)


def test_FRAME_3_reader_rebuilds_from_the_pointer_schema() -> None:
    region = encoding.encode_region(TOP_DICT)
    # The region alone is not a stream: pyarrow's stream reader cannot open it.
    with pytest.raises((pa.ArrowInvalid, OSError)):
        ipc.open_stream(pa.py_buffer(region)).read_next_batch()
    assert decoding.decode_region(pa.py_buffer(region), TOP_DICT.schema).equals(TOP_DICT)


@pytest.mark.parametrize("batch", [PLAIN, TOP_DICT, *[pa.record_batch([c], names=["n"]) for _, c in NESTED]])
def test_FRAME_2_encapsulation_and_alignment(batch: Any) -> None:
    region = encoding.encode_region(batch)
    messages, _ = walk(region)
    for m in messages:
        assert m["offset"] % 8 == 0
        if m["type"] != "eos":
            assert (8 + m["metadata_length"]) % 8 == 0, "body must start 8-aligned"
            assert m["body_length"] % 8 == 0


def test_FRAME_5_regions_are_self_contained() -> None:
    second = pa.record_batch(
        [pa.array([9, 9, 9, 9]), pa.DictionaryArray.from_arrays(pa.array([2, 1, 0, 0], pa.int8()), ["p", "q", "r"])],
        names=["i", "d"],
    )
    first_region = encoding.encode_region(TOP_DICT)
    second_region = encoding.encode_region(second)
    # Each decodes alone; the second does not depend on the first's dictionary.
    assert decoding.decode_region(pa.py_buffer(second_region), second.schema).equals(second)
    assert decoding.decode_region(pa.py_buffer(first_region), TOP_DICT.schema).equals(TOP_DICT)
    # Exactly one (full) dictionary message per dictionary field.
    assert [m["type"] for m in walk(second_region)[0]] == ["dictionary", "record batch"]


@pytest.mark.parametrize("batch", [PLAIN, TOP_DICT, pa.record_batch([NESTED[0][1]], names=["n"])])
@pytest.mark.parametrize(
    "tail",
    [b"\x00" * 64, b"\xff" * 13, EOS, b"garbage!"],
    ids=["zeros", "ff", "eos", "text"],
)
def test_FRAME_6_trailing_bytes_ignored(batch: Any, tail: bytes) -> None:
    region = encoding.encode_region(batch)
    assert decoding.decode_region(pa.py_buffer(region + tail), batch.schema).equals(batch)


def test_FRAME_6_only_the_first_batch_is_read() -> None:
    other = pa.record_batch([pa.array([7, 7, 7, 7]), pa.array(["z", "z", "z", "z"])], names=["i", "s"])
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, PLAIN.schema) as writer:
        writer.write_batch(PLAIN)
        writer.write_batch(other)
    decoded = decoding.decode_region(sink.getvalue(), PLAIN.schema)
    assert decoded.equals(PLAIN)


def test_FRAME_7_writer_does_not_compress() -> None:
    batch = pa.record_batch([pa.array([0] * 4096, pa.int64())], names=["z"])
    region = encoding.encode_region(batch)
    assert region == stream_bytes(batch)
    assert region != stream_bytes(batch, compression="zstd")
    body = walk(region)[0][1]["body_length"]
    assert body >= 4096 * 8  # the raw values, not a compressed buffer


@pytest.mark.parametrize("batch", [PLAIN, TOP_DICT, pa.record_batch([NESTED[4][1]], names=["n"])])
def test_FRAME_8_metadata_version_v5(batch: Any) -> None:
    for m in walk(encoding.encode_region(batch))[0]:
        if m["type"] != "eos":
            assert m["version"] == ipc.MetadataVersion.V5


@SETTINGS
@given(batch=record_batches())
def test_FRAME_1_to_9_generated_batches(batch: Any) -> None:
    region = encoding.encode_region(batch)
    assert encoding.region_size(batch) == len(region)
    stream = stream_bytes(batch)  # FRAME-9: identical to pyarrow's default writer
    messages, end = walk(region)
    assert end == len(region)
    dictionaries = sum(count_dictionaries(f.type) for f in batch.schema)
    types = [m["type"] for m in messages]
    if any(pa.types.is_dictionary(f.type) for f in batch.schema):
        assert types == ["dictionary"] * dictionaries + ["record batch"]  # FRAME-3
        assert region == stream[schema_message_length(stream) : -8]
    else:
        assert types == ["schema", *["dictionary"] * dictionaries, "record batch", "eos"]  # FRAME-1/4
        assert region == stream
    for m in messages:  # FRAME-2, FRAME-8
        assert m["offset"] % 8 == 0
        if m["type"] != "eos":
            assert (8 + m["metadata_length"]) % 8 == 0 and m["body_length"] % 8 == 0
            assert m["version"] == ipc.MetadataVersion.V5
    decoded = decoding.decode_region(pa.py_buffer(region + b"\xee" * 8), batch.schema)  # FRAME-6
    assert decoded.schema.equals(batch.schema)
    assert decoded.equals(batch)
    # The reference's own walker agrees with this one.
    ref_messages, ref_end = framing.walk(region)
    assert ref_end == end
    assert [(m.offset, m.kind) for m in ref_messages] == [(m["offset"], m["type"]) for m in messages]


@SETTINGS
@given(batch=record_batches(), slack=st.integers(0, 64))
def test_WRITE_3_write_region_never_writes_past_its_buffer(batch: Any, slack: int) -> None:
    size = encoding.region_size(batch)
    guard = b"\xc3" * 32
    for room in (size + slack, size - 1):
        backing = bytearray(b"\x5a" * room + guard)
        dest = pa.py_buffer(memoryview(backing)[:room])
        try:
            written = encoding.write_region(dest, batch)
        except (OSError, pa.ArrowException):
            assert room < size
        else:
            assert room >= size and written == size
            assert bytes(backing[size:room]) == b"\x5a" * (room - size)
        assert bytes(backing[room:]) == guard


def test_FRAME_decode_rejects_truncated_and_garbage() -> None:
    for batch in (PLAIN, TOP_DICT):
        region = encoding.encode_region(batch)
        for cut in (0, 4, 8, len(region) // 2, len(region) - (16 if batch is PLAIN else 1)):
            with pytest.raises(IpcError):
                decoding.decode_region(pa.py_buffer(region[:cut]), batch.schema)
        with pytest.raises(IpcError):
            decoding.decode_region(pa.py_buffer(b"\x01" * 256), batch.schema)


@pytest.mark.parametrize("cut", range(1, 17))
def test_FRAME_3_truncated_region_never_reads_past_its_end(cut: int) -> None:
    # The last record batch's body ends with int64 data: a reader that borrows
    # bytes from past the region would decode wrong values instead of failing.
    batch = pa.record_batch([DICT, pa.array([1, 2, 3, 4], pa.int64())], names=["d", "x"])
    region = encoding.encode_region(batch)
    with pytest.raises(IpcError):
        decoding.decode_region(pa.py_buffer(region[:-cut]), batch.schema)


@pytest.mark.parametrize(
    "batch, wrong",
    [(PLAIN, "messages"), (TOP_DICT, "stream")],
    ids=["stream-schema-given-messages", "dictionary-schema-given-stream"],
)
def test_FRAME_wrong_framing_is_ipc_error(batch: Any, wrong: str) -> None:
    if wrong == "stream":
        region = stream_bytes(batch)  # a full stream where only messages belong
    else:
        stream = stream_bytes(batch)
        region = stream[schema_message_length(stream) : -8]  # no schema where one belongs
    with pytest.raises(IpcError):
        decoding.decode_region(pa.py_buffer(region), batch.schema)


def test_FRAME_decode_rejects_stream_without_batch() -> None:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, PLAIN.schema):
        pass
    with pytest.raises(IpcError):
        decoding.decode_region(sink.getvalue(), PLAIN.schema)


def test_FRAME_decode_rejects_schema_mismatch() -> None:
    region = encoding.encode_region(PLAIN)
    other = pa.schema([("i", pa.int32()), ("s", pa.string())])
    with pytest.raises(SchemaMismatch):
        decoding.decode_region(pa.py_buffer(region), other)
    renamed = pa.schema([("j", pa.int64()), ("s", pa.string())])
    with pytest.raises(SchemaMismatch):
        decoding.decode_region(pa.py_buffer(region), renamed)


def test_FRAME_7_compressed_region_is_decoded_or_rejected_as_ipc_error() -> None:
    batch = pa.record_batch([pa.array(list(range(1000)), pa.int64())], names=["z"])
    compressed = stream_bytes(batch, compression="lz4")
    try:
        decoded = decoding.decode_region(pa.py_buffer(compressed), batch.schema)
    except IpcError:
        return
    assert decoded.equals(batch)
