"""Create, attach, close and unlink (LIFE-*): what an attacher must refuse.

A header with a corrupt field is an input of the adversarial corpus (fixtures/adversarial/headers, run by
test_adversarial), the one place hostile headers are defined; these cases hold what needs no planted field.
"""

from __future__ import annotations

import _posixshmem
import os
from collections.abc import Iterator

import pytest

from vgis.header import HEADER_SIZE
from vgis.segment import Segment
from vgis_conformance import memory
from vgis_conformance.kit import Kit, ok, rejects
from vgis_conformance.peer import Peer, segment_name

SIZE = HEADER_SIZE + 64 * 1024


@pytest.fixture
def planted() -> Iterator[Segment]:
    """A valid segment made by the reference, for the harness to corrupt."""
    seg = Segment.create(segment_name("planted"), SIZE)
    yield seg
    seg.close()
    memory.unlink(seg.name)


@pytest.mark.clauses("LIFE-8", "ERR-2")
@pytest.mark.oracle("error-kind")
def test_attach_rejects_advertised_larger(peer: Peer, planted: Segment) -> None:
    rejects(peer, ["bad_header"], "attach", name=planted.name, size=SIZE + 4096)


@pytest.mark.clauses("LIFE-8", "ERR-2")
@pytest.mark.oracle("error-kind")
@pytest.mark.parametrize("object_size", [0, 100, HEADER_SIZE])
def test_attach_rejects_small_object(peer: Peer, object_size: int) -> None:
    name = segment_name("small")
    fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, object_size)
        if object_size >= 4:
            os.pwrite(fd, b"VGIS", 0)
        rejects(peer, ["bad_header"], "attach", name=name, size=None)
    finally:
        os.close(fd)
        memory.unlink(name)


@pytest.mark.clauses("LIFE-9")
@pytest.mark.oracle("protocol")
@pytest.mark.parametrize("form", ["with-slash", "without-slash"])
def test_attach_names(peer: Peer, planted: Segment, form: str) -> None:
    name = planted.name if form == "with-slash" else planted.name.lstrip("/")
    handle = ok(peer, "attach", name=name, size=SIZE)["segment"]
    seen = ok(peer, "header", segment=handle, length=24)["hex"]
    assert seen == bytes(planted.buf[:24]).hex()
    ok(peer, "close", segment=handle)


@pytest.mark.clauses("LIFE-9")
@pytest.mark.oracle("error-kind")
def test_attach_missing_name(peer: Peer) -> None:
    rejects(peer, ["bad_name"], "attach", name=segment_name("missing"), size=SIZE)


@pytest.mark.clauses("LIFE-10")
@pytest.mark.oracle("filesystem")
def test_attacher_never_unlinks(peer: Peer, planted: Segment) -> None:
    handle = ok(peer, "attach", name=planted.name, size=SIZE)["segment"]
    try:
        peer.call("unlink", segment=handle)
    except Exception:
        pass
    ok(peer, "close", segment=handle)
    assert memory.exists(planted.name), "LIFE-10: an attacher removed the creator's segment"


@pytest.mark.clauses("LIFE-10")
@pytest.mark.oracle("filesystem")
def test_creator_unlinks(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer)
    ok(peer, "close", segment=seg.handle(peer))
    assert memory.exists(seg.name), "close must not unlink"
    ok(peer, "unlink", segment=seg.handle(peer))
    assert not memory.exists(seg.name), "LIFE-10: the creator's unlink left the object in /dev/shm"


@pytest.mark.clauses("LIFE-1")
@pytest.mark.oracle("error-kind")
@pytest.mark.parametrize("size", [0, HEADER_SIZE])
def test_create_too_small(peer: Peer, size: int) -> None:
    name = segment_name("tiny")
    try:
        rejects(peer, ["bad_request"], "create", name=name, size=size)
    finally:
        memory.unlink(name)


@pytest.mark.clauses("ADV-1")
@pytest.mark.oracle("exact metadata")
@pytest.mark.needs("advertise")
def test_advertisement(peer: Peer, kit: Kit) -> None:
    seg = kit.create(peer)
    md = ok(peer, "advertise", segment=seg.handle(peer))["metadata"]
    expected = {"vgi_rpc.shm_segment_name": seg.name, "vgi_rpc.shm_segment_size": str(seg.size)}
    assert md == expected, f"ADV-1: advertised {md}, expected {expected}"
