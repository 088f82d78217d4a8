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
import os
import struct
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import version as dist_version
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import pyarrow as pa
import vgi_rpc.shm as shm
from vgi_rpc.metadata import SHM_OFFSET_KEY, SHM_SEGMENT_NAME_KEY, SHM_SEGMENT_SIZE_KEY
from vgi_rpc.rpc._wire import _write_request

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk" / "python"))

import vgis_peer as sdk
from vgis_peer import PeerError, integer, read_file, save, string

Json = dict[str, Any]
NAME = "vgi-rpc-python"
CAPABILITIES = sdk.manifest_capabilities(__file__)


def to_kv(req: Json) -> pa.KeyValueMetadata | None:
    """The request's metadata as the package takes it; no keys is ``None``, as an IPC reader reports it."""
    md = sdk.metadata(req)
    return pa.KeyValueMetadata(sdk.to_bytes(md)) if md else None


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
    if isinstance(exc, PeerError):
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
        self.handles: sdk.Handles[shm.ShmSegment] = sdk.Handles()

    def seg(self, req: Json) -> shm.ShmSegment:
        return self.handles.get(req).segment

    def _keep(self, segment: shm.ShmSegment, owner: bool) -> Json:
        return {"segment": self.handles.add(segment, owner), "name": segment.name, "size": segment.size}

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
        for h in self.handles.by_key.values():
            if not h.closed:
                h.segment.close()
                h.closed = True
            if h.owner and not h.unlinked:
                with contextlib.suppress(FileNotFoundError):
                    h.segment.unlink()
                h.unlinked = True
        self.handles.by_key.clear()
        return {}

    def op_create(self, req: Json) -> Json:
        name, size = string(req, "name"), integer(req, "size")
        # Upstream's ShmSegment.create(size) calls SharedMemory(create=True, size=size)
        # with a random name; bind the requested name (and track=False) and run it as is.
        # The module's namespace is patched through vars(): the same store as attribute assignment,
        # without claiming that the partial is the class (or that vgi_rpc.shm exports the name).
        namespace = vars(shm)
        original = namespace["SharedMemory"]
        namespace["SharedMemory"] = functools.partial(SharedMemory, name=name, track=False)
        try:
            segment = shm.ShmSegment.create(size)
        finally:
            namespace["SharedMemory"] = original
        return self._keep(segment, owner=True)

    def op_attach(self, req: Json) -> Json:
        name = string(req, "name")
        size = integer(req, "size") if req.get("size") is not None else None
        # Without an advertised size, pass the object's own: releases from 0.10.0 ignore the
        # argument (they map and check the fstat size), earlier ones check the header against it.
        segment = shm.ShmSegment.attach(name, size if size is not None else object_size(name), track=False)
        return self._keep(segment, owner=False)

    def op_close(self, req: Json) -> Json:
        h = self.handles.get(req, open_only=False)
        if not h.closed:
            h.segment.close()
            h.closed = True
        return {}

    def op_unlink(self, req: Json) -> Json:
        h = self.handles.get(req, open_only=False)
        if not h.owner:
            raise PeerError(
                "bad_request", f"[LIFE-10] {h.segment.name!r} was attached, not created: an attacher never unlinks"
            )
        if not h.unlinked:
            with contextlib.suppress(FileNotFoundError):
                h.segment.unlink()
            h.unlinked = True
        return {}

    def op_header(self, req: Json) -> Json:
        length = integer(req, "length")
        if length < 0:
            raise PeerError("bad_request", f"length must be >= 0, got {length}")
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
            raise PeerError("bad_request", "[WRITE-4] zero-row batch: vgi_rpc.shm.maybe_write_to_shm never writes one")
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
        return {"metadata": sdk.to_str(md)}

    def op_resolve(self, req: Json) -> Json:
        segment = self.seg(req)
        schema, batch = read_file(req.get("batch"))
        given = batch if batch is not None else sdk.empty_batch(schema)
        batch_out, md, release_fn = shm.resolve_shm_batch(given, to_kv(req), segment)
        save(req["out"], batch_out)
        del batch_out, given, batch
        return {
            "pointer": release_fn is not None,
            "release_offset": release_offset(release_fn, req),
            "metadata": sdk.to_str(md),
        }

    def op_maybe_write(self, req: Json) -> Json:
        segment = self.seg(req)
        schema, batch = read_file(req.get("batch"))
        given = batch if batch is not None else sdk.empty_batch(schema)
        out, md = shm.maybe_write_to_shm(given, to_kv(req), segment)
        save(req["out"], out)
        return {"pointer": out is not given, "metadata": sdk.to_str(md)}

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
        return {"metadata": sdk.to_str({k: v for k, v in (md or {}).items() if k in keys})}

    def op_bench(self, req: Json) -> Json:
        # write is ShmSegment.allocate_and_write called directly, so the package's
        # size gate (SHM_MIN_BATCH_BYTES, applied by maybe_write_to_shm) stays out of the way.
        segment = self.seg(req)

        def resolve(schema: pa.Schema, offset: int, length: int) -> Callable[[], pa.RecordBatch]:
            ptr, md = shm.make_shm_pointer_batch(schema, offset, length)
            return lambda: shm.resolve_shm_batch(ptr, md, segment)[0]

        buf = segment.buf
        assert buf is not None
        return sdk.bench(req, segment.allocate_and_write, segment.free, resolve, buf)


def release_offset(release_fn: Any, req: Json) -> int | None:
    """The offset the package's ``release_fn`` would free: its closure's ``offset``."""
    if release_fn is None:
        return None
    cells = dict(zip(release_fn.__code__.co_freevars, release_fn.__closure__ or (), strict=False))
    if "offset" in cells:
        return int(cells["offset"].cell_contents)
    return int((req.get("metadata") or {})[SHM_OFFSET_KEY.decode()])  # as resolve_shm_batch parses it


if __name__ == "__main__":
    sdk.serve(Handler(), classify)
