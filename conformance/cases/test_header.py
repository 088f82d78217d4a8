"""Header cases: every fixtures/header recipe driven through the peer (HDR, ALLOC-1..7)."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

import pytest

from vgis.header import HEADER_SIZE, MAGIC
from vgis_conformance.fixtures import HeaderCase, Op, apply_op, header_cases
from vgis_conformance.header_diff import header_mismatch
from vgis_conformance.kit import Kit, ok
from vgis_conformance.memory import shm_path
from vgis_conformance.outcomes import NA_PREFIX
from vgis_conformance.peer import Peer
from vgis_conformance.protocol import Json, PeerError

CASES = header_cases()


class Requests:
    """Turns recipe ops into protocol requests (fixtures.apply_op checks each op and drives it), so that the
    whole recipe goes to the peer pipelined (``Peer.call_many``): no op's arguments depend on an answer."""

    def __init__(self, handle: str) -> None:
        self.handle = handle
        self.made: list[tuple[str, Json]] = []

    def allocate(self, size: int) -> int | None:
        self.made.append(("allocate", {"segment": self.handle, "size": size}))
        return None

    def free(self, offset: int) -> None:
        self.made.append(("free", {"segment": self.handle, "offset": offset}))

    def shrink(self, offset: int, length: int) -> None:
        self.made.append(("shrink", {"segment": self.handle, "offset": offset, "length": length}))

    def reset(self) -> None:
        self.made.append(("reset", {"segment": self.handle}))


def recipe_results(peer: Peer, handle: str, ops: Sequence[Op]) -> list[int | PeerError | None]:
    """Each op's result as the fixture records it (an allocate's offset, else None), or the error the peer
    answered, from one pipelined run."""
    requests = Requests(handle)
    for op in ops:
        apply_op(requests, op)
    results: list[int | PeerError | None] = []
    for (name, _), answer in zip(requests.made, peer.call_many(requests.made), strict=True):
        if isinstance(answer, PeerError):
            results.append(answer)
        elif name == "allocate" and answer.get("offset") is not None:
            results.append(int(answer["offset"]))
        else:
            results.append(None)
    return results


def capabilities_for(case: HeaderCase) -> set[str]:
    ops = {str(op[0]) for op in case.ops}
    needed = {"allocate"} if ops else set()
    needed |= ops & {"shrink", "reset"}
    return needed


@pytest.mark.oracle("byte-exact")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=pytest.mark.clauses(*c.clauses)) for c in CASES])
def test_recipe(peer: Peer, kit: Kit, case: HeaderCase) -> None:
    missing = capabilities_for(case) - peer.capabilities
    if missing:
        pytest.skip(f"{NA_PREFIX}{peer.name} lacks capability {', '.join(sorted(missing))}")
    seg = kit.create(peer, case.segment_size)
    for step, (op, expected, got) in enumerate(
        zip(case.ops, case.results, recipe_results(peer, seg.handle(peer), case.ops), strict=True)
    ):
        if isinstance(got, PeerError):
            raise AssertionError(f"{peer.name} rejected {op[0]}: {got.kind}: {got.message}") from None
        assert got == expected, f"step {step} {op}: expected {expected}, got {got} (ALLOC-1 placement)"
    got_bytes = seg.map.header_bytes()
    problem = header_mismatch(bytes.fromhex(case.expected_hex), got_bytes, f"recipe {case.name}")
    assert not problem, problem
    seen = ok(peer, "header", segment=seg.handle(peer), length=len(got_bytes))["hex"]
    assert seen == got_bytes.hex(), header_mismatch(got_bytes, bytes.fromhex(seen), "the peer's own header read")


@pytest.mark.clauses("HDR-1", "HDR-2", "HDR-3", "HDR-4", "HDR-5", "HDR-6", "LIFE-2", "LIFE-3")
@pytest.mark.oracle("byte-exact")
@pytest.mark.parametrize("size", [HEADER_SIZE + 1, HEADER_SIZE + 4096, HEADER_SIZE + 1_000_000])
def test_create_initializes(peer: Peer, kit: Kit, size: int) -> None:
    seg = kit.create(peer, size)
    actual = os.stat(shm_path(seg.name)).st_size
    assert seg.size == actual, f"create reported size {seg.size}, the object is {actual} bytes"
    header = seg.map.header()
    expected = MAGIC + (1).to_bytes(4, "little") + (actual - HEADER_SIZE).to_bytes(8, "little") + bytes(8)
    problem = header_mismatch(expected, seg.map.header_bytes(), f"fresh segment of {size} bytes")
    assert not problem, problem
    assert header.num_allocs == 0


@pytest.mark.clauses("LIFE-11")
@pytest.mark.oracle("stat")
def test_permissions_0600(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer)
    mode = stat.S_IMODE(os.stat(shm_path(seg.name)).st_mode)
    assert mode == 0o600, f"segment created with mode {oct(mode)}, expected 0o600"
