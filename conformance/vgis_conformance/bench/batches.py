"""The benchmark's batches and sizes: what every peer is asked to write, and how sizes are spelled.

Batches are built from raw buffers rather than Python lists so the 256 MiB ones
take a second, not minutes, and every peer gets byte-identical input.
"""

from __future__ import annotations

from array import array

import pyarrow as pa

KIB = 1024
MIB = 1024 * KIB
DEFAULT_SIZES = [KIB * 4**i for i in range(10)]  # 1 KiB, 4 KiB, ... 256 MiB
QUICK_SIZES = [KIB, 16 * KIB]
SCHEMAS = ("plain", "dictionary")
HEADER_SIZE = 65_536


def _pattern(length: int, seed: bytes) -> bytes:
    """``length`` bytes of a repeated printable pattern (cheap to make at 256 MiB, not all one byte)."""
    unit = bytes(33 + (b * 7 + i * 13) % 90 for i, b in enumerate(seed * 64))
    return (unit * (length // len(unit) + 1))[:length]


def make_batch(schema: str, size: int) -> pa.RecordBatch:
    """A batch of about ``size`` bytes of Arrow data.

    ``plain``: an int64 column and a utf8 column (12-byte strings), 24 bytes a
    row. ``dictionary``: a utf8 dictionary of 16 values with int32 indices,
    4 bytes a row. Built from buffers, so 256 MiB takes a second, not minutes.
    """
    if schema == "plain":
        rows = max(1, size // 24)
        ints = pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(array("q", range(rows)).tobytes())])
        width = 12
        offsets = pa.py_buffer(array("i", range(0, width * (rows + 1), width)).tobytes())
        strings = pa.Array.from_buffers(pa.utf8(), rows, [None, offsets, pa.py_buffer(_pattern(width * rows, b"vgis"))])
        return pa.record_batch([ints, strings], names=["id", "text"])
    if schema == "dictionary":
        rows = max(1, size // 4)
        unit = array("i", [(i * 7) % 16 for i in range(16)]).tobytes()
        indices = pa.Array.from_buffers(pa.int32(), rows, [None, pa.py_buffer((unit * (rows // 16 + 1))[: 4 * rows])])
        values = pa.array([f"category-{i:02d}" for i in range(16)], pa.utf8())
        return pa.record_batch([pa.DictionaryArray.from_arrays(indices, values)], names=["category"])
    raise ValueError(f"unknown schema {schema!r}; known: {SCHEMAS}")


def stream_size(batch: pa.RecordBatch) -> int:
    """Bytes of ``batch`` as a complete IPC stream (an upper bound for any region of it)."""
    mock = pa.MockOutputStream()
    with pa.ipc.new_stream(mock, batch.schema) as writer:
        writer.write_batch(batch)
    return int(mock.size())


def segment_size_for(stream_bytes: int) -> int:
    """A segment with room for one region of the batch, whatever a writer's size estimate."""
    data = stream_bytes + stream_bytes // 8 + MIB
    return HEADER_SIZE + (data + 4095) // 4096 * 4096


def human(size: int) -> str:
    """``size`` as the shortest exact K/M/G spelling, the one ``--sizes`` accepts back."""
    for unit, scale in (("G", 1 << 30), ("M", MIB), ("K", KIB)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def parse_size(text: str) -> int:
    """One ``--sizes`` entry (``64K``, ``4MiB``, ``1.5M``, ``4096``) in bytes."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": KIB, "M": MIB, "G": 1 << 30}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)
