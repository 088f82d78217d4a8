"""Peer-protocol adapter over the upstream vgi-rpc package (``vgi_rpc.shm``).

Runs in the venv build.py makes (Python >= 3.13, vgi-rpc pinned in
requirements.txt). It only translates the JSON-lines protocol of
docs/peer-protocol.md: every format decision (header, allocator, framing,
pointer metadata, size gate) is made by ``vgi_rpc.shm``. Where the package
disagrees with docs/SPEC.md, the disagreement is the package's and shows up
as a failing case, never as a fix here.

Adapter decisions, all protocol plumbing:

- ``create`` honours the requested name by running the package's own
  ``ShmSegment.create`` with its ``SharedMemory`` bound to that name (upstream
  always picks a random ``psm_*`` name); everything else in ``create`` is the
  package's code, the size check and the header initialisation included.
- Segments are opened with ``track=False``, attached ones as upstream's server
  does: the resource tracker never unlinks anything. Created segments are
  unlinked by ``unlink`` and at shutdown (or end of input) only.
- ``unlink`` of an attached segment is refused (``bad_request``, LIFE-10): the
  protocol forbids it; the package itself has no notion of an owner.
- ``write`` is ``ShmSegment.allocate_and_write``, the package's raw write path.
  A zero-row batch is refused (``bad_request``, WRITE-4) as the package's
  public write path, ``maybe_write_to_shm``, never writes one.
- The package raises plain ``ValueError``s (and lets ``struct``, ``OSError``
  and Arrow errors through); ``classify`` maps them to the protocol's error
  kinds by type and message.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import vgi_rpc.shm as shm
from vgi_rpc.metadata import SHM_OFFSET_KEY, SHM_SEGMENT_NAME_KEY, SHM_SEGMENT_SIZE_KEY
from vgi_rpc.rpc._wire import _write_request

Json = dict[str, Any]
NAME = "vgi-rpc-python"
CAPABILITIES = ["allocate", "allocations", "reset", "read", "make_pointer", "maybe_write", "advertise", "bench"]
DATA_START = 65_536  # where the memcpy action copies to: the first byte of the data area


class ProtocolError(Exception):
    """An error response decided by the adapter itself (not by the package)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Handle:
    """One segment the peer holds."""

    segment: shm.ShmSegment
    owner: bool
    closed: bool = False
    unlinked: bool = False


# --- files and metadata -------------------------------------------------------


def read_file(path: str) -> tuple[pa.Schema, pa.RecordBatch | None]:
    """Schema and first batch of a batch or schema file (an Arrow IPC stream)."""
    if not isinstance(path, str) or not os.path.isfile(path):
        raise ProtocolError("bad_request", f"no such batch or schema file: {path!r}")
    with pa.ipc.open_stream(pa.memory_map(path)) as reader:
        return reader.schema, next(iter(reader), None)


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A zero-row batch for a file that holds only a schema (as upstream builds pointer batches)."""
    return pa.RecordBatch.from_arrays([pa.nulls(0, type=f.type) for f in schema], schema=schema)


def save(path: str, batch: pa.RecordBatch) -> None:
    """Write one batch as an IPC stream file."""
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)


def to_kv(md: Any) -> pa.KeyValueMetadata | None:
    """JSON metadata to what the package takes; no keys is ``None``, as an IPC reader reports it."""
    if md is None:
        return None
    if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
        raise ProtocolError("bad_request", f"metadata must be an object of strings, got {md!r}")
    return pa.KeyValueMetadata({k.encode(): v.encode() for k, v in md.items()}) if md else None


def from_kv(md: pa.KeyValueMetadata | dict[bytes, bytes] | None) -> dict[str, str]:
    if md is None:
        return {}
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in md.items()}


def object_size(name: str) -> int:
    """The size of the object ``name`` (as an attacher would open it), or 0 when it cannot be opened."""
    try:
        probe = SharedMemory(name=name, track=False)
    except (OSError, ValueError):
        return 0
    try:
        return probe.size
    finally:
        probe.close()


def integer(req: Json, key: str) -> int:
    value = req.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError("bad_request", f"{key} must be an integer, got {value!r}")
    return value


# --- the bench op's timing loops ---------------------------------------------


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

    A copy of peers/python-reference/peer.py's loop (this peer runs in its own venv, without the kit).
    """
    seconds: list[float] = []
    moved = 0
    clock = time.perf_counter
    source = b""
    resolved: Callable[[], pa.RecordBatch] | None = None
    if action == "memcpy":
        length = int(req["length"])
        if length <= 0 or DATA_START + length > len(buf):
            raise ProtocolError("bad_request", f"bench memcpy: {length} bytes do not fit after byte {DATA_START}")
        source = b"\x5a" * length  # private memory, every page touched before the clock starts
    elif action == "resolve":
        resolved = resolve(batch.schema, int(req["offset"]), int(req["length"]))
    for _ in range(repeat):
        if action == "write":
            start = clock()
            placed = write(batch)
            elapsed = clock() - start
            if placed is None:
                raise ProtocolError("bad_request", "bench write: the batch does not fit in the segment")
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
            raise ProtocolError("bad_request", f"unknown bench action {action!r}")
        seconds.append(elapsed)
    return {"seconds": seconds, "bytes": moved}


# --- error mapping ------------------------------------------------------------

HEADER_MESSAGES = ("Bad SHM magic", "Unsupported SHM version", "data_size mismatch", "cannot mmap an empty file")
REQUEST_MESSAGES = ("Allocation size must be positive", "Segment size must be >", "'size' must be a positive")


def raised_by_pyarrow(exc: BaseException) -> bool:
    """True when the innermost frame of the traceback is pyarrow's (its Cython .pxi sources included)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(("pyarrow/", os.path.dirname(pa.__file__)))


def classify(op: str, exc: BaseException) -> tuple[str, str]:
    """(kind, message) for an exception raised while answering ``op``."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ProtocolError):
        return exc.kind, str(exc)
    if isinstance(exc, pa.ArrowException):
        return "ipc_error", message
    if op in ("read", "resolve"):
        # pyarrow reports a short or malformed stream as a plain OSError
        # ("Expected to be able to read N bytes for message body"), and a
        # stream with no record batch as StopIteration from read_next_batch.
        if isinstance(exc, OSError) and raised_by_pyarrow(exc):
            return "ipc_error", message
        if isinstance(exc, StopIteration):
            return "ipc_error", "StopIteration: the region holds no record batch (read_next_batch)"
    text = str(exc)
    if isinstance(exc, ValueError):
        if any(m in text for m in HEADER_MESSAGES):
            return "bad_header", message
        if "No allocation at offset" in text:
            return "no_allocation", message
        if any(m in text for m in REQUEST_MESSAGES):
            return "bad_request", message
        if op == "resolve" and "invalid literal for int()" in text:
            return "bad_pointer", message + " (int() of the pointer metadata)"
    if isinstance(exc, struct.error):
        # The package unpacks the header with struct: an object too small for
        # the fixed fields on attach, or a table running past the mapping.
        return "bad_header", message
    if isinstance(exc, AssertionError) and op == "resolve":
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        if "offset_bytes" in (frame.line or ""):
            return "bad_pointer", f"pointer metadata lacks a key (vgi_rpc.shm assertion: {frame.line})"
    if isinstance(exc, OSError) and op in ("create", "attach"):
        return "bad_name", message
    if isinstance(exc, ValueError) and op in ("create", "attach") and "embedded null character" in text:
        # the standard library's shm_open refuses the name before opening anything
        return "bad_name", message
    if isinstance(exc, (KeyError, TypeError)):
        return "bad_request", message
    return "internal", message


# --- the operations -----------------------------------------------------------


class Handler:
    """One method per protocol operation."""

    def __init__(self) -> None:
        self.handles: dict[str, Handle] = {}
        self._count = 0

    def handle(self, req: Json, *, open_only: bool = True) -> Handle:
        key = req.get("segment")
        if key not in self.handles:
            raise ProtocolError("bad_request", f"unknown segment handle {key!r}")
        h = self.handles[key]
        if open_only and h.closed:
            raise ProtocolError("bad_request", f"segment {key!r} is closed")
        return h

    def seg(self, req: Json) -> shm.ShmSegment:
        return self.handle(req).segment

    def _keep(self, segment: shm.ShmSegment, owner: bool) -> Json:
        self._count += 1
        key = f"s{self._count}"
        self.handles[key] = Handle(segment, owner)
        return {"segment": key, "name": segment.name, "size": segment.size}

    def op_hello(self, req: Json) -> Json:
        return {
            "name": NAME,
            "version": dist_version("vgi-rpc"),
            "language": "python",
            "protocol": 1,
            "arrow": {"library": "pyarrow", "version": pa.__version__},
            "capabilities": CAPABILITIES,
            # Releases before 0.22.0 have no size gate (docs/versions.md).
            "min_batch_bytes": getattr(shm, "SHM_MIN_BATCH_BYTES", 0),
        }

    def op_shutdown(self, req: Json) -> Json:
        for h in self.handles.values():
            if not h.closed:
                h.segment.close()
                h.closed = True
            if h.owner and not h.unlinked:
                with contextlib.suppress(FileNotFoundError):
                    h.segment.unlink()
                h.unlinked = True
        self.handles.clear()
        return {}

    def op_create(self, req: Json) -> Json:
        name, size = req.get("name"), integer(req, "size")
        if not isinstance(name, str):
            raise ProtocolError("bad_request", f"name must be a string, got {name!r}")
        # Upstream's ShmSegment.create(size) calls SharedMemory(create=True, size=size)
        # with a random name; bind the requested name (and track=False) and run it as is.
        original = shm.SharedMemory
        shm.SharedMemory = functools.partial(SharedMemory, name=name, track=False)  # type: ignore[misc]
        try:
            segment = shm.ShmSegment.create(size)
        finally:
            shm.SharedMemory = original  # type: ignore[misc]
        return self._keep(segment, owner=True)

    def op_attach(self, req: Json) -> Json:
        name, size = req.get("name"), req.get("size")
        if not isinstance(name, str):
            raise ProtocolError("bad_request", f"name must be a string, got {name!r}")
        if size is not None:
            size = integer(req, "size")
        # Without an advertised size, pass the object's own: releases from 0.10.0 ignore the
        # argument (they map and check the fstat size), earlier ones check the header against it.
        segment = shm.ShmSegment.attach(name, size if size is not None else object_size(name), track=False)
        return self._keep(segment, owner=False)

    def op_close(self, req: Json) -> Json:
        h = self.handle(req, open_only=False)
        if not h.closed:
            h.segment.close()
            h.closed = True
        return {}

    def op_unlink(self, req: Json) -> Json:
        h = self.handle(req, open_only=False)
        if not h.owner:
            raise ProtocolError("bad_request", f"[LIFE-10] {h.segment.name!r} was attached, not created: "
                                               "an attacher never unlinks")
        if not h.unlinked:
            with contextlib.suppress(FileNotFoundError):
                h.segment.unlink()
            h.unlinked = True
        return {}

    def op_header(self, req: Json) -> Json:
        length = integer(req, "length")
        if length < 0:
            raise ProtocolError("bad_request", f"length must be >= 0, got {length}")
        return {"hex": bytes(self.seg(req).buf[:length]).hex()}

    def op_allocate(self, req: Json) -> Json:
        return {"offset": self.seg(req).allocator.allocate(integer(req, "size"))}

    def op_free(self, req: Json) -> Json:
        self.seg(req).free(integer(req, "offset"))
        return {}

    def op_allocations(self, req: Json) -> Json:
        return {"entries": [[o, n] for o, n in self.seg(req).allocator._read_allocs()]}

    def op_reset(self, req: Json) -> Json:
        self.seg(req).reset()
        return {}

    def op_write(self, req: Json) -> Json:
        segment = self.seg(req)
        _, batch = read_file(req.get("batch"))
        if batch is None or batch.num_rows == 0:
            raise ProtocolError("bad_request", "[WRITE-4] zero-row batch: vgi_rpc.shm.maybe_write_to_shm "
                                               "never writes one")
        placed = segment.allocate_and_write(batch)
        del batch
        return {"offset": None, "length": None} if placed is None else {"offset": placed[0], "length": placed[1]}

    def op_read(self, req: Json) -> Json:
        segment = self.seg(req)
        schema, _ = read_file(req.get("schema"))
        offset, length = integer(req, "offset"), integer(req, "length")
        batch = shm._deserialize_from_shm(segment.read_buffer(offset, length), schema)
        save(req["out"], batch)
        return {"rows": batch.num_rows}

    def op_make_pointer(self, req: Json) -> Json:
        schema, _ = read_file(req.get("schema"))
        batch, md = shm.make_shm_pointer_batch(schema, integer(req, "offset"), integer(req, "length"))
        save(req["out"], batch)
        return {"metadata": from_kv(md)}

    def op_resolve(self, req: Json) -> Json:
        segment = self.seg(req)
        schema, batch = read_file(req.get("batch"))
        given = batch if batch is not None else empty_batch(schema)
        batch_out, md, release_fn = shm.resolve_shm_batch(given, to_kv(req.get("metadata")), segment)
        save(req["out"], batch_out)
        del batch_out, given, batch
        return {"pointer": release_fn is not None, "release_offset": release_offset(release_fn, req),
                "metadata": from_kv(md)}

    def op_maybe_write(self, req: Json) -> Json:
        segment = self.seg(req)
        schema, batch = read_file(req.get("batch"))
        given = batch if batch is not None else empty_batch(schema)
        out, md = shm.maybe_write_to_shm(given, to_kv(req.get("metadata")), segment)
        save(req["out"], out)
        return {"pointer": out is not given, "metadata": from_kv(md)}

    def op_advertise(self, req: Json) -> Json:
        # Upstream advertises a segment only inside a request batch it writes
        # (rpc._wire._write_request(..., shm=segment)); write one and return
        # the two advertisement keys of its custom metadata.
        segment = self.seg(req)
        sink = io.BytesIO()
        _write_request(sink, "vgis_conformance.advertise", pa.schema([]), {}, shm=segment)
        with pa.ipc.open_stream(sink.getvalue()) as reader:
            _, md = reader.read_next_batch_with_custom_metadata()
        keys = (SHM_SEGMENT_NAME_KEY, SHM_SEGMENT_SIZE_KEY)
        return {"metadata": from_kv({k: v for k, v in (md or {}).items() if k in keys})}

    def op_bench(self, req: Json) -> Json:
        # write is ShmSegment.allocate_and_write called directly, so the package's
        # size gate (SHM_MIN_BATCH_BYTES, applied by maybe_write_to_shm) stays out of the way.
        segment = self.seg(req)
        _, batch = read_file(req.get("batch"))
        if batch is None or batch.num_rows == 0:
            raise ProtocolError("bad_request", "bench: the batch file holds no rows")
        repeat = integer(req, "repeat") if "repeat" in req else 1
        if repeat < 1:
            raise ProtocolError("bad_request", f"bench: repeat must be >= 1, got {repeat}")

        def resolve(schema: pa.Schema, offset: int, length: int) -> Callable[[], pa.RecordBatch]:
            ptr, md = shm.make_shm_pointer_batch(schema, offset, length)
            return lambda: shm.resolve_shm_batch(ptr, md, segment)[0]

        buf = segment.buf
        assert buf is not None
        return bench(str(req.get("action")), req, batch, repeat, segment.allocate_and_write, segment.free,
                     resolve, buf)


def release_offset(release_fn: Any, req: Json) -> int | None:
    """The offset the package's ``release_fn`` would free: its closure's ``offset``."""
    if release_fn is None:
        return None
    cells = dict(zip(release_fn.__code__.co_freevars, release_fn.__closure__ or (), strict=False))
    if "offset" in cells:
        return int(cells["offset"].cell_contents)
    return int((req.get("metadata") or {})[SHM_OFFSET_KEY.decode()])  # as resolve_shm_batch parses it


# --- the loop -----------------------------------------------------------------


def serve(handler: Handler) -> None:
    """Answer requests line by line until ``shutdown`` or end of input."""
    for line in sys.stdin:
        if not line.strip():
            continue
        req_id: Any = None
        op = ""
        try:
            try:
                req = json.loads(line)
            except ValueError as exc:
                raise ProtocolError("bad_request", f"not a JSON line: {exc}") from None
            if not isinstance(req, dict):
                raise ProtocolError("bad_request", "a request is a JSON object")
            req_id, op = req.get("id"), str(req.get("op"))
            method = getattr(handler, f"op_{op}", None)
            if method is None:
                raise ProtocolError("unsupported", f"unknown or unsupported op {op!r}")
            resp = {"id": req_id, "ok": True, **method(req)}
        except Exception as exc:
            kind, message = classify(op, exc)
            if kind == "internal":
                traceback.print_exc(file=sys.stderr)
            resp = {"id": req_id, "ok": False, "error": {"kind": kind, "message": message}}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()
        if op == "shutdown":
            return
    handler.op_shutdown({})


if __name__ == "__main__":
    serve(Handler())
