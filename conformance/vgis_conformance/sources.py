"""Where an upstream peer's port comes from: its registry release, or a local checkout given with --peer-source.

A port's own CI runs the kit against its working tree before a release:
``--peer-source vgi-rpc-go=../vgi-rpc-go`` (or ``VGIS_PEER_SOURCE=NAME=PATH[,NAME=PATH...]``)
makes the peer's build use that tree. The build cache keys on the tree's
content (``tree_digest``), so editing the checkout rebuilds the peer and
leaving it alone does not; the report names what every upstream peer was
built from (``provenance``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vgis_conformance.manifest import Manifest, registry

ENV = "VGIS_PEER_SOURCE"
# Folders a port's own build leaves in its checkout: outputs, not sources.
SKIPPED_DIRS = frozenset({".git", ".gradle", ".venv", "__pycache__", "target", "node_modules", ".mypy_cache"})


class SourceError(ValueError):
    """A ``--peer-source`` / ``VGIS_PEER_SOURCE`` value that cannot be used; the message says why."""


def parse(values: Iterable[str]) -> dict[str, Path]:
    """``NAME=PATH`` items (each value may hold several, comma-separated) as absolute paths, later ones winning."""
    found: dict[str, Path] = {}
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise SourceError(f"peer source {item!r} is not NAME=PATH")
            found[name] = Path(path).expanduser().resolve()
    return found


def requested(flags: Iterable[str]) -> dict[str, Path]:
    """Sources from ``VGIS_PEER_SOURCE``, overridden by the ``--peer-source`` flags."""
    return parse([os.environ.get(ENV, ""), *flags])


def apply(manifests: Iterable[Manifest], sources: dict[str, Path], known: dict[str, Manifest]) -> list[Manifest]:
    """The manifests with their checkouts set; a source naming no upstream peer is an error.

    A source for a registered peer that this run does not select is ignored, so
    that CI can set ``VGIS_PEER_SOURCE`` once for every run.
    """
    chosen = list(manifests)
    peers = {**known, **{m.name: m for m in chosen}}
    for name in sources:
        if name not in peers:
            raise SourceError(f"--peer-source {name}=...: no peer named {name!r} (registered: {sorted(known)})")
        if peers[name].upstream is None:
            raise SourceError(
                f"--peer-source {name}=...: peer {name} wraps no upstream port (its peer.toml has no [upstream] table)"
            )
    return [dataclasses.replace(m, source=sources[m.name]) if m.name in sources else m for m in chosen]


def with_sources(manifests: Iterable[Manifest], flags: Iterable[str]) -> list[Manifest]:
    """``apply`` of ``VGIS_PEER_SOURCE`` and the ``--peer-source`` flags, against the registered peers."""
    return apply(manifests, requested(flags), registry())


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """``--peer-source NAME=PATH`` for a subcommand of ``vgis-conformance``."""
    parser.add_argument(
        "--peer-source",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"build upstream peer NAME from a checkout of its port (repeatable; also {ENV})",
    )


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes, build-output folders left out."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def git_state(root: Path) -> tuple[str | None, bool]:
    """(HEAD commit, whether the work tree differs from it) when ``root`` is a git checkout, else (None, False)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30, check=False
        )
        if head.returncode != 0:
            return None, False
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    return head.stdout.strip(), bool(status.stdout.strip())


def provenance(manifest: Manifest) -> dict[str, Any] | None:
    """What an upstream peer was built from, for the reports; None for a peer that wraps no port."""
    up = manifest.upstream
    if up is None:
        return None
    base: dict[str, Any] = {"package": up.package, "release": manifest.version or up.release, "registry": up.registry}
    if manifest.source is None:
        return {**base, "from": "registry"}
    commit, dirty = git_state(manifest.source)
    tree = tree_digest(manifest.source) if manifest.source.is_dir() else None
    return {
        **base,
        "from": "checkout",
        "path": str(manifest.source),
        "git_commit": commit,
        "git_dirty": dirty,
        "tree_sha256": tree,
    }


def describe(info: dict[str, Any] | None) -> str:
    """One line for the terminal and the HTML report: ``registry release 0.52.2 (PyPI)`` or the checkout."""
    if not info:
        return "the kit's own code"
    if info["from"] == "registry":
        return f"{info['package']} {info['release']} from {info['registry']}"
    where = f"checkout {info['path']}"
    if info.get("git_commit"):
        where += f" at git {str(info['git_commit'])[:12]}{' (modified)' if info.get('git_dirty') else ''}"
    elif info.get("tree_sha256"):
        where += f" (not a git repository; tree sha256 {str(info['tree_sha256'])[:12]})"
    return f"{info['package']} from {where}"
