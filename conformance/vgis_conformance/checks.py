"""Checks shared by several case files: what a written region must look like."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from vgis.decoding import Validation, decode_region
from vgis.framing import Framing, framing_of, walk
from vgis.header import HEADER_SIZE
from vgis_conformance.kit import Seg
from vgis_conformance.memory import canary_index, find_canary, first_non_canary
from vgis_conformance.outcomes import ReadOutsideRegion

BYTE_EXACT_LIBRARIES = frozenset({"pyarrow", "arrow-cpp"})


def first_difference(expected: bytes, got: bytes) -> str:
    """Where two byte strings first differ, with a little context."""
    n = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    return (
        f"lengths {len(expected)} vs {len(got)}; first difference at byte {n}: "
        f"expected {expected[n : n + 16].hex()} got {got[n : n + 16].hex()}"
    )


def check_region_bytes(region: bytes, schema: pa.Schema, dictionary_fields: int) -> list[str]:
    """Byte-level framing problems of a region (FRAME-1..5, FRAME-8); [] when clean."""
    problems: list[str] = []
    try:
        messages, end = walk(region)
    except Exception as exc:
        return [f"region is not a sequence of encapsulated messages: {exc}"]
    kinds = [m.kind for m in messages]
    for m in messages:
        if m.prefix != 8:
            problems.append(f"FRAME-2: message at byte {m.offset} lacks the FF FF FF FF continuation marker")
        if m.offset % 8:
            problems.append(f"FRAME-2: message at byte {m.offset} is not 8-byte aligned")
        if m.kind != "eos" and (m.prefix + m.metadata_length) % 8:
            problems.append(f"FRAME-2: metadata of message at byte {m.offset} does not end 8-aligned")
        if m.body_length % 8:
            problems.append(f"FRAME-2: body of message at byte {m.offset} is {m.body_length} bytes, not 8-aligned")
    if end != len(region):
        problems.append(f"reported length {len(region)} but the messages end at byte {end}")
    batches = kinds.count("record batch")
    if batches != 1:
        problems.append(f"expected exactly one record batch message, found {batches} in {kinds}")
    if kinds.count("dictionary") > dictionary_fields:
        problems.append(
            f"FRAME-5: {kinds.count('dictionary')} dictionary messages for {dictionary_fields} "
            "dictionary fields (deltas or repeats)"
        )
    if framing_of(schema) is Framing.STREAM:
        if not kinds or kinds[0] != "schema":
            problems.append(f"FRAME-1: stream framing must start with a schema message, got {kinds[:1]}")
        if not kinds or kinds[-1] != "eos":
            problems.append(f"FRAME-1: stream framing must end with EOS, got {kinds[-1:]}")
    else:
        if "schema" in kinds:
            problems.append("FRAME-3: dictionary framing must not contain a schema message")
        if "eos" in kinds:
            problems.append("FRAME-3: dictionary framing must not contain an EOS marker")
        if kinds[:1] != ["dictionary"]:
            problems.append(f"FRAME-3: dictionary framing must start with a dictionary message, got {kinds[:1]}")
    return problems


def count_dictionary_fields(schema: pa.Schema) -> int:
    """Dictionary-encoded fields at any depth."""

    def count(t: pa.DataType) -> int:
        own = 1 if pa.types.is_dictionary(t) else 0
        inner = t.value_type if pa.types.is_dictionary(t) else t
        return own + sum(count(inner.field(i).type) for i in range(getattr(inner, "num_fields", 0)))

    return sum(count(f.type) for f in schema)


def first_dirty(data: bytes, lo: int, hi: int) -> int | None:
    """Index of the first non-canary byte in ``data[lo:hi]`` (``data`` is the data region), or None."""
    dirty = first_non_canary(memoryview(data)[lo:hi], HEADER_SIZE + lo)
    return None if dirty is None else lo + dirty


def written_entry(
    before: Sequence[tuple[int, int]],
    after: Sequence[tuple[int, int]],
    offset: int,
    length: int,
    writer: str = "the write",
) -> tuple[int, int]:
    """WRITE-1 as SPEC.md's check has it: the table gained exactly one entry, it starts at the reported offset,
    and the reported length is 1 up to that entry's length. Returns the entry; every write path asks this."""
    new = [e for e in after if e not in before]
    assert len(new) == 1 and len(after) == len(before) + 1 and new[0][0] == offset, (
        f"WRITE-1: {writer} reported ({offset}, {length}); the table went from {list(before)} to {list(after)} "
        f"(expected exactly one new entry, starting at {offset})"
    )
    assert length >= 1, f"WRITE-1: {writer} reported region length {length}; a written region holds a byte"
    assert length <= new[0][1], f"WRITE-1: region length {length} exceeds its entry {new[0]}"
    return new[0]


def changed_outside(after: bytes, allowed: tuple[int, int] | None, before: bytes | None = None) -> int | None:
    """WRITE-3 and ERR-1 on data: the absolute offset of the first data byte outside ``allowed`` (an absolute
    range; None allows nothing) that differs from ``before``, or from the canary when ``before`` is None (the
    canary is keyed by position, so a segment laid with it needs no snapshot); None when nothing changed."""
    lo, hi = (allowed[0] - HEADER_SIZE, allowed[1] - HEADER_SIZE) if allowed else (0, 0)
    for start, stop in ((0, lo), (hi, len(after))):
        if before is None:
            dirty = first_dirty(after, start, stop)
        elif before[start:stop] == after[start:stop]:
            dirty = None
        else:
            dirty = next(i for i in range(start, stop) if before[i] != after[i])
        if dirty is not None:
            return dirty + HEADER_SIZE
    return None


def check_region(
    region: bytes, batch: pa.RecordBatch, framing: bool = True, writer: str = "the region"
) -> pa.RecordBatch:
    """FRAME-1..5 on a written region's bytes (unless ``framing`` is off) and decoded-equal: it decodes, with the
    reference reader, to the batch that was written. Returns the decoded batch."""
    if framing:
        problems = check_region_bytes(region, batch.schema, count_dictionary_fields(batch.schema))
        assert not problems, f"{writer}: framing problems:\n  " + "\n  ".join(problems)
    decoded = decode_region(pa.py_buffer(region), batch.schema, Validation.FULL)  # the oracle validates everything
    assert decoded.equals(batch), f"decoded-equal: {writer} decodes (reference) to\n{decoded}\nexpected\n{batch}"
    return decoded


def check_write(
    seg: Seg,
    before: list[tuple[int, int]],
    offset: int | None,
    length: int | None,
    batch: pa.RecordBatch,
    golden: bytes | None,
) -> pa.RecordBatch:
    """Everything WRITE-1/3 and FRAME-* say about one write; returns the decoded batch."""
    assert offset is not None and length is not None, "the writer said the batch does not fit a segment sized for it"
    entry = written_entry(before, list(seg.map.header().entries), offset, length)
    data = seg.map.data()
    outside = changed_outside(data, (entry[0], entry[0] + entry[1]))
    assert outside is None, f"WRITE-3: bytes written outside the entry {entry}, first at offset {outside}"
    start, end = entry[0] - HEADER_SIZE, entry[0] - HEADER_SIZE + entry[1]
    dirty = first_dirty(data, start + length, end)
    assert dirty is None, (
        f"reported length {length}, but bytes after it were written too, first at offset {dirty + HEADER_SIZE}"
    )
    region = seg.map.read(offset, length)
    decoded = check_region(region, batch)
    if golden is not None:
        assert region == golden, "byte-exact (FRAME-9): " + first_difference(golden, region)
    return decoded


def _children(array: pa.Array) -> list[pa.Array]:
    """The arrays nested in ``array``: struct and union fields, list, map and run-end values."""
    if isinstance(array, (pa.StructArray, pa.UnionArray)):
        return [array.field(i) for i in range(array.type.num_fields)]
    values = getattr(array, "values", None)
    return [values] if isinstance(values, pa.Array) else []


def _buffers(array: pa.Array) -> list[pa.Buffer]:
    """Every buffer an array holds (``buffers()`` flattens children), and its dictionaries' at any depth."""
    found = [b for b in array.buffers() if b is not None]
    stack = [array]
    while stack:
        node = stack.pop()
        if isinstance(node, pa.DictionaryArray):
            found += _buffers(node.dictionary)
            stack.append(node.indices)
        else:
            stack += _children(node)
    return found


def check_inside_region(batch: pa.RecordBatch, size: int, offset: int, length: int, who: str) -> None:
    """Raise ReadOutsideRegion when the batch a reader resolved holds canary words from outside its region (ERR-2).

    The harness lays a position-keyed canary over the data area around every planted region; a reader that
    trusted offsets or lengths past its region copies those words into the batch it answers with.
    """
    index = canary_index(HEADER_SIZE - 8, size, (offset, offset + length))
    for column, array in zip(batch.schema.names, batch.columns, strict=True):
        for buffer in _buffers(array):
            hit = find_canary(memoryview(buffer), index)
            if hit is not None:
                raise ReadOutsideRegion(
                    f"ERR-2: {who} decoded the region ({offset}, {length}) to a batch whose column {column!r} "
                    f"holds segment bytes from outside it: byte {hit[0]} of one of its buffers is the canary "
                    f"of segment offset {hit[1]} (read outside its region)"
                )
