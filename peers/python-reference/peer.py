"""Peer-protocol adapter over the reference implementation (reference/vgis).

All of its logic is the protocol: every format decision is the reference's.
``Handler`` has one method per operation so that the kit's deliberately
broken peers (tests/broken_peers) can override exactly one behaviour.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk" / "python"))

import vgis_peer as sdk

import vgis
from vgis import pointer, region
from vgis.decoding import Validation
from vgis.errors import InvalidArgument, OutOfBounds, VgisError
from vgis.header import HEADER_SIZE
from vgis.segment import Segment

Json = dict[str, Any]
CAPABILITIES = sdk.manifest_capabilities(__file__)
read_file, save, to_str = sdk.read_file, sdk.save, sdk.to_str


to_bytes: Callable[[dict[str, str]], pointer.Metadata] = sdk.to_bytes


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
        if not segment.closed:
            segment.check_live()
        return segment

    def _keep(self, segment: Segment) -> Json:
        self._count += 1
        handle = f"s{self._count}"
        self.segments[handle] = segment
        return {"segment": handle, "name": segment.name, "size": segment.size}

    def op_hello(self, req: Json) -> Json:
        return {
            "name": self.name,
            "version": vgis.__version__,
            "language": "python",
            "protocol": 1,
            "arrow": {"library": "pyarrow", "version": pa.__version__},
            "capabilities": CAPABILITIES,
            "min_batch_bytes": 0,
        }

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
        res = pointer.resolve(
            batch if batch is not None else pointer.empty_batch(schema),
            to_bytes(req.get("metadata") or {}),
            self.seg(req),
        )
        save(req["out"], res.batch)
        return {
            "pointer": res.release_offset is not None,
            "release_offset": res.release_offset,
            "metadata": to_str(res.metadata),
        }

    def op_maybe_write(self, req: Json) -> Json:
        schema, batch = read_file(req["batch"])
        given = batch if batch is not None else pointer.empty_batch(schema)
        out, md = pointer.maybe_write(given, to_bytes(req.get("metadata") or {}), self.seg(req))
        save(req["out"], out)
        return {"pointer": out is not given, "metadata": to_str(md)}

    def op_advertise(self, req: Json) -> Json:
        return {"metadata": to_str(pointer.advertise(self.seg(req)))}

    def op_bench(self, req: Json) -> Json:
        """The SDK's timing loops over the reference's paths; ``resolve`` is the default (SAFE) resolve and
        ``resolve_trusted`` the same with ``Validation.TRUSTED``, what a caller that vouches for the writer
        runs (docs/peer-protocol.md, the ``bench`` operation)."""
        segment = self.seg(req)
        trusted = req.get("action") == "resolve_trusted"
        validation = Validation.TRUSTED if trusted else Validation.SAFE

        def resolve(schema: pa.Schema, offset: int, length: int) -> Callable[[], pa.RecordBatch]:
            ptr, md = pointer.make_pointer(schema, offset, length)
            return lambda: pointer.resolve(ptr, md, segment, validation).batch

        asked = {**req, "action": "resolve"} if trusted else req
        return sdk.bench(asked, lambda b: region.write_batch(segment, b), segment.allocator.free, resolve, segment.buf)


def classify(op: str, exc: BaseException) -> tuple[str, str]:
    """The reference's typed rejections carry their kind; the rest as the SDK decides."""
    if isinstance(exc, VgisError):
        return exc.kind, str(exc)
    return sdk.default_classify(op, exc)


def serve(handler: Handler, stdin: Any = None, stdout: Any = None) -> None:
    """The SDK's loop over ``handler`` (tests/broken_peers passes its own stdout)."""
    sdk.serve(handler, classify, stdin, stdout)


if __name__ == "__main__":
    serve(Handler())
