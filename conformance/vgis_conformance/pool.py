"""The peer processes of one pytest process, started on first use and shared by every case.

Each xdist worker has a pool of its own, since peers are child processes of
the worker that talks to them. A peer that dies in a case is restarted by
``Peer`` on its next request; a peer that cannot be built or started is
unavailable: a loud skip of every case that needs it, or a failure with
``--require-all-peers``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vgis_conformance.builder import PeerUnavailable
from vgis_conformance.merge import counters_of
from vgis_conformance.outcomes import UNAVAILABLE_PREFIX
from vgis_conformance.peer import Peer
from vgis_conformance.session import Session


class PeerPool:
    """The session's peers; ``stop`` leaves their process IDs and final counters on the session."""

    def __init__(self, session: Session, workdir: Path, *, timeout: float, require_all: bool) -> None:
        self.session = session
        self.workdir = workdir
        self.timeout = timeout
        self.require_all = require_all
        self.manifests = {m.name: m for m in session.manifests}
        self.peers: dict[str, Peer] = {}
        self.unavailable: dict[str, str] = dict(session.unavailable)

    def get(self, name: str) -> Peer:
        """The running peer, or a loud skip / error when it cannot run."""
        if name in self.unavailable:
            message = self.unavailable[name]
            if self.require_all:
                pytest.fail(f"{UNAVAILABLE_PREFIX}{message} (--require-all-peers)", pytrace=False)
            pytest.skip(f"{UNAVAILABLE_PREFIX}{message}")
        peer = self.peers.get(name)
        if peer is None:
            peer = Peer(self.manifests[name], self.workdir, timeout=self.timeout)
            try:
                peer.start()
            except PeerUnavailable as exc:
                self.unavailable[name] = str(exc)
                return self.get(name)
            self.peers[name] = peer
        return peer

    def stop(self) -> None:
        """Stop every peer; the session keeps what the leak check and the reports need of them."""
        for peer in self.peers.values():
            peer.stop()
        self.session.peer_pids = [pid for p in self.peers.values() for pid in p.pids]
        self.session.final_counters = {p.name: counters_of(p) for p in self.peers.values()}
