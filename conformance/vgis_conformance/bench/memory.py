"""Memory a reader spends on a region (issue 14, section 5), measured from outside the peer.

For each peer, schema and size, the harness writes a batch of that size into a segment the peer created, and
resets the peer's peak resident size (``/proc/PID/clear_refs``, value 5), asks for one ``read`` of
the region, and reads ``VmHWM`` and ``RssShmem`` from ``/proc/PID/status``. ``added`` is the peak over the
resident size before the request: shared segment pages the reader touched count in it, so ``copied``
subtracts the growth of ``RssShmem`` and leaves what the reader allocated (copies, decode buffers, the out
file's writer). A second measurement asks for a region that only claims ``size`` bytes: a sparse segment of
that size whose data pages were never written, so the region is zeros and the reader should fail without
allocating anything like the claim.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from vgis.encoding import encode_region
from vgis_conformance.bench.batches import HEADER_SIZE, SCHEMAS, human, make_batch, segment_size_for
from vgis_conformance.builder import PeerUnavailable
from vgis_conformance.manifest import Manifest
from vgis_conformance.memory import Mapping
from vgis_conformance.peer import Peer, save_schema, segment_name
from vgis_conformance.protocol import Json, PeerError, PeerFailure


def _status(pid: int) -> dict[str, int]:
    """The kB fields of ``/proc/PID/status`` this measurement reads, in bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssShmem", "RssAnon"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def _around(peer: Peer, op: str, **args: object) -> Json:
    """One request with the peak reset before it: its figures, and its answer (``ok`` or the error kind)."""
    assert peer.process is not None and peer.process.pid is not None
    pid = peer.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status(pid)
    kind = ""
    try:
        peer.call(op, **args)
    except PeerError as exc:
        kind = exc.kind
    after = _status(pid)
    added = after["VmHWM"] - before["VmRSS"]
    shmem = max(0, after["RssShmem"] - before["RssShmem"])
    return {"added": added, "shmem_touched": shmem, "copied": max(0, added - shmem), "answer": kind or "ok"}


def _release(peer: Peer, seg: Json) -> None:
    with contextlib.suppress(PeerError, PeerFailure):
        peer.call("close", segment=seg["segment"])
        peer.call("unlink", segment=seg["segment"])
    peer.forget(str(seg["name"]))


def measure_peer(peer: Peer, sizes: Sequence[int], workdir: Path) -> list[Json]:
    """Every schema and size for one started peer: a real region, then a claimed one.

    The harness writes the region (the reference's framing, first fit) into a segment the peer created, so
    every peer reads the same bytes, and pages the reader touches count as shared memory, not as its own.
    """
    rows: list[Json] = []
    # The first pair twice, its first figures dropped: they hold the peer's one-time start-up allocations.
    pairs = [(SCHEMAS[0], sizes[0]), *((schema, size) for schema in SCHEMAS for size in sizes)]
    for schema, size in pairs:
        batch = make_batch(schema, size)
        data = encode_region(batch)
        schema_path = save_schema(workdir / "schema.arrows", batch.schema)
        del batch
        out = workdir / "out.arrows"
        print(f"[bench] memory {peer.name} {schema} {human(size)}", file=sys.stderr, flush=True)
        seg = peer.call("create", name=segment_name("mem"), size=segment_size_for(len(data)))
        try:
            with Mapping(str(seg["name"])) as mapping:
                offset = mapping.place(data)
            assert offset is not None, "a fresh segment sized for the region holds it"
            real = _around(
                peer,
                "read",
                segment=seg["segment"],
                offset=offset,
                length=len(data),
                schema=str(schema_path),
                out=str(out),
            )
        finally:
            _release(peer, seg)
            out.unlink(missing_ok=True)
        seg = peer.call("create", name=segment_name("mem-sparse"), size=HEADER_SIZE + len(data))
        try:
            claimed = _around(
                peer,
                "read",
                segment=seg["segment"],
                offset=HEADER_SIZE,
                length=len(data),
                schema=str(schema_path),
                out=str(out),
            )
        finally:
            _release(peer, seg)
            out.unlink(missing_ok=True)
        rows.append(
            {"peer": peer.name, "schema": schema, "size": size, "region": len(data), "real": real, "claimed": claimed}
        )
        del data
    schema_path.unlink(missing_ok=True)
    return rows[1:]


def measure(
    manifests: Sequence[Manifest], sizes: Sequence[int], workdir: Path, timeout: float, errors: list[str]
) -> list[Json]:
    """The memory rows of every peer that starts and declares ``read``; what failed goes to ``errors``."""
    rows: list[Json] = []
    for manifest in manifests:
        peer = Peer(manifest, workdir / f"mem-{manifest.name}", timeout=timeout)
        try:
            peer.start()
            if "read" not in peer.capabilities:
                errors.append(f"{manifest.name}: memory: its hello does not declare read")
                continue
            rows += measure_peer(peer, sizes, workdir)
        except (PeerUnavailable, PeerFailure, PeerError, OSError) as exc:
            errors.append(f"{manifest.name}: memory: {type(exc).__name__}: {exc}")
        finally:
            peer.stop()
    return rows


def table(rows: Sequence[Json]) -> list[list[str]]:
    """Rows for the renderer: peer, schema, size, then added / copied for the real and the claimed region."""

    def mib(n: int) -> str:
        return f"{n / (1 << 20):.1f}"

    return [
        [
            r["peer"],
            r["schema"],
            human(r["size"]),
            r["real"]["answer"],
            mib(r["real"]["added"]),
            mib(r["real"]["shmem_touched"]),
            mib(r["real"]["copied"]),
            r["claimed"]["answer"],
            mib(r["claimed"]["added"]),
        ]
        for r in rows
    ]


HEADERS = [
    "peer",
    "schema",
    "size",
    "read",
    "added MiB",
    "segment touched MiB",
    "copied MiB",
    "claimed: read",
    "claimed: added MiB",
]
