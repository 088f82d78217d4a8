"""One peer as the cases see it: its manifest, its process and its handshake.

Cases talk to ``Peer.call``; when the process dies or hangs, the failure is
raised once for the current case and the next call starts a fresh process.
Every segment a peer creates is remembered so that the harness can remove
what a dead peer left in /dev/shm.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pyarrow as pa

from vgis_conformance import memory
from vgis_conformance.builder import ensure_built
from vgis_conformance.manifest import OPTIONAL_CAPABILITIES, Manifest
from vgis_conformance.outcomes import HARNESS_ERROR
from vgis_conformance.protocol import PROTOCOL_VERSION, Json, PeerError, PeerFailure, PeerGarbage, PeerProcess

_names = itertools.count(1)
PIPELINE_WINDOW = 128
"""Requests ``Peer.call_many`` keeps in flight: their answers (tens of bytes each) stay far below a pipe's
64 KiB, so neither side blocks writing while the other is writing too."""


def segment_name(tag: str = "seg") -> str:
    """A name unique to this harness process."""
    return f"/{name_prefix(tag)}{next(_names)}"


def name_prefix(tag: str) -> str:
    """What every ``segment_name(tag)`` of this harness process starts with, without the slash."""
    return f"vgis-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}-{tag}-"


def names_of_pids(names: Iterable[str], pids: Iterable[int]) -> list[str]:
    """Names that carry one of ``pids`` (decimal or hex) as a whole token, outside the harness's own ``vgis-``.

    Peers that pick their own segment names put their pid in them (vgi-rpc's
    Rust crate: ``/vgi_rpc_<pid hex>_<nanos hex>``); this finds what a dead
    peer created but never reported.
    """
    tokens = {t for pid in pids for t in (str(pid), f"{pid:x}")}
    return sorted(n for n in names if not n.startswith("vgis-") and tokens.intersection(re.split(r"[^0-9A-Za-z]+", n)))


class HandshakeError(PeerFailure):
    """The peer's ``hello`` is missing fields or contradicts its manifest."""

    outcome = HARNESS_ERROR


@dataclass(repr=False)
class Peer:
    """A started peer plus what it said about itself."""

    manifest: Manifest
    workdir: Path
    timeout: float = 10.0
    info: Json = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    process: PeerProcess | None = None
    restarts: int = 0
    segments_created: int = 0
    segments_removed: int = 0
    pids: list[int] = field(default_factory=list)
    _shm_at_start: set[str] = field(default_factory=set)
    _earlier_requests: list[Json] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The peer's registry name."""
        return self.manifest.name

    def __repr__(self) -> str:
        """Short, because pytest puts a failing case's arguments in its traceback: the generated repr walked
        the manifest and every request's history, tens of milliseconds for each of hundreds of expected failures."""
        return f"Peer({self.name!r})"

    @property
    def capabilities(self) -> frozenset[str]:
        """Optional capabilities from ``hello``."""
        return frozenset(self.info.get("capabilities", ()))

    @property
    def arrow_library(self) -> str:
        """The Arrow implementation the peer writes with."""
        return str(self.info.get("arrow", {}).get("library", "unknown"))

    def start(self) -> None:
        """Build if needed, spawn and handshake."""
        ensure_built(self.manifest)
        if self.process is not None:
            self._earlier_requests.extend(e.request for e in self.process.history)
        argv = [self.manifest.expand(a) for a in self.manifest.start]
        self.process = PeerProcess(
            self.name,
            argv,
            self.manifest.folder,
            self.workdir / f"{self.name}.stderr.log",
            timeout=self.timeout,
            env=self.manifest.env,
        )
        self._shm_at_start = set(os.listdir(memory.SHM_DIR))
        self.process.start()
        assert self.process.pid is not None
        self.pids.append(self.process.pid)
        self.info = self.process.request("hello")
        self._check_hello()

    def _check_hello(self) -> None:
        missing = [k for k in ("name", "version", "arrow", "capabilities") if k not in self.info]
        if missing:
            raise HandshakeError(f"{self.name}: hello lacks {missing}")
        if self.info.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            raise HandshakeError(f"{self.name}: speaks protocol {self.info.get('protocol')}")
        caps = set(self.info["capabilities"])
        unknown = caps - set(OPTIONAL_CAPABILITIES)
        if unknown:
            raise HandshakeError(f"{self.name}: hello declares unknown capabilities {sorted(unknown)}")
        declared = self.manifest.capabilities
        if declared is not None and declared != caps:
            raise HandshakeError(
                f"{self.name}: capabilities differ between peer.toml {sorted(declared)} and hello {sorted(caps)}"
            )

    def _running(self) -> PeerProcess:
        if self.process is None or not self.process.alive:
            if self.process is not None:
                self.restarts += 1
                self.cleanup()
            self.start()
        assert self.process is not None
        return self.process

    def call_and_kill(
        self, op: str, *, when: Callable[[], bool] | None = None, within: float = 5.0, **args: Any
    ) -> NoReturn:
        """Send ``op`` and SIGKILL the peer while it is in flight (``PeerProcess.request_and_kill``).

        Raises ``PeerKilled``; what the dead peer created is removed first, and
        the next ``call`` starts a fresh process.
        """
        process = self._running()
        try:
            process.request_and_kill(op, when=when, within=within, **args)
        finally:
            self.cleanup()

    def call(self, op: str, **args: Any) -> Json:
        """One request; restarts the process first if an earlier case killed it."""
        self._running()
        assert self.process is not None
        try:
            result = self.process.request(op, **args)
        except PeerFailure:
            self.cleanup()
            raise
        if op == "create":
            self.created[str(result["name"])] = str(result.get("segment"))
            self.segments_created += 1
        if not isinstance(result, dict):
            raise PeerGarbage(f"{self.name}: {op} result is not an object")
        return result

    def call_many(self, requests: Sequence[tuple[str, Json]]) -> list[Json | PeerError]:
        """Requests whose arguments need no earlier answer, pipelined: the protocol answers in order, so
        ``PIPELINE_WINDOW`` of them go out before the first answer is read, and a table of 4,094 entries costs
        a few dozen round trips instead of 4,094. Each item is the result fields or the error the peer
        answered; a dead, hung or garbled peer raises as ``call`` does. ``create`` is not allowed here (its
        bookkeeping needs each answer)."""
        process = self._running()
        answers: list[Json | PeerError] = []
        in_flight: deque[int] = deque()

        def receive_one() -> None:
            try:
                answers.append(process.receive(in_flight.popleft()))
            except PeerError as exc:
                answers.append(exc)

        try:
            for op, args in requests:
                if op == "create":
                    raise ValueError("call_many cannot create: use call")
                in_flight.append(process.send(op, **args))
                if len(in_flight) >= PIPELINE_WINDOW:
                    receive_one()
            while in_flight:
                receive_one()
        except PeerFailure:
            self.cleanup()
            raise
        return answers

    def forget(self, name: str) -> None:
        """The creator unlinked ``name``; stop tracking it."""
        self.created.pop(name, None)

    def cleanup(self) -> list[str]:
        """Unlink every segment this peer created and did not unlink.

        Once the process is gone, that includes the objects that appeared
        while it ran under a name the harness gives this peer's creates or
        under one carrying its pid, even if no create response reported them
        (a peer killed mid-create).
        """
        removed = [n for n in list(self.created) if memory.unlink(n)]
        if self.process is not None and not self.process.alive and self.pids:
            appeared = set(os.listdir(memory.SHM_DIR)) - self._shm_at_start
            prefix = name_prefix(self.name)
            orphans = [n for n in appeared if n.startswith(prefix) and n[len(prefix) :].isdigit()]
            orphans += names_of_pids(appeared, self.pids[-1:])
            removed += [n for n in orphans if memory.unlink(n)]
        self.segments_removed += len(removed)
        self.created.clear()
        return removed

    def stop(self) -> None:
        """Shut the process down and remove what it left."""
        if self.process is not None:
            self.process.stop()
        self.cleanup()

    def history_length(self) -> int:
        """How many requests this peer has been sent in the session, across restarts: a case's mark."""
        return len(self._earlier_requests) + (0 if self.process is None else len(self.process.history))

    def history_since(self, mark: int) -> list[Json]:
        """The requests sent since ``history_length`` was ``mark``: a case's replay recipe.

        A slice, not the whole history copied: every case asks twice, and the history grows with the session.
        """
        earlier = self._earlier_requests[mark:]
        skip = max(0, mark - len(self._earlier_requests))
        current = [] if self.process is None else [e.request for e in self.process.history[skip:]]
        return earlier + current


def save_batch(path: Path, batch: pa.RecordBatch) -> Path:
    """Write a batch file (an IPC stream with one batch)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return path


def save_schema(path: Path, schema: pa.Schema) -> Path:
    """Write a schema file (an IPC stream with no batch)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema):
        pass
    return path


def load_batch(path: Path) -> pa.RecordBatch:
    """Read the batch a peer wrote to an ``out`` file."""
    with pa.ipc.open_stream(pa.memory_map(str(path))) as reader:
        batches = list(reader)
        schema = reader.schema
    if len(batches) != 1:
        raise PeerGarbage(f"{path.name}: expected one batch, found {len(batches)}")
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=schema)
