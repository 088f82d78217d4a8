"""What a case uses to drive peers: segments it owns, files, and checked calls.

Every segment a case creates is closed and unlinked when the case ends,
whatever happened; every unexpected error answer becomes an assertion that
names the peer, the operation and the error.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from vgis.pointer import LENGTH_KEY, OFFSET_KEY, empty_batch
from vgis_conformance import memory
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.peer import Peer, load_batch, save_batch, save_schema, segment_name
from vgis_conformance.protocol import Json, PeerError, PeerFailure
from vgis_conformance.session import CaseState, case_of

DEFAULT_SIZE = 65_536 + 1024 * 1024


def ok(peer: Peer, op: str, **args: Any) -> Json:
    """Call ``op`` and fail the case if the peer answers with an error."""
    try:
        return peer.call(op, **args)
    except PeerError as exc:
        raise AssertionError(f"{peer.name} rejected {op}: {exc.kind}: {exc.message}") from None


def rejects(peer: Peer, kinds: Iterable[str], op: str, **args: Any) -> PeerError:
    """Call ``op`` and fail the case unless the peer answers one of the error ``kinds``."""
    kinds = tuple(kinds)
    try:
        result = peer.call(op, **args)
    except PeerError as exc:
        assert exc.kind in kinds, f"{peer.name} rejected {op} with {exc.kind} ({exc.message}); expected {kinds}"
        return exc
    raise AssertionError(f"{peer.name} accepted {op} ({result}); expected an error of kind {kinds}")


def rejects_unchanged(seg: Seg, peer: Peer, kinds: Iterable[str], op: str, **args: Any) -> PeerError:
    """``rejects``, and the meaningful header bytes are the same afterwards (ERR-1)."""
    before = seg.map.header_bytes()
    error = rejects(peer, kinds, op, **args)
    after = seg.map.header_bytes()
    problem = header_mismatch(before, after, f"after the rejected {op}")
    assert not problem, f"ERR-1: {problem}"
    return error


def _pid(peer: Peer) -> int | None:
    return None if peer.process is None else peer.process.pid


def _live_handle(peer: Peer, pid: int | None) -> bool:
    """A handle is only meaningful to the very process that issued it, not to a restarted one."""
    return peer.process is not None and peer.process.alive and pid is not None and peer.process.pid == pid


@dataclass(repr=False)
class Seg:
    """A segment as a case sees it: who holds which handle, and a raw mapping."""

    name: str
    size: int
    handles: dict[str, str]
    creator: Peer
    pids: dict[str, int | None] = field(default_factory=dict)
    _mapping: memory.Mapping | None = None

    @property
    def map(self) -> memory.Mapping:
        """The harness's own mapping of the segment."""
        if self._mapping is None:
            self._mapping = memory.Mapping(self.name)
        return self._mapping

    def __repr__(self) -> str:
        """Short, because pytest puts a failing case's arguments in its traceback: the generated repr walked
        its creator peer, tens of milliseconds for each of hundreds of expected failures."""
        return f"Seg({self.name!r}, size={self.size})"

    def handle(self, peer: Peer) -> str:
        """The handle ``peer`` uses for this segment."""
        return self.handles[peer.name]

    def header_hex(self) -> str:
        """The meaningful header bytes as hex (for replay recipes)."""
        try:
            return self.map.header_bytes().hex()
        except (OSError, ValueError):
            return "<segment gone>"


@dataclass(repr=False)
class Kit:
    """Per-case helper; ``finish`` releases everything the case made."""

    workdir: Path
    node: pytest.Item
    segments: list[Seg] = field(default_factory=list)
    _files: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __repr__(self) -> str:
        """Short, because pytest puts a failing case's arguments in its traceback: the generated repr walked
        every segment and peer of the case, tens of milliseconds for each of hundreds of expected failures."""
        return f"Kit({self.node.nodeid!r})"

    def path(self, stem: str) -> Path:
        """A fresh file path in the session folder."""
        return self.workdir / f"{stem}-{next(self._files)}.arrows"

    def batch_file(self, batch: pa.RecordBatch) -> str:
        """Save a batch for a peer to read."""
        return str(save_batch(self.path("batch"), batch))

    def schema_file(self, schema: pa.Schema) -> str:
        """Save a schema for a peer to read."""
        return str(save_schema(self.path("schema"), schema))

    def out(self) -> str:
        """A path for a peer to write a batch to."""
        return str(self.path("out"))

    def load(self, path: str) -> pa.RecordBatch:
        """Read what a peer wrote."""
        return load_batch(Path(path))

    def create(self, peer: Peer, size: int = DEFAULT_SIZE) -> Seg:
        """Have ``peer`` create a segment; the case owns it from here."""
        result = ok(peer, "create", name=segment_name(peer.name), size=size)
        seg = Seg(
            str(result["name"]), int(result["size"]), {peer.name: str(result["segment"])}, peer, {peer.name: _pid(peer)}
        )
        self.segments.append(seg)
        return seg

    def attach(self, peer: Peer, seg: Seg) -> str:
        """Have ``peer`` attach ``seg``; returns its handle."""
        if peer.name in seg.handles and peer is not seg.creator:
            return seg.handles[peer.name]
        result = ok(peer, "attach", name=seg.name, size=seg.size)
        handle = str(result["segment"])
        key = peer.name + "#attached" if peer is seg.creator else peer.name
        seg.handles[key] = handle
        seg.pids[key] = _pid(peer)
        return handle

    def snapshot(self, seg: Seg) -> None:
        """Record the header for this case's replay recipe."""
        self.case.header_snapshot = seg.header_hex()

    @property
    def case(self) -> CaseState:
        """What the plugin records about this case (its replay recipe's header among it)."""
        return case_of(self.node)

    def finish(self, peers: Iterable[Peer]) -> None:
        """Close every handle, unlink through the creator, then make sure it is gone.

        Each peer's requests are pipelined (``Peer.call_many``): none needs an earlier answer, and the
        creator's close and unlink were two round trips of every case. Errors are ignored: a handle a peer
        already closed, or a peer that died, leaves nothing the final ``memory.unlink`` does not remove.
        """
        by_name = {p.name: p for p in peers}
        for seg in self.segments:
            if self.case.header_snapshot is None:
                self.case.header_snapshot = seg.header_hex()
            if seg._mapping is not None:
                seg._mapping.close()
            creator = seg.creator
            closes: dict[str, list[tuple[str, Json]]] = {}
            for key, handle in seg.handles.items():
                peer = by_name.get(key.split("#")[0])
                if peer is not None and _live_handle(peer, seg.pids.get(key)):
                    closes.setdefault(peer.name, []).append(("close", {"segment": handle}))
            creators = closes.pop(creator.name, [])  # the creator goes last: every other close before unlink
            for name, asks in closes.items():
                with contextlib.suppress(PeerFailure):
                    by_name[name].call_many(asks)
            if _live_handle(creator, seg.pids.get(creator.name)):
                creators.append(("unlink", {"segment": seg.handles[creator.name]}))
            if creators:
                with contextlib.suppress(PeerFailure):
                    creator.call_many(creators)
            creator.forget(seg.name)
            memory.unlink(seg.name)


def resolve_at(
    kit: Kit,
    peer: Peer,
    seg: Seg,
    schema: pa.Schema,
    offset: int,
    length: int,
    extra: dict[str, str] | None = None,
    timeout: float | None = None,
    keep_out: bool = True,
) -> tuple[pa.RecordBatch, Json]:
    """Have ``peer`` resolve a pointer to ``(offset, length)`` in ``seg``; returns the batch and the answer.

    ``extra`` adds metadata keys to the pointer's; ``keep_out=False`` removes the answer's batch file once
    loaded (the stress cases' batches are gigabytes).
    """
    metadata = {**(extra or {}), OFFSET_KEY.decode(): str(offset), LENGTH_KEY.decode(): str(length)}
    out = kit.out()
    args: dict[str, Any] = {"_timeout": timeout} if timeout else {}
    answer = ok(
        peer,
        "resolve",
        segment=seg.handle(peer),
        batch=kit.batch_file(empty_batch(schema)),
        metadata=metadata,
        out=out,
        **args,
    )
    batch = kit.load(out)
    if not keep_out:
        Path(out).unlink(missing_ok=True)
    return batch, answer


def release(peer: Peer, seg: Seg, offset: int) -> None:
    """The resolving side frees (PTR-6); the harness frees for a peer that cannot."""
    if "allocate" in peer.capabilities:
        ok(peer, "free", segment=seg.handle(peer), offset=offset)
    else:
        seg.map.free(offset)
