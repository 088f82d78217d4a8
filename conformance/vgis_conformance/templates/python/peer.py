"""A VGIS peer: one JSON request per line on stdin, one response per line on stdout (docs/peer-protocol.md).

It runs on the kit's Python peer SDK (``vgis_peer``, in the kit's
``peers/sdk/python``): the SDK owns the loop, argument helpers with the
protocol's error kinds (``sdk.integer``, ``sdk.string``, ``sdk.metadata``),
batch and schema files (``sdk.read_file``, ``sdk.save``), segment handles
(``sdk.Handles``) and the ``bench`` timing loops. This peer answers ``hello``
and ``shutdown``; add one ``op_<name>(req) -> dict`` method per operation you
implement, and every other op stays ``unsupported``. Raise
``sdk.PeerError(kind, message)`` to answer an error. Logs go to stderr:
stdout carries responses only.
"""

from __future__ import annotations

import sys
from typing import Any

from vgis_conformance.layout import PEERS_DIR

sys.path.insert(0, str(PEERS_DIR / "sdk" / "python"))

import vgis_peer as sdk

Json = dict[str, Any]
NAME = "@PEER_NAME@"
CAPABILITIES: list[str] = []  # keep equal to peer.toml's list


class Peer:
    """One method per operation this peer supports."""

    def op_hello(self, req: Json) -> Json:
        """Who this peer is; ``arrow`` names the Arrow library once you use one."""
        return {
            "name": NAME,
            "version": "0.1.0",
            "language": "python",
            "protocol": sdk.PROTOCOL,
            "arrow": {"library": "none", "version": "0"},
            "capabilities": CAPABILITIES,
        }

    def op_shutdown(self, req: Json) -> Json:
        """Close and unlink what this peer holds (nothing yet); the loop then exits."""
        return {}


if __name__ == "__main__":
    sdk.serve(Peer())
