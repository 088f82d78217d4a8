"""Peer manifests (``peers/<name>/peer.toml``) and the registry of known peers."""

from __future__ import annotations

import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = KIT_ROOT / "peers"
OPTIONAL_CAPABILITIES = ("allocate", "shrink", "reset", "read", "make_pointer", "maybe_write", "advertise", "bench")


@dataclass(frozen=True)
class Manifest:
    """How to build and start one peer, and what it claims to do."""

    name: str
    language: str
    folder: Path
    start: tuple[str, ...]
    build: tuple[tuple[str, ...], ...] = ()
    capabilities: frozenset[str] | None = None
    toolchain: tuple[str, ...] = ()
    toolchain_version: tuple[tuple[str, ...], ...] = ()
    sources: tuple[str, ...] = ()
    known_failures: Path | None = None
    default: bool = True
    description: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def expand(self, arg: str) -> str:
        """Substitute ``{python}``, ``{kit}`` and ``{peer}`` in a command argument."""
        return arg.format(python=sys.executable, kit=KIT_ROOT, peer=self.folder)


def load(path: Path) -> Manifest:
    """Parse one ``peer.toml``."""
    data = tomllib.loads(path.read_text())
    folder = path.parent
    caps = data.get("capabilities")
    unknown = set(caps or ()) - set(OPTIONAL_CAPABILITIES)
    if unknown:
        raise ValueError(f"{path}: unknown capabilities {sorted(unknown)}")
    known = data.get("known_failures")
    return Manifest(
        name=data["name"],
        language=data.get("language", "unknown"),
        folder=folder,
        start=tuple(data["start"]),
        build=tuple(tuple(cmd) for cmd in data.get("build", ())),
        capabilities=None if caps is None else frozenset(caps),
        toolchain=tuple(data.get("toolchain", ())),
        toolchain_version=tuple(tuple(cmd) for cmd in data.get("toolchain_version", ())),
        sources=tuple(data.get("sources", ())),
        known_failures=None if known is None else folder / known,
        default=bool(data.get("default", True)),
        description=data.get("description", ""),
        env=dict(data.get("env", {})),
    )


def registry(root: Path = PEERS_DIR) -> dict[str, Manifest]:
    """Every peer with a manifest under ``peers/``, by name."""
    found = [load(p) for p in sorted(root.glob("*/peer.toml"))]
    return {m.name: m for m in found}


def from_command(command: str, name: str | None = None) -> Manifest:
    """A manifest for an unregistered peer given as ``--peer-cmd``."""
    argv = tuple(shlex.split(command))
    return Manifest(
        name=name or Path(argv[0]).name,
        language="unknown",
        folder=Path.cwd(),
        start=argv,
        description=f"--peer-cmd {command}",
    )
