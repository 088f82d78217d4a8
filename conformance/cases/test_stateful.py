"""Stateful: a hypothesis state machine drives every ordered pair of peers against the reference model.

See vgis_conformance/stateful.py for the rules. ``--stateful-examples N`` sets the number of examples per
pair (default small; a nightly run passes hundreds). A failing example, shrunk, is written as a replayable
recipe to ``<report-dir>/stateful/<case>.json``; ``vgis-conformance fixtures adopt FILE`` turns one
without writes into a header fixture.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis.stateful import run_state_machine_as_test

from vgis.encoding import encode_region
from vgis_conformance.fixtures import ipc_cases
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.kit import Kit, release, resolve_at
from vgis_conformance.peer import Peer
from vgis_conformance.protocol import PeerFailure
from vgis_conformance.session import case_of, session_of
from vgis_conformance.stateful import CLAUSES, Record, machine_class, machine_settings, withheld, write_recipe


@pytest.mark.clauses(*CLAUSES)
@pytest.mark.oracle("differential")
def test_machine(request: pytest.FixtureRequest, producer: Peer, consumer: Peer, workdir: Path) -> None:
    config = request.config
    known = session_of(config).known
    withheld_by = {p.name: withheld(known.get(p.name, {})) for p in (producer, consumer)}
    records: list[Record] = []
    machine = machine_class(producer, consumer, lambda: Kit(workdir, request.node), withheld_by, records.append)
    examples = int(config.getoption("--stateful-examples"))
    try:
        listed = bool(case_of(request.node).known_lines)
        run_state_machine_as_test(machine, settings=machine_settings(examples, shrink=not listed))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        fault = peer_fault(exc)
        if not records:
            if fault is not None and fault is not exc:
                raise fault from exc
            raise
        # Hypothesis replays each distinct shrunk failure last, in the order it reports them.
        failures = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]
        directory = session_of(config).report_dir / "stateful"
        case = f"machine-{producer.name}-to-{consumer.name}"
        finals = records[-len(failures) :]
        paths = [
            write_recipe(record, directory, case if i == 0 else f"{case}-{i + 1}", str(failure))
            for i, (record, failure) in enumerate(zip(finals, failures))
        ]
        where = "\n".join(f"replay recipe (shrunk): {p}" for p in paths)
        if fault is not None and fault is not exc:
            fault.add_note(where)
            raise fault from exc
        if all(isinstance(f, AssertionError) for f in failures):
            lines = [str(f).splitlines()[0] if str(f) else type(f).__name__ for f in failures]
            raise AssertionError("\n".join(lines) + "\n" + where) from exc
        exc.add_note(where)
        raise


def peer_fault(exc: BaseException) -> PeerFailure | None:
    """The first crash, hang or garbage of a peer inside what hypothesis raised, however it wrapped it.

    A peer that dies once and not on the replay makes hypothesis report a
    flaky test (an exception group around the crash); that is still the
    peer's fault, and the case's outcome must say so, not "harness error".
    """
    if isinstance(exc, PeerFailure):
        return exc
    for inner in exc.exceptions if isinstance(exc, BaseExceptionGroup) else ():
        found = peer_fault(inner)
        if found is not None:
            return found
    cause = exc.__cause__ or exc.__context__
    return peer_fault(cause) if cause is not None and cause is not exc else None


# --- witnesses: single cases that pin a disagreement the machine found, so that a peer's known-failures
# file can name it and the machine can withhold the behaviour from that peer (stateful.WITHHELD).

WITNESS_BATCHES = {
    # (batch, bytes placed before it): a batch with no buffer, and an int16 column 1 byte past alignment,
    # which a zero-copy reader must copy; resolve must leave the entry in place either way (PTR-6).
    "null-column": (pa.record_batch([pa.array([None, None], pa.null())], names=["c0"]), 0),
    "int16-skew-1": (pa.record_batch([pa.array([1, 2], pa.int16())], names=["c0"]), 1),
    "int16-aligned": (pa.record_batch([pa.array([1, 2], pa.int16())], names=["c0"]), 0),
}


@pytest.mark.clauses("PTR-6", "ERR-1")
@pytest.mark.oracle("byte-exact")
@pytest.mark.parametrize("case", list(WITNESS_BATCHES))
def test_resolve_leaves_table(peer: Peer, kit: Kit, case: str) -> None:
    """resolve reports the offset to free and frees nothing, whatever the reader had to copy."""
    batch, skew = WITNESS_BATCHES[case]
    region = encode_region(batch)
    seg = kit.create(peer)
    if skew:
        assert seg.map.place(b"\x00" * skew) is not None
    offset = seg.map.place(region)
    assert offset is not None
    before = seg.map.header_bytes()
    got, answer = resolve_at(kit, peer, seg, batch.schema, offset, len(region))
    assert got.equals(batch), f"resolved to\n{got}"
    assert answer["release_offset"] == offset, answer
    problem = header_mismatch(before, seg.map.header_bytes(), "after resolve (PTR-6: resolve frees nothing)")
    assert not problem, problem
    release(peer, seg, offset)


@pytest.mark.clauses("FRAME-10")
@pytest.mark.oracle("decoded-equal")
@pytest.mark.parametrize("skew", [1, 4])
def test_resolve_unaligned_union(peer: Peer, kit: Kit, skew: int) -> None:
    """The catalogue's unions region (not among the FRAME-10 cases) placed skew bytes past alignment."""
    ipc = next(c for c in ipc_cases() if c.name == "unions")
    seg = kit.create(peer)
    assert seg.map.place(b"\x00" * skew) is not None
    offset = seg.map.place(ipc.region)
    assert offset is not None
    got, _ = resolve_at(kit, peer, seg, ipc.batch.schema, offset, len(ipc.region))
    assert got.equals(ipc.batch), f"region at offset {offset} ({offset % 8} mod 8) decoded to\n{got}"
    release(peer, seg, offset)
