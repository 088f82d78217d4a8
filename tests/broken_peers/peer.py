"""A deliberately broken peer: the reference peer with exactly one defect.

    python3 tests/broken_peers/peer.py --defect NAME

Each defect overrides one behaviour of peers/python-reference/peer.py, either
by subclassing its ``Handler`` or by monkeypatching one reference (vgis)
function inside this process only. ``hello`` reports ``broken-<defect>`` and
the reference's capabilities. tests/test_broken_peers.py checks that the
conformance suite catches every defect with the right case and outcome.

When ``VGIS_BROKEN_SEGMENT_LOG`` is set, ``<pid> <name>`` of every segment
this peer creates or attaches is appended to that file, so the test can see
which peer processes ran (restarts) and what they touched.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parents[2]
REFERENCE_PEER = KIT / "peers" / "python-reference" / "peer.py"
sys.path.insert(0, str(KIT / "reference"))


def _load_reference() -> Any:
    spec = importlib.util.spec_from_file_location("vgis_reference_peer", REFERENCE_PEER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

import pyarrow as pa  # noqa: E402

from vgis import allocator, decoding, encoding, errors, framing, header, pointer, region, segment  # noqa: E402

Json = dict[str, Any]


class Broken(ref.Handler):  # type: ignore[misc, name-defined]
    """The reference handler plus the segment log; defects subclass or patch."""

    def __init__(self, defect: str) -> None:
        super().__init__()
        self.name = f"broken-{defect}"
        self._log = os.environ.get("VGIS_BROKEN_SEGMENT_LOG")

    def _note(self, *names: Any) -> None:
        if self._log:
            with open(self._log, "a") as log:
                for name in names:
                    if name:
                        log.write(f"{os.getpid()} {name}\n")

    def op_create(self, req: Json) -> Json:
        self._note(req.get("name"))
        result: Json = super().op_create(req)
        self._note(result["name"])
        return result

    def op_attach(self, req: Json) -> Json:
        self._note(req.get("name"))
        result: Json = super().op_attach(req)
        self._note(result["name"])
        return result


# --- defects that patch the reference library --------------------------------------------------------------


def big_endian_num_allocs() -> None:
    """Every table write stores num_allocs big-endian (HDR-*: all fields are little-endian)."""
    original = header.write_entries

    def write_entries(buf: memoryview, entries: list[tuple[int, int]], start: int = 0) -> None:
        original(buf, entries, start)
        struct.pack_into(">I", buf, header.NUM_ALLOCS_AT, len(entries))

    allocator.write_entries = write_entries  # type: ignore[attr-defined]  # deliberate patch of an import from header


def last_fit() -> None:
    """Placement at the end of the last gap that fits, instead of first fit (ALLOC-1)."""

    def place(entries: list[tuple[int, int]], size: int, total_size: int) -> int | None:
        cursor, best = header.HEADER_SIZE, None
        for offset, length in sorted(entries):
            if offset >= cursor and offset - cursor >= size:
                best = offset - size
            cursor = max(cursor, offset + max(length, 1))
        if total_size - cursor >= size:
            best = total_size - size
        return best

    allocator.first_fit = place


def _dict_framing(keep_schema: bool, keep_eos: bool) -> None:
    """Dictionary-framed regions that keep the schema message or the EOS (FRAME-3)."""

    def body(batch: pa.RecordBatch) -> pa.Buffer:
        sink = pa.BufferOutputStream()
        encoding._write_stream(sink, batch, batch.schema)
        full = sink.getvalue()
        start = 0 if keep_schema else len(encoding.schema_message(batch.schema))
        end = full.size if keep_eos else full.size - len(framing.EOS)
        return full.slice(start, end - start)

    original = encoding.encode  # what region imported by name, and calls unless patched below

    def encode(batch: pa.RecordBatch) -> encoding.Encoding:
        if framing.framing_of(batch.schema) is framing.Framing.STREAM:
            return original(batch)
        data = body(batch)
        return encoding.Encoding(batch, int(data.size), framing.Framing.MESSAGES, data)

    region.encode = encode  # type: ignore[attr-defined]  # deliberate patch of region's import from encoding


def hex_pointer_offsets() -> None:
    """Pointer metadata carries the offset in hex, not canonical decimal (PTR-2)."""
    original = pointer.make_pointer

    def make_pointer(schema: pa.Schema, offset: int, length: int) -> tuple[pa.RecordBatch, pointer.Metadata]:
        batch, md = original(schema, offset, length)
        md[pointer.OFFSET_KEY] = f"{offset:x}".encode()
        return batch, md

    pointer.make_pointer = make_pointer  # maybe_write looks it up here too


def magic_not_validated() -> None:
    """attach accepts any magic (LIFE-4); the other checks stay."""
    original = header.validate

    def validate(buf: memoryview | bytes, object_size: int) -> header.Header:
        patched = bytearray(buf[: header.FIXED_SIZE])
        patched[:4] = header.MAGIC
        original(bytes(patched) + bytes(buf[header.FIXED_SIZE :]), object_size)
        return header.decode(buf)

    segment.validate = validate  # type: ignore[attr-defined]  # deliberate patch of segment's import from header


def write_past_entry() -> None:
    """The write reports and reserves its region but also flips the byte just past it (WRITE-3)."""
    original = region.write_batch

    def write_batch(seg: segment.Segment, batch: pa.RecordBatch) -> tuple[int, int] | None:
        placed = original(seg, batch)
        if placed is not None:
            past = placed[0] + placed[1]
            if past < seg.size:
                seg.buf[past] ^= 0xFF
        return placed

    region.write_batch = write_batch  # type: ignore[assignment]  # parameter named seg, not segment
    pointer.write_batch = write_batch  # type: ignore[attr-defined, assignment]  # deliberate patch of pointer's import


OLD_CANARY = 0xA5  # the uniform byte the harness used to lay over the data area


def _after_each_write(touch: Callable[[segment.Segment, int], None]) -> None:
    """Writes stay correct, then ``touch`` gets the segment and the end of the entry just written."""
    original = region.write_batch

    def write_batch(seg: segment.Segment, batch: pa.RecordBatch) -> tuple[int, int] | None:
        placed = original(seg, batch)
        if placed is not None:
            touch(seg, placed[0] + placed[1])
        return placed

    region.write_batch = write_batch  # type: ignore[assignment]  # parameter named seg, not segment
    pointer.write_batch = write_batch  # type: ignore[attr-defined, assignment]  # deliberate patch of pointer's import


def old_canary_past_entry() -> None:
    """After each write, 8 bytes past the entry become 0xA5 (WRITE-3): invisible to a uniform 0xA5 canary."""

    def touch(seg: segment.Segment, end: int) -> None:
        stop = min(end + 8, seg.size)
        seg.buf[end:stop] = bytes([OLD_CANARY]) * (stop - end)

    _after_each_write(touch)


def shifted_copy_past_entry() -> None:
    """After each write, the 64 bytes past the entry move up by one byte (WRITE-3): a shifted copy of themselves."""

    def touch(seg: segment.Segment, end: int) -> None:
        stop = min(end + 65, seg.size)
        seg.buf[end + 1 : stop] = bytes(seg.buf[end : stop - 1])

    _after_each_write(touch)


def schema_metadata_in_region() -> None:
    """Regions carry schema metadata of the writer's own: valid, decoded equal, but not byte-exact (FRAME-9)."""

    original = encoding.encode  # what region imported by name, and calls unless patched below

    def encode(batch: pa.RecordBatch) -> encoding.Encoding:
        if framing.framing_of(batch.schema) is not framing.Framing.STREAM:
            return original(batch)  # message framing carries no schema message, so no metadata either
        marked = batch.schema.with_metadata({**(batch.schema.metadata or {}), b"writer": b"broken"})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, marked) as writer:
            writer.write_batch(batch.replace_schema_metadata(marked.metadata))
        data = sink.getvalue()
        return encoding.Encoding(batch, int(data.size), framing.Framing.STREAM, data)

    region.encode = encode  # type: ignore[attr-defined]  # deliberate patch of region's import from encoding


def reads_past_region() -> None:
    """Stream-framed resolve trusts the region's own framing: it reads the schema and the first batch from the
    offset on, up to the segment's end, and skips validation, so a message that runs past the region reads
    the bytes that follow it (ERR-2, PTR-10)."""
    original = region.read_batch  # the one pointer imports

    def read_batch(
        seg: segment.Segment,
        offset: int,
        length: int,
        schema: pa.Schema,
        validation: decoding.Validation = decoding.Validation.SAFE,
    ) -> pa.RecordBatch:
        if framing.framing_of(schema) is not framing.Framing.STREAM:
            return original(seg, offset, length, schema, validation)
        region.check_bounds(seg, offset, length)
        try:
            reader = pa.ipc.open_stream(pa.py_buffer(seg.buf[offset:]))
            if not reader.schema.equals(schema):
                raise errors.SchemaMismatch("PTR-11", f"region schema {reader.schema} differs from {schema}")
            return reader.read_next_batch()
        except (StopIteration, pa.ArrowException, OSError, ValueError) as exc:
            raise errors.IpcError("FRAME-1", f"not a stream: {exc!r}") from exc

    pointer.read_batch = read_batch  # type: ignore[attr-defined, assignment]  # deliberate patch of pointer's import


PATCHES: dict[str, Callable[[], None]] = {
    "big-endian-num-allocs": big_endian_num_allocs,
    "last-fit": last_fit,
    "eos-in-dict-framing": lambda: _dict_framing(keep_schema=False, keep_eos=True),
    "schema-in-dict-framing": lambda: _dict_framing(keep_schema=True, keep_eos=False),
    "hex-pointer-offsets": hex_pointer_offsets,
    "magic-not-validated": magic_not_validated,
    "write-past-entry": write_past_entry,
    "schema-metadata-in-region": schema_metadata_in_region,
    "old-canary-past-entry": old_canary_past_entry,
    "shifted-copy-past-entry": shifted_copy_past_entry,
    "reads-past-region": reads_past_region,
}


# --- defects of the process: subclasses of the handler -----------------------------------------------------


class Crash(Broken):
    """Dies with status 3 on the first write."""

    def op_write(self, req: Json) -> Json:
        sys.stdout.flush()
        os._exit(3)


class CrashOnce(Broken):
    """Dies with status 3 on the first write of the session only (a marker beside the segment log).

    A fault that does not come back when the case is replayed: hypothesis
    calls the stateful machine's failure flaky, and the kit must still name
    the peer's crash.
    """

    def op_write(self, req: Json) -> Json:
        marker = Path(f"{self._log or os.getpid()}.crashed-once")
        if not marker.exists():
            marker.touch()
            sys.stdout.flush()
            os._exit(3)
        result: Json = super().op_write(req)
        return result


class Hang(Broken):
    """Never answers the first allocate."""

    def op_allocate(self, req: Json) -> Json:
        while True:
            time.sleep(3600)


class Garbage(Broken):
    """Prints a non-JSON line to stdout before answering header."""

    def op_header(self, req: Json) -> Json:
        sys.stdout.write("header coming right up!\n")
        sys.stdout.flush()
        result: Json = super().op_header(req)
        return result


class WrongId(Broken):
    """Answers free with the request's id plus one."""

    bump = False

    def op_free(self, req: Json) -> Json:
        result: Json = super().op_free(req)
        self.bump = True
        return result


class IdBumper:
    """stdout for ``serve``: adds one to the id of the response the handler flagged."""

    def __init__(self, handler: WrongId, out: Any) -> None:
        self.handler, self.out = handler, out

    def write(self, text: str) -> int:
        if self.handler.bump:
            self.handler.bump = False
            resp = json.loads(text)
            resp["id"] = resp["id"] + 1
            text = json.dumps(resp) + "\n"
        return int(self.out.write(text))

    def flush(self) -> None:
        self.out.flush()


class ScrubOnOverCapacityAttach(Broken):
    """attach still refuses num_allocs > MAX_ALLOCS (LIFE-7), but first zeroes the first 64 data bytes (ERR-1)."""

    def op_attach(self, req: Json) -> Json:
        path = Path("/dev/shm") / str(req.get("name", "")).lstrip("/")
        try:
            with open(path, "r+b") as f:
                count = struct.unpack("<I", os.pread(f.fileno(), 4, header.NUM_ALLOCS_AT).ljust(4, b"\0"))[0]
                if count > header.MAX_ALLOCS and os.fstat(f.fileno()).st_size >= header.HEADER_SIZE + 64:
                    os.pwrite(f.fileno(), bytes(64), header.HEADER_SIZE)
        except OSError:
            pass
        result: Json = super().op_attach(req)
        return result


HANDLERS: dict[str, type[Broken]] = {
    "crash": Crash,
    "crash-once": CrashOnce,
    "hang": Hang,
    "garbage": Garbage,
    "wrong-id": WrongId,
    "scrub-data-on-over-capacity-attach": ScrubOnOverCapacityAttach,
}
DEFECTS = sorted([*PATCHES, *HANDLERS])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defect", required=True, choices=DEFECTS)
    args = parser.parse_args(argv)
    if args.defect in PATCHES:
        PATCHES[args.defect]()
    handler = HANDLERS.get(args.defect, Broken)(args.defect)
    stdout = IdBumper(handler, sys.stdout) if isinstance(handler, WrongId) else None
    ref.serve(handler, stdout=stdout)


if __name__ == "__main__":
    main()
