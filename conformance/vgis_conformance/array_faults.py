"""Invalid array data inside valid framing: the faults of SPEC PTR-12, as region bytes in both framings.

Each fault is one column whose IPC framing and flatbuffers are well-formed but whose data is not. Faults
that structural validation (Arrow's ``Validate``) accepts are built directly with ``Array.from_buffers``;
faults it refuses cannot be built that way, so a valid column is written and one value of its body or of its
record batch's field nodes is patched afterwards. The message framing carries a dictionary column after the
faulty one, which makes the schema dictionary-framed (FRAME-3) without changing what is patched.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from vgis.framing import walk
from vgis_conformance.fixtures.ipc import stream_bytes

ROWS = 291
"""Rows of the patched columns: a length no buffer offset or other field node of those batches shares."""


@dataclass(frozen=True)
class Fault:
    """One fault: the column, what PTR-12 allows, and, for a patched fault, the bytes to change."""

    name: str
    what: str
    column: Callable[[], pa.Array]
    group: int  # PTR-12's group: 1 structural, 2 per element, 3 harmless to memory
    patch: tuple[str, bytes, bytes, int] | None = None  # (where: body|nodes, old, new, which occurrence)

    @property
    def expect(self) -> list[str]:
        return ["ipc_error"] if self.group < 3 else ["decoded", "ipc_error"]


def _i32(*values: int) -> pa.Buffer:
    return pa.py_buffer(struct.pack(f"<{len(values)}i", *values))


def _i64(*values: int) -> pa.Buffer:
    return pa.py_buffer(struct.pack(f"<{len(values)}q", *values))


def _node(length: int, nulls: int) -> bytes:
    return struct.pack("<qq", length, nulls)


def _ints(n: int) -> pa.Array:
    return pa.array(range(n), pa.int32())


_SPARSE = pa.sparse_union([pa.field("a", pa.int32()), pa.field("b", pa.int32())])
_DENSE = pa.dense_union([pa.field("a", pa.int32()), pa.field("b", pa.int32())])
_DICT = pa.dictionary(pa.int8(), pa.utf8())

FAULTS: list[Fault] = [
    Fault(
        "utf8-offsets-decreasing",
        "utf8 offsets that decrease inside the data (0, 3, 2)",
        lambda: pa.Array.from_buffers(pa.utf8(), 2, [None, _i32(0, 3, 2), pa.py_buffer(b"abcd")]),
        2,
    ),
    Fault(
        "binary-offsets-decreasing",
        "binary offsets that decrease inside the data (0, 3, 2)",
        lambda: pa.Array.from_buffers(pa.binary(), 2, [None, _i32(0, 3, 2), pa.py_buffer(b"abcd")]),
        2,
    ),
    Fault(
        "large-utf8-offsets-decreasing",
        "large_utf8 offsets that decrease inside the data (0, 3, 2)",
        lambda: pa.Array.from_buffers(pa.large_utf8(), 2, [None, _i64(0, 3, 2), pa.py_buffer(b"abcd")]),
        2,
    ),
    Fault(
        "list-offsets-decreasing",
        "list<int32> offsets that decrease inside the child (0, 3, 1)",
        lambda: pa.Array.from_buffers(pa.list_(pa.int32()), 2, [None, _i32(0, 3, 1)], children=[_ints(3)]),
        2,
    ),
    Fault(
        "large-list-offsets-decreasing",
        "large_list<int32> offsets that decrease inside the child",
        lambda: pa.Array.from_buffers(pa.large_list(pa.int32()), 2, [None, _i64(0, 3, 1)], children=[_ints(3)]),
        2,
    ),
    Fault(
        "list-view-past-child",
        "a list_view<int32> entry at offset 1 of size 5 over a 3-element child",
        lambda: pa.Array.from_buffers(pa.list_view(pa.int32()), 1, [None, _i32(1), _i32(5)], children=[_ints(3)]),
        2,
    ),
    Fault(
        "dictionary-index-past",
        "dictionary<int8, utf8> index 7 into a 2-value dictionary",
        lambda: pa.DictionaryArray.from_buffers(
            _DICT, 2, [None, pa.py_buffer(bytes([0, 7]))], dictionary=pa.array(["x", "y"])
        ),
        2,
    ),
    Fault(
        "dictionary-index-negative",
        "dictionary<int8, utf8> index -1",
        lambda: pa.DictionaryArray.from_buffers(
            _DICT, 2, [None, pa.py_buffer(bytes([0, 0xFF]))], dictionary=pa.array(["x", "y"])
        ),
        2,
    ),
    Fault(
        "nested-dictionary-index-past",
        "a struct whose dictionary child has index 7 into 2 values",
        lambda: pa.StructArray.from_arrays(
            [
                pa.DictionaryArray.from_buffers(
                    _DICT, 2, [None, pa.py_buffer(bytes([0, 7]))], dictionary=pa.array(["x", "y"])
                )
            ],
            ["d"],
        ),
        2,
    ),
    Fault(
        "sparse-union-undeclared-type-id",
        "a sparse union with type id 5, which the type does not declare",
        lambda: pa.Array.from_buffers(_SPARSE, 2, [None, pa.py_buffer(bytes([0, 5]))], children=[_ints(2), _ints(2)]),
        2,
    ),
    Fault(
        "dense-union-undeclared-type-id",
        "a dense union with type id 7, which the type does not declare",
        lambda: pa.Array.from_buffers(
            _DENSE, 2, [None, pa.py_buffer(bytes([0, 7])), _i32(0, 0)], children=[_ints(1), _ints(1)]
        ),
        2,
    ),
    Fault(
        "dense-union-offset-past-child",
        "a dense union whose second value's offset 9 is past its 1-value child",
        lambda: pa.Array.from_buffers(
            _DENSE, 2, [None, pa.py_buffer(bytes([0, 1])), _i32(0, 9)], children=[_ints(1), _ints(1)]
        ),
        2,
    ),
    Fault(
        "ree-run-ends-not-increasing",
        "a run-end encoded column whose run ends are 3, 2, 4",
        lambda: pa.Array.from_buffers(
            pa.run_end_encoded(pa.int32(), pa.utf8()),
            4,
            [None],
            children=[pa.array([3, 2, 4], pa.int32()), pa.array(["a", "b", "c"])],
        ),
        2,
    ),
    Fault(
        "utf8-invalid",
        "a utf8 value that is not UTF-8 (FF FE)",
        lambda: pa.Array.from_buffers(pa.utf8(), 1, [None, _i32(0, 2), pa.py_buffer(b"\xff\xfe")]),
        3,
    ),
    Fault(
        "decimal-beyond-precision",
        "a decimal128(3, 0) value of 1,000,000",
        lambda: pa.Array.from_buffers(
            pa.decimal128(3, 0), 1, [None, pa.py_buffer((10**6).to_bytes(16, "little", signed=True))]
        ),
        3,
    ),
    Fault(
        "utf8-last-offset-past-data",
        "utf8 offsets (0, 3, 7) whose last becomes 4,000, past the 7 data bytes",
        lambda: pa.array(["abc", "defg"]),
        1,
        ("body", struct.pack("<3i", 0, 3, 7), struct.pack("<3i", 0, 3, 4000), 0),
    ),
    Fault(
        "utf8-first-offset-negative",
        "utf8 offsets (0, 3, 7) whose first becomes -4",
        lambda: pa.array(["abc", "defg"]),
        1,
        ("body", struct.pack("<3i", 0, 3, 7), struct.pack("<3i", -4, 3, 7), 0),
    ),
    Fault(
        "large-binary-last-offset-past-data",
        "large_binary offsets whose last becomes 4,000, past the data",
        lambda: pa.array([b"abc", b"defg"], pa.large_binary()),
        1,
        ("body", struct.pack("<3q", 0, 3, 7), struct.pack("<3q", 0, 3, 4000), 0),
    ),
    Fault(
        "list-last-offset-past-child",
        "list<int32> offsets (0, 2, 5) whose last becomes 4,000, past the child",
        lambda: pa.array([[1, 2], [3, 4, 5]], pa.list_(pa.int32())),
        1,
        ("body", struct.pack("<3i", 0, 2, 5), struct.pack("<3i", 0, 2, 4000), 0),
    ),
    Fault(
        "length-beyond-buffers",
        f"an int32 column of {ROWS} rows whose field node says 100,000",
        lambda: _ints(ROWS),
        1,
        ("nodes", _node(ROWS, 0), _node(100_000, 0), 0),
    ),
    Fault(
        "null-count-over-length",
        f"an int16 column of {ROWS} rows, one null, whose null count says 1,000",
        lambda: pa.array([None, *range(ROWS - 1)], pa.int16()),
        1,
        ("nodes", _node(ROWS, 1), _node(ROWS, 1000), 0),
    ),
    Fault(
        "struct-child-shorter",
        f"a struct of {ROWS} rows whose int32 child's field node says 100",
        lambda: pa.StructArray.from_arrays([_ints(ROWS)], ["a"]),
        1,
        ("nodes", _node(ROWS, 0), _node(100, 0), 1),
    ),
    Fault(
        "fixed-size-list-child-shorter",
        f"a fixed_size_list<int32, 2> of {ROWS} rows whose child says 100",
        lambda: pa.FixedSizeListArray.from_arrays(_ints(2 * ROWS), 2),
        1,
        ("nodes", _node(2 * ROWS, 0), _node(100, 0), 0),
    ),
    Fault(
        "map-last-offset-past-entries",
        "map<int32, int32> offsets (0, 2, 3) whose last becomes 4,000",
        lambda: pa.array([[(1, 2), (3, 4)], [(5, 6)]], pa.map_(pa.int32(), pa.int32())),
        1,
        ("body", struct.pack("<3i", 0, 2, 3), struct.pack("<3i", 0, 2, 4000), 0),
    ),
    Fault(
        "bool-length-beyond-bits",
        f"a bool column of {ROWS} rows whose field node says 100,000",
        lambda: pa.array([i % 3 == 0 for i in range(ROWS)]),
        1,
        ("nodes", _node(ROWS, 0), _node(100_000, 0), 0),
    ),
    Fault(
        "validity-bitmap-short",
        f"an int64 column of {ROWS} rows with 8 nulls whose field node says 100,000",
        lambda: pa.array([None if i % 40 == 0 else i for i in range(ROWS)], pa.int64()),
        1,
        ("nodes", _node(ROWS, 8), _node(100_000, 8), 0),
    ),
    Fault(
        "ree-last-run-end-short",
        f"a run-end encoded column of {ROWS} rows whose last run end becomes 200",
        lambda: pa.RunEndEncodedArray.from_arrays(pa.array([100, ROWS], pa.int32()), pa.array(["a", "b"])),
        1,
        ("body", struct.pack("<2i", 100, ROWS), struct.pack("<2i", 100, 200), 0),
    ),
]


def _key(rows: int) -> pa.Array:
    return pa.array([i % 2 for i in range(rows)], pa.int8()).dictionary_encode()


def _patch(region: bytes, where: str, old: bytes, new: bytes, which: int) -> bytes:
    """``region`` with occurrence ``which`` of ``old`` in its record batch's body (or metadata) replaced."""
    messages, _ = walk(region + b"\xff\xff\xff\xff\x00\x00\x00\x00")
    batch = next(m for m in messages if m.kind == "record batch")
    body = batch.offset + batch.prefix + batch.metadata_length
    lo, hi = (body, batch.end) if where == "body" else (batch.offset, body)
    at = lo - 1
    for _ in range(which + 1):
        at = region.find(old, at + 1, hi)
        if at < 0:
            raise RuntimeError(f"{old.hex()} occurs fewer than {which + 1} times in the record batch's {where}")
    return region[:at] + new + region[at + len(old) :]


def regions(fault: Fault) -> dict[str, tuple[pa.RecordBatch, bytes]]:
    """The fault's batch and region in each framing its schema allows: ``stream`` and ``message``.

    A column with a top-level dictionary is message-framed only (FRAME-3); any other column is written alone
    (stream framing, FRAME-1) and beside a dictionary column (message framing).
    """
    column = fault.column()
    top_dict = pa.types.is_dictionary(column.type)
    out: dict[str, tuple[pa.RecordBatch, bytes]] = {}
    for framing in ("message",) if top_dict else ("stream", "message"):
        columns, names = [column], ["c"]
        if framing == "message" and not top_dict:
            columns, names = [column, _key(len(column))], ["c", "k"]
        batch = pa.RecordBatch.from_arrays(columns, names)
        stream = stream_bytes(batch)
        messages, _ = walk(stream)
        data = stream if framing == "stream" else stream[messages[0].end : messages[-1].offset]
        if fault.patch is not None:
            data = _patch(data, *fault.patch)
        out[framing] = (batch, data)
    return out
