"""Writing a batch into its own allocation and reading a region back (WRITE-*).

A writer reserves exactly the region's size, so the entry it leaves in the
table is the region itself: the reported offset frees it, and no byte outside
it is ever written.
"""

from __future__ import annotations

import pyarrow as pa

from vgis.decoding import Validation, decode_region
from vgis.encoding import encode
from vgis.errors import InvalidArgument, OutOfBounds
from vgis.header import HEADER_SIZE
from vgis.segment import Segment


def write_batch(segment: Segment, batch: pa.RecordBatch) -> tuple[int, int] | None:
    """Allocate and write ``batch``; ``(offset, length)``, or None when it does not fit."""
    if batch.num_rows == 0:
        raise InvalidArgument("WRITE-4", "zero-row batches are never written to a segment")
    encoding = encode(batch)
    size = encoding.size
    offset = segment.allocator.allocate(size)
    if offset is None:
        return None
    try:
        written = encoding.write(pa.py_buffer(segment.buf[offset : offset + size]))
    except BaseException:
        segment.allocator.free(offset)
        raise
    if written != size:
        segment.allocator.shrink(offset, written)
    return offset, written


def check_bounds(segment: Segment, offset: int, length: int) -> None:
    """A region must lie in the data area of the segment (PTR-9), and the segment must not have shrunk (LIFE-14)."""
    segment.check_live()
    if offset < HEADER_SIZE:
        raise OutOfBounds("PTR-9", f"offset {offset} lies inside the {HEADER_SIZE}-byte header")
    if offset + length > segment.size or offset + length >= 1 << 64:
        raise OutOfBounds("PTR-9", f"region {offset}+{length} ends past the segment's {segment.size} bytes")


def region_view(segment: Segment, offset: int, length: int) -> pa.Buffer:
    """A zero-copy Arrow buffer over a checked region of the segment."""
    check_bounds(segment, offset, length)
    return pa.py_buffer(segment.buf[offset : offset + length])


def read_batch(
    segment: Segment, offset: int, length: int, schema: pa.Schema, validation: Validation = Validation.SAFE
) -> pa.RecordBatch:
    """Decode the region at ``offset``, zero-copy, validated as ``validation`` says (``decoding.Validation``)."""
    return decode_region(region_view(segment, offset, length), schema, validation)
