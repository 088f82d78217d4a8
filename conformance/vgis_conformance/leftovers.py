"""The session's leak check: segments this process or its peers left in /dev/shm, removed and named.

Only names this run can own are touched: the harness's own (``vgis-<worker>-<pid>-``) and those
that carry one of this session's peer process IDs (vgi-rpc-rust names its own: ``vgi_rpc_<pid hex>_...``),
so that a concurrent run's segments survive.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from vgis_conformance import memory
from vgis_conformance.peer import names_of_pids


def shm_listing() -> set[str]:
    """What /dev/shm holds now."""
    return set(os.listdir(memory.SHM_DIR))


def remove_leftovers(before: set[str], worker: str, peer_pids: Iterable[int]) -> list[str]:
    """Unlink what appeared since ``before`` and belongs to this process or its peers; returns the names."""
    appeared = shm_listing() - before
    mine = f"vgis-{worker}-{os.getpid()}-"
    leaked = sorted(n for n in appeared if n.startswith(mine))
    leaked += names_of_pids(appeared, peer_pids)
    for name in leaked:
        memory.unlink(name)
    return leaked
