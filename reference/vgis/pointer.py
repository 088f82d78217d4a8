"""Pointer batches: make, recognise, resolve, maybe-write (PTR-*).

Custom metadata is a plain ``dict[bytes, bytes]`` here, as Arrow stores it,
so that keys the format does not own pass through untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from vgis.decoding import Validation
from vgis.errors import BadPointer
from vgis.region import read_batch, write_batch
from vgis.segment import Segment

OFFSET_KEY = b"vgi_rpc.shm_offset"
LENGTH_KEY = b"vgi_rpc.shm_length"
SOURCE_KEY = b"vgi_rpc.shm_source"
LOG_LEVEL_KEY = b"vgi_rpc.log_level"
SEGMENT_NAME_KEY = b"vgi_rpc.shm_segment_name"
SEGMENT_SIZE_KEY = b"vgi_rpc.shm_segment_size"

Metadata = dict[bytes, bytes]
_CANONICAL = re.compile(rb"(0|[1-9][0-9]*)")
U64_MAX = (1 << 64) - 1


def encode_decimal(value: int) -> bytes:
    """Canonical base-10 ASCII of a u64 (PTR-2)."""
    if not 0 <= value <= U64_MAX:
        raise BadPointer("PTR-2", f"{value} is not a u64")
    return str(value).encode("ascii")


def parse_decimal(raw: bytes | None, key: bytes) -> int:
    """Parse a canonical decimal u64, rejecting anything else (PTR-8)."""
    if raw is None:
        raise BadPointer("PTR-8", f"pointer batch lacks {key.decode()}")
    if _CANONICAL.fullmatch(raw) is None:
        raise BadPointer("PTR-8", f"{key.decode()}={raw!r} is not canonical base-10 ASCII")
    value = int(raw)
    if value > U64_MAX:
        raise BadPointer("PTR-8", f"{key.decode()}={raw.decode()} does not fit in a u64")
    return value


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A zero-row batch of any schema (``pa.nulls`` builds every type, unions included)."""
    return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def make_pointer(schema: pa.Schema, offset: int, length: int) -> tuple[pa.RecordBatch, Metadata]:
    """A zero-row batch of ``schema`` pointing at ``(offset, length)`` (PTR-1, PTR-2)."""
    return empty_batch(schema), {OFFSET_KEY: encode_decimal(offset), LENGTH_KEY: encode_decimal(length)}


def is_pointer(batch: pa.RecordBatch, metadata: Metadata | None) -> bool:
    """Zero rows, the offset key, and no log-level key (PTR-3)."""
    if batch.num_rows != 0 or not metadata:
        return False
    return OFFSET_KEY in metadata and LOG_LEVEL_KEY not in metadata


@dataclass
class Resolved:
    """A resolved batch, its metadata, and the offset the resolver must free (PTR-6)."""

    batch: pa.RecordBatch
    metadata: Metadata
    release_offset: int | None


def resolve(
    batch: pa.RecordBatch, metadata: Metadata | None, segment: Segment, validation: Validation = Validation.SAFE
) -> Resolved:
    """Turn a pointer batch into the batch it points at; pass others through (PTR-5, PTR-7).

    ``validation`` is how much of Arrow's validation the region's batch gets (``decoding.Validation``):
    SAFE, the default, for a segment whose writer may be hostile; TRUSTED only when the caller vouches
    for the writer.
    """
    if not is_pointer(batch, metadata):
        return Resolved(batch, dict(metadata or {}), None)
    assert metadata is not None
    offset = parse_decimal(metadata.get(OFFSET_KEY), OFFSET_KEY)
    length = parse_decimal(metadata.get(LENGTH_KEY), LENGTH_KEY)
    data = read_batch(segment, offset, length, batch.schema, validation=validation)
    resolved = {k: v for k, v in metadata.items() if k not in (OFFSET_KEY, LENGTH_KEY, SOURCE_KEY)}
    resolved[SOURCE_KEY] = segment.name.encode()
    return Resolved(data, resolved, offset)


def maybe_write(
    batch: pa.RecordBatch, metadata: Metadata | None, segment: Segment, min_bytes: int = 0
) -> tuple[pa.RecordBatch, Metadata]:
    """Write ``batch`` and return its pointer, or return it unchanged (WRITE-4..6, PTR-4).

    ``min_bytes`` is the writer's size gate (WRITE-5); the reference's is 0.
    """
    kept = dict(metadata or {})
    if batch.num_rows == 0 or batch.nbytes < min_bytes:
        return batch, kept
    placed = write_batch(segment, batch)
    if placed is None:
        return batch, kept
    pointer, keys = make_pointer(batch.schema, *placed)
    kept.update(keys)
    return pointer, kept


def advertise(segment: Segment) -> Metadata:
    """Request metadata advertising a segment to the other side (ADV-1)."""
    return {SEGMENT_NAME_KEY: segment.name.encode(), SEGMENT_SIZE_KEY: encode_decimal(segment.size)}
