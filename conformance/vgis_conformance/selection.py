"""Which peers and cases a run covers, and the case ID each case is known by.

The case ID (``<group>/<test>/<params>``, without the peer) is the key of
the known-failures files, of ``--case`` globs and of the reports, so it is
made here only.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

from vgis_conformance import sources
from vgis_conformance.manifest import Manifest, lookup, parse_peer_cmd, registry

PEER_ARGS = ("peer_name", "producer_name", "consumer_name")
"""The parameters that name a case's peer, or its (producer, consumer) pair."""


def selected_manifests(config: pytest.Config) -> list[Manifest]:
    """The peers this run covers, in a stable order."""
    known = registry()
    names: list[str] = config.getoption("--peer")
    commands: list[str] = config.getoption("--peer-cmd")
    unknown = [n for n in names if n.partition("@")[0] not in known]
    if unknown:
        raise pytest.UsageError(f"unknown peer(s) {unknown}; registered: {sorted(known)}")
    try:
        chosen = [lookup(n, known) for n in names]
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from exc
    chosen += [parse_peer_cmd(c) for c in commands]
    if not names and not commands:
        chosen = [m for m in known.values() if m.default]
    try:
        return sources.with_sources(chosen, config.getoption("--peer-source"))
    except sources.SourceError as exc:
        raise pytest.UsageError(str(exc)) from exc


def known_failure_files(config: pytest.Config, manifests: list[Manifest]) -> dict[str, Path | None]:
    """Each peer's known-failures file: its manifest's, unless ``--known-failures`` names another."""
    files: dict[str, Path | None] = {m.name: m.known_failures for m in manifests}
    for raw in config.getoption("--known-failures"):
        name, sep, path = raw.partition("=")
        if sep:
            files[name] = Path(path)
        elif len(manifests) == 1:
            files[manifests[0].name] = Path(raw)
        else:
            raise pytest.UsageError("--known-failures FILE needs NAME=FILE when several peers run")
    return files


def _value_name(value: Any) -> str:
    """A parameter as it appears in a case ID: without whitespace, so that a known-failures line can name it."""
    return "".join(str(getattr(value, "name", value)).split())


def case_id_of(item: pytest.Item) -> str:
    """``<group>/<test>/<params>``, without the peer: the key of known-failures files."""
    module = Path(str(item.fspath)).stem.removeprefix("test_")
    parts = [module, getattr(item, "originalname", item.name).removeprefix("test_").replace("_", "-")]
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        parts += [_value_name(v) for k, v in callspec.params.items() if k not in PEER_ARGS]
    return "/".join(parts)


def peers_of(item: pytest.Item) -> list[str]:
    """The peer, or the (producer, consumer) pair, a case runs against."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return [params[k] for k in PEER_ARGS if k in params]


def select_cases(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the items whose case ID matches a ``--case`` glob (all of them when none is given)."""
    globs = config.getoption("--case")
    if not globs:
        return
    wanted = [any(fnmatch.fnmatchcase(case_id_of(i), g) for g in globs) for i in items]
    kept = [i for i, w in zip(items, wanted) if w]
    dropped = [i for i, w in zip(items, wanted) if not w]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
