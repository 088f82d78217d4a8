"""The answers docs/peer-protocol.md prescribes for requests at the edges, given by the reference peer.

The protocol document decides what a handle is worth after ``close``, which
error kind an unknown handle, a ``header`` length past the header, a
schema-only batch file for ``write`` and a ``read`` past the segment get, what
``attach`` and ``create`` report as ``name`` (LIFE-9); the reference peer is
what a new peer is compared with, so it must give exactly those answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from vgis_conformance.manifest import registry
from vgis_conformance.peer import PIPELINE_WINDOW, Peer, save_batch, segment_name
from vgis_conformance.protocol import PeerError

SIZE = 65_536 + 4096


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[Peer]:
    p = Peer(registry()["python-reference"], tmp_path)
    p.start()
    yield p
    p.stop()


def kind(peer: Peer, op: str, **args: object) -> str:
    with pytest.raises(PeerError) as caught:
        peer.call(op, **args)
    return caught.value.kind


def test_a_closed_handle_serves_only_close_and_unlink(peer: Peer) -> None:
    seg = peer.call("create", name=segment_name("closed"), size=SIZE)
    peer.call("close", segment=seg["segment"])
    for op, args in (("header", {"length": 24}), ("allocate", {"size": 8}), ("free", {"offset": 65_536})):
        assert kind(peer, op, segment=seg["segment"], **args) == "bad_request", op
    assert peer.call("close", segment=seg["segment"]) == {}
    assert peer.call("unlink", segment=seg["segment"]) == {}
    assert not Path("/dev/shm", seg["name"].lstrip("/")).exists()


def test_error_kinds_at_the_edges(peer: Peer, tmp_path: Path) -> None:
    seg = peer.call("create", name=segment_name("edges"), size=SIZE)
    handle = seg["segment"]
    try:
        assert kind(peer, "header", segment="s999", length=24) == "bad_request"
        assert kind(peer, "header", segment=handle, length=65_537) == "out_of_bounds"
        assert len(peer.call("header", segment=handle, length=65_536)["hex"]) == 2 * 65_536
        schema = pa.schema([("a", pa.int64())])
        schema_only = tmp_path / "schema.arrows"
        with pa.OSFile(str(schema_only), "wb") as sink, pa.ipc.new_stream(sink, schema):
            pass
        assert kind(peer, "write", segment=handle, batch=str(schema_only)) == "bad_request"
        assert (
            kind(
                peer,
                "read",
                segment=handle,
                offset=SIZE - 100,
                length=200,
                schema=str(schema_only),
                out=str(tmp_path / "out.arrows"),
            )
            == "out_of_bounds"
        )
        made = peer.call(
            "make_pointer",
            schema=str(schema_only),
            offset=2**64 - 1,
            length=2**64 - 1,
            out=str(tmp_path / "ptr.arrows"),
        )
        assert made["metadata"]["vgi_rpc.shm_offset"] == str(2**64 - 1), "make_pointer does not judge bounds"
        batch = save_batch(tmp_path / "b.arrows", pa.record_batch({"a": pa.array([1], pa.int64())}))
        assert peer.call("write", segment=handle, batch=str(batch))["offset"] is not None
    finally:
        peer.call("close", segment=handle)
        peer.call("unlink", segment=handle)


def test_names_reported_by_create_and_attach(peer: Peer) -> None:
    bare = segment_name("bare").lstrip("/")
    seg = peer.call("create", name=bare, size=SIZE)
    try:
        assert seg["name"] == f"/{bare}", "create reports the canonical name it created (LIFE-9)"
        assert os.path.exists(f"/dev/shm/{bare}")
        attached = peer.call("attach", name=bare, size=None)
        assert attached["name"] == bare, "attach reports the name that opened the object"
        peer.call("close", segment=attached["segment"])
    finally:
        peer.call("close", segment=seg["segment"])
        peer.call("unlink", segment=seg["segment"])


def test_pipelined_requests_answer_in_order_past_the_window(peer: Peer) -> None:
    """``Peer.call_many`` with more requests than its window: every answer lands at its request's index,
    an error answer among them included, and the peer still answers plain calls afterwards."""
    seg = peer.call("create", name=segment_name("pipelined"), size=65_536 + 8 * (3 * PIPELINE_WINDOW))
    handle = seg["segment"]
    n = 2 * PIPELINE_WINDOW + 5
    requests = [("allocate", {"segment": handle, "size": 8}) for _ in range(n)]
    requests.insert(PIPELINE_WINDOW + 1, ("free", {"segment": handle, "offset": 12}))
    answers = peer.call_many(requests)
    assert len(answers) == n + 1
    error = answers[PIPELINE_WINDOW + 1]
    assert isinstance(error, PeerError) and error.kind == "no_allocation", error
    offsets = [a["offset"] for i, a in enumerate(answers) if i != PIPELINE_WINDOW + 1 and not isinstance(a, PeerError)]
    assert offsets == [65_536 + 8 * i for i in range(n)], "answers out of order"
    assert len(peer.call("allocations", segment=handle)["entries"]) == n
    peer.call("close", segment=handle)
    peer.call("unlink", segment=handle)
