"""Peer-protocol adapter over the reference implementation (reference/vgis).

All of its logic is the protocol: every format decision is the reference's.
``Handler`` has one method per operation so that the kit's deliberately
broken peers (tests/broken_peers) can override exactly one behaviour.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import vgis
from vgis import pointer, region
from vgis.errors import InvalidArgument, OutOfBounds, Unsupported, VgisError
from vgis.header import HEADER_SIZE
from vgis.segment import Segment

Json = dict[str, Any]
CAPABILITIES = [
    "allocate", "allocations", "shrink", "reset", "read", "make_pointer", "maybe_write", "advertise", "bench",
    "named_create",
]
DATA_START = 65_536  # where the memcpy action copies to: the first byte of the data area


def read_file(path: str) -> tuple[pa.Schema, pa.RecordBatch | None]:
    """Schema and first batch of an IPC stream file."""
    with pa.ipc.open_stream(pa.memory_map(path)) as reader:
        return reader.schema, next(iter(reader), None)


def save(path: str, batch: pa.RecordBatch) -> None:
    """Write one batch as an IPC stream file."""
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)


def to_bytes(md: dict[str, str]) -> pointer.Metadata:
    return {k.encode(): v.encode() for k, v in md.items()}


def to_str(md: pointer.Metadata) -> dict[str, str]:
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in md.items()}


def touch(array: pa.Array) -> int:
    """Read every byte of every buffer of ``array`` (children and dictionary included).

    The largest byte of each buffer: a reduction that reads every byte, and Arrow's
    max kernel over uint8 runs at memory speed (sum over uint8 is about 2.5x slower).
    """
    total = 0
    if pa.types.is_dictionary(array.type):
        return touch(array.indices) + touch(array.dictionary)
    for buf in array.buffers():
        if buf is not None and buf.size:
            total += pc.max(pa.Array.from_buffers(pa.uint8(), buf.size, [None, buf])).as_py()
    return total


def touch_batch(batch: pa.RecordBatch) -> int:
    """``touch`` over every column."""
    return sum(touch(column) for column in batch.columns)


class CountingReader(io.RawIOBase):
    """A file wrapper that counts the bytes read through it (a FIFO cannot ``tell``)."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        self.count += len(data)
        return data


def bench(action: str, req: Json, batch: pa.RecordBatch, repeat: int,
          write: Callable[[pa.RecordBatch], tuple[int, int] | None], free: Callable[[int], None],
          resolve: Callable[[pa.Schema, int, int], Callable[[], pa.RecordBatch]], buf: memoryview) -> Json:
    """The ``bench`` op's timing loops; ``write``, ``free`` and ``resolve`` are the library's own paths.

    ``resolve(schema, offset, length)`` builds the pointer batch (untimed) and returns the timed call.

    Shared shape with peers/vgi-rpc-python/peer.py (which runs in another venv, so it keeps a copy).
    """
    seconds: list[float] = []
    moved = 0
    clock = time.perf_counter
    source = b""
    resolved: Callable[[], pa.RecordBatch] | None = None
    if action == "memcpy":
        length = int(req["length"])
        if length <= 0 or DATA_START + length > len(buf):
            raise InvalidArgument("-", f"bench memcpy: {length} bytes do not fit after byte {DATA_START}")
        source = b"\x5a" * length  # private memory, every page touched before the clock starts
    elif action == "resolve":
        resolved = resolve(batch.schema, int(req["offset"]), int(req["length"]))
    for _ in range(repeat):
        if action == "write":
            start = clock()
            placed = write(batch)
            elapsed = clock() - start
            if placed is None:
                raise InvalidArgument("-", "bench write: the batch does not fit in the segment")
            free(placed[0])
            moved = placed[1]
        elif action == "resolve" and resolved is not None:
            start = clock()
            touch_batch(resolved())
            elapsed = clock() - start
            moved = int(req["length"])
        elif action == "memcpy":
            start = clock()
            buf[DATA_START : DATA_START + len(source)] = source
            elapsed = clock() - start
            moved = len(source)
        elif action == "pipe_write":
            with open(req["path"], "wb") as fifo:  # blocks until the reader opens its end
                start = clock()
                sink = pa.PythonFile(fifo, mode="w")
                with pa.ipc.new_stream(sink, batch.schema) as writer:
                    writer.write_batch(batch)
                moved = int(sink.tell())
                fifo.flush()
                elapsed = clock() - start
        elif action == "pipe_read":
            with open(req["path"], "rb") as fifo:  # blocks until the writer opens its end
                start = clock()
                counter = CountingReader(fifo)
                with pa.ipc.open_stream(pa.PythonFile(counter, mode="r")) as reader:
                    got = reader.read_all()
                for chunk in got.to_batches():
                    touch_batch(chunk)
                elapsed = clock() - start
                moved = counter.count
                del got
        else:
            raise InvalidArgument("-", f"unknown bench action {action!r}")
        seconds.append(elapsed)
    return {"seconds": seconds, "bytes": moved}


class Handler:
    """One method per protocol operation; segments live in ``self.segments``."""

    name = "python-reference"

    def __init__(self) -> None:
        self.segments: dict[str, Segment] = {}
        self._count = 0

    def seg(self, req: Json, closed_ok: bool = False) -> Segment:
        """The request's segment; after ``close`` a handle serves only ``close`` and ``unlink`` (peer protocol)."""
        handle = req.get("segment")
        if handle not in self.segments:
            raise InvalidArgument("-", f"unknown segment handle {handle!r}")
        segment = self.segments[handle]
        if segment.closed and not closed_ok:
            raise InvalidArgument("-", f"segment handle {handle!r} is closed")
        return segment

    def _keep(self, segment: Segment) -> Json:
        self._count += 1
        handle = f"s{self._count}"
        self.segments[handle] = segment
        return {"segment": handle, "name": segment.name, "size": segment.size}

    def op_hello(self, req: Json) -> Json:
        return {"name": self.name, "version": vgis.__version__, "language": "python", "protocol": 1,
                "arrow": {"library": "pyarrow", "version": pa.__version__}, "capabilities": CAPABILITIES,
                "min_batch_bytes": 0}

    def op_shutdown(self, req: Json) -> Json:
        for segment in self.segments.values():
            segment.close()
            if segment.owner:
                segment.unlink()
        self.segments.clear()
        return {}

    def op_create(self, req: Json) -> Json:
        return self._keep(Segment.create(req["name"], req["size"]))

    def op_attach(self, req: Json) -> Json:
        return self._keep(Segment.attach(req["name"], req.get("size")))

    def op_close(self, req: Json) -> Json:
        self.seg(req, closed_ok=True).close()
        return {}

    def op_unlink(self, req: Json) -> Json:
        self.seg(req, closed_ok=True).unlink()
        return {}

    def op_header(self, req: Json) -> Json:
        length = int(req["length"])
        if not 0 <= length <= HEADER_SIZE:
            raise OutOfBounds("-", f"header length {length} is not within the {HEADER_SIZE}-byte header")
        return {"hex": self.seg(req).header_bytes(length).hex()}

    def op_allocate(self, req: Json) -> Json:
        return {"offset": self.seg(req).allocator.allocate(int(req["size"]))}

    def op_free(self, req: Json) -> Json:
        self.seg(req).allocator.free(int(req["offset"]))
        return {}

    def op_allocations(self, req: Json) -> Json:
        return {"entries": [list(e) for e in self.seg(req).allocator.entries()]}

    def op_shrink(self, req: Json) -> Json:
        self.seg(req).allocator.shrink(int(req["offset"]), int(req["length"]))
        return {}

    def op_reset(self, req: Json) -> Json:
        self.seg(req).allocator.reset()
        return {}

    def op_write(self, req: Json) -> Json:
        _, batch = read_file(req["batch"])
        if batch is None:
            raise InvalidArgument("WRITE-4", "batch file holds no batch")
        placed = region.write_batch(self.seg(req), batch)
        return {"offset": None, "length": None} if placed is None else {"offset": placed[0], "length": placed[1]}

    def op_read(self, req: Json) -> Json:
        schema, _ = read_file(req["schema"])
        batch = region.read_batch(self.seg(req), int(req["offset"]), int(req["length"]), schema)
        save(req["out"], batch)
        return {"rows": batch.num_rows}

    def op_make_pointer(self, req: Json) -> Json:
        schema, _ = read_file(req["schema"])
        batch, md = pointer.make_pointer(schema, int(req["offset"]), int(req["length"]))
        save(req["out"], batch)
        return {"metadata": to_str(md)}

    def op_resolve(self, req: Json) -> Json:
        schema, batch = read_file(req["batch"])
        res = pointer.resolve(batch if batch is not None else pointer.empty_batch(schema),
                              to_bytes(req.get("metadata") or {}), self.seg(req))
        save(req["out"], res.batch)
        return {"pointer": res.release_offset is not None, "release_offset": res.release_offset,
                "metadata": to_str(res.metadata)}

    def op_maybe_write(self, req: Json) -> Json:
        schema, batch = read_file(req["batch"])
        given = batch if batch is not None else pointer.empty_batch(schema)
        out, md = pointer.maybe_write(given, to_bytes(req.get("metadata") or {}), self.seg(req))
        save(req["out"], out)
        return {"pointer": out is not given, "metadata": to_str(md)}

    def op_advertise(self, req: Json) -> Json:
        return {"metadata": to_str(pointer.advertise(self.seg(req)))}

    def op_bench(self, req: Json) -> Json:
        segment = self.seg(req)
        _, batch = read_file(req["batch"])
        if batch is None:
            raise InvalidArgument("-", "bench: the batch file holds no batch")
        repeat = int(req.get("repeat", 1))
        if repeat < 1:
            raise InvalidArgument("-", f"bench: repeat must be >= 1, got {repeat}")

        def resolve(schema: pa.Schema, offset: int, length: int) -> Callable[[], pa.RecordBatch]:
            ptr, md = pointer.make_pointer(schema, offset, length)
            return lambda: pointer.resolve(ptr, md, segment).batch

        return bench(str(req["action"]), req, batch, repeat, lambda b: region.write_batch(segment, b),
                     segment.allocator.free, resolve, segment.buf)


def serve(handler: Handler, stdin: Any = None, stdout: Any = None) -> None:
    """Answer requests line by line until ``shutdown`` or end of input."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    for line in stdin:
        if not line.strip():
            continue
        req_id: Any = None
        op = ""
        try:
            req = json.loads(line)
            req_id, op = req.get("id"), str(req.get("op"))
            method: Callable[[Json], Json] | None = getattr(handler, f"op_{op}", None)
            if method is None:
                raise Unsupported("-", f"unknown or unsupported op {op!r}")
            resp = {"id": req_id, "ok": True, **method(req)}
        except VgisError as exc:
            resp = {"id": req_id, "ok": False, "error": {"kind": exc.kind, "message": str(exc)}}
        except (KeyError, TypeError, ValueError) as exc:
            resp = {"id": req_id, "ok": False, "error": {"kind": "bad_request", "message": repr(exc)}}
        except Exception as exc:
            resp = {"id": req_id, "ok": False, "error": {"kind": "internal", "message": repr(exc)}}
        stdout.write(json.dumps(resp) + "\n")
        stdout.flush()
        if op == "shutdown":
            return
    handler.op_shutdown({})


if __name__ == "__main__":
    serve(Handler())
