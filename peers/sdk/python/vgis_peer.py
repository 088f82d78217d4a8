"""The Python peer SDK: the plumbing of docs/peer-protocol.md, so that an adapter is only its library's calls.

A peer is an object with one ``op_<name>(req) -> dict`` method per operation
it supports; :func:`serve` runs the JSON-lines loop around it: parsing,
``unsupported`` for a missing method, ``bad_request`` for a malformed line,
the error kinds of :class:`PeerError`, everything else through the peer's
``classify`` (``internal`` by default, with the traceback on stderr), and the
shutdown at end of input. The helpers below read arguments with the
protocol's error kinds, read and write batch and schema files, convert
metadata, and run the ``bench`` op's timing loops with the library's own
write, free and resolve.

It needs only pyarrow and the standard library, because an upstream peer runs
in its own venv without the kit (peers/vgi-rpc-python); the peers import it
from this folder (``peers/sdk/python``), in a clone and in the installed wheel.
"""

from __future__ import annotations

import io
import json
import sys
import time
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

Json = dict[str, Any]
PROTOCOL = 1
DATA_START = 65_536
"""Where the bench ``memcpy`` action copies to: the first byte of the data area."""

T = TypeVar("T")


class PeerError(Exception):
    """An error answer with its protocol kind (``bad_request``, ``unsupported``, ``bad_header``, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# --- arguments ----------------------------------------------------------------------


def integer(req: Json, key: str) -> int:
    """An integer argument (exact: JSON integers are Python ints); ``bad_request`` when missing or not one."""
    value = req.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PeerError("bad_request", f"{key} must be an integer, got {value!r}")
    return value


def string(req: Json, key: str) -> str:
    """A string argument; ``bad_request`` when missing or not one."""
    value = req.get(key)
    if not isinstance(value, str):
        raise PeerError("bad_request", f"{key} must be a string, got {value!r}")
    return value


def metadata(req: Json) -> dict[str, str]:
    """The ``metadata`` argument: an object of strings (absent is empty)."""
    md = req.get("metadata")
    if md is None:
        return {}
    if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
        raise PeerError("bad_request", f"metadata must be an object of strings, got {md!r}")
    return md


def to_bytes(md: dict[str, str]) -> dict[bytes, bytes]:
    """JSON metadata as Arrow keeps it."""
    return {k.encode(): v.encode() for k, v in md.items()}


def to_str(md: Any) -> dict[str, str]:
    """Arrow metadata (a dict or KeyValueMetadata of bytes, or None) as JSON strings."""
    if md is None:
        return {}
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in md.items()}


# --- handles ------------------------------------------------------------------------


@dataclass
class Handle(Generic[T]):
    """One segment the peer holds, with the state the protocol's close and unlink need."""

    segment: T
    owner: bool
    closed: bool = False
    unlinked: bool = False


class Handles(Generic[T]):
    """Segments by handle (``s1``, ``s2``, ...); after ``close`` a handle serves only ``close`` and ``unlink``."""

    def __init__(self) -> None:
        self.by_key: dict[str, Handle[T]] = {}
        self._count = 0

    def add(self, segment: T, owner: bool) -> str:
        """Keep ``segment`` and return its new handle."""
        self._count += 1
        key = f"s{self._count}"
        self.by_key[key] = Handle(segment, owner)
        return key

    def get(self, req: Json, *, open_only: bool = True) -> Handle[T]:
        """The request's handle; ``bad_request`` when unknown, or closed and ``open_only``."""
        key = req.get("segment")
        if key not in self.by_key:
            raise PeerError("bad_request", f"unknown segment handle {key!r}")
        handle = self.by_key[key]
        if open_only and handle.closed:
            raise PeerError("bad_request", f"segment {key!r} is closed")
        return handle


# --- batch and schema files ------------------------------------------------------------


def read_file(path: Any) -> tuple[pa.Schema, pa.RecordBatch | None]:
    """Schema and first batch of a batch or schema file (an Arrow IPC stream)."""
    if not isinstance(path, str):
        raise PeerError("bad_request", f"no such batch or schema file: {path!r}")
    try:
        source = pa.memory_map(path)
    except FileNotFoundError:
        raise PeerError("bad_request", f"no such batch or schema file: {path!r}") from None
    with pa.ipc.open_stream(source) as reader:
        return reader.schema, next(iter(reader), None)


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A zero-row batch for a file that holds only a schema."""
    return pa.RecordBatch.from_arrays([pa.nulls(0, type=f.type) for f in schema], schema=schema)


def save(path: str, batch: pa.RecordBatch) -> None:
    """Write one batch as an IPC stream file."""
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)


# --- the bench op ---------------------------------------------------------------------


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


Write = Callable[[pa.RecordBatch], "tuple[int, int] | None"]
Resolve = Callable[[pa.Schema, int, int], Callable[[], pa.RecordBatch]]


def bench_request(req: Json) -> tuple[pa.RecordBatch, int]:
    """The ``bench`` op's batch (with rows) and ``repeat`` (at least 1), or ``bad_request``."""
    _, batch = read_file(req.get("batch"))
    if batch is None or batch.num_rows == 0:
        raise PeerError("bad_request", "bench: the batch file holds no rows")
    repeat = integer(req, "repeat") if "repeat" in req else 1
    if repeat < 1:
        raise PeerError("bad_request", f"bench: repeat must be >= 1, got {repeat}")
    return batch, repeat


def bench(req: Json, write: Write, free: Callable[[int], None], resolve: Resolve, buf: memoryview) -> Json:
    """The ``bench`` op's timing loops; ``write``, ``free`` and ``resolve`` are the library's own paths.

    ``resolve(schema, offset, length)`` builds the pointer batch (untimed) and returns the timed call.
    """
    batch, repeat = bench_request(req)
    action = str(req.get("action"))
    seconds: list[float] = []
    moved = 0
    clock = time.perf_counter
    source = b""
    resolved: Callable[[], pa.RecordBatch] | None = None
    if action == "memcpy":
        length = integer(req, "length")
        if length <= 0 or DATA_START + length > len(buf):
            raise PeerError("bad_request", f"bench memcpy: {length} bytes do not fit after byte {DATA_START}")
        source = b"\x5a" * length  # private memory, every page touched before the clock starts
    elif action == "resolve":
        resolved = resolve(batch.schema, integer(req, "offset"), integer(req, "length"))
    for _ in range(repeat):
        if action == "write":
            start = clock()
            placed = write(batch)
            elapsed = clock() - start
            if placed is None:
                raise PeerError("bad_request", "bench write: the batch does not fit in the segment")
            free(placed[0])
            moved = placed[1]
        elif action == "resolve" and resolved is not None:
            start = clock()
            touch_batch(resolved())
            elapsed = clock() - start
            moved = integer(req, "length")
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
            raise PeerError("bad_request", f"unknown bench action {action!r}")
        seconds.append(elapsed)
    return {"seconds": seconds, "bytes": moved}


# --- the loop -----------------------------------------------------------------------


Classify = Callable[[str, BaseException], "tuple[str, str]"]


def default_classify(op: str, exc: BaseException) -> tuple[str, str]:
    """A PeerError's own kind; a malformed argument (KeyError, TypeError, ValueError) is ``bad_request``."""
    if isinstance(exc, PeerError):
        return exc.kind, str(exc)
    if isinstance(exc, (KeyError, TypeError, ValueError)):
        return "bad_request", repr(exc)
    return "internal", repr(exc)


def answer(peer: Any, line: str, classify: Classify) -> tuple[str, Json]:
    """(op, response) for one request line."""
    req_id: Any = None
    op = ""
    try:
        try:
            req = json.loads(line)
        except ValueError as exc:
            raise PeerError("bad_request", f"not a JSON line: {exc}") from None
        if not isinstance(req, dict):
            raise PeerError("bad_request", "a request is a JSON object")
        req_id, op = req.get("id"), str(req.get("op"))
        method: Callable[[Json], Json] | None = getattr(peer, f"op_{op}", None)
        if method is None:
            raise PeerError("unsupported", f"unknown or unsupported op {op!r}")
        return op, {"id": req_id, "ok": True, **method(req)}
    except Exception as exc:
        kind, message = classify(op, exc)
        if kind == "internal":
            traceback.print_exc(file=sys.stderr)
        return op, {"id": req_id, "ok": False, "error": {"kind": kind, "message": message}}


def manifest_capabilities(peer_file: str) -> list[str]:
    """The capabilities of the peer.toml beside ``peer_file``, for ``hello`` to answer.

    The harness refuses a peer whose ``hello`` and manifest disagree; answering the manifest's own list
    leaves one place to change when a peer gains an operation.
    """
    with Path(peer_file).with_name("peer.toml").open("rb") as manifest:
        return [str(c) for c in tomllib.load(manifest)["capabilities"]]


def serve(
    peer: Any, classify: Classify = default_classify, stdin: IO[str] | None = None, stdout: IO[str] | None = None
) -> None:
    """Answer requests line by line until ``shutdown``, or end of input (then shut down as if asked)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    for line in stdin:
        if not line.strip():
            continue
        op, response = answer(peer, line, classify)
        stdout.write(json.dumps(response) + "\n")
        stdout.flush()
        if op == "shutdown":
            return
    peer.op_shutdown({})
