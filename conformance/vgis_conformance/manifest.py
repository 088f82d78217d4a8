"""Peer manifests (``peers/<name>/peer.toml``) and the registry of known peers."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
import tomllib
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from vgis_conformance.layout import KIT_ROOT, PEERS_DIR

CACHE_ENV = "VGIS_CACHE_DIR"
OPTIONAL_CAPABILITIES = (
    "allocate",
    "allocations",
    "shrink",
    "reset",
    "read",
    "make_pointer",
    "maybe_write",
    "advertise",
    "bench",
    "named_create",
)


def cache_root() -> Path:
    """Where peers are built: ``VGIS_CACHE_DIR``, else the user's cache folder under ``vgis-conformance/``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vgis-conformance"


def keep_bytecode(env: MutableMapping[str, str]) -> None:
    """Let the Python processes started with ``env`` keep their bytecode, under the kit's cache, never in the tree.

    Where ``PYTHONDONTWRITEBYTECODE`` is set, every ``pytest conformance`` compiles and assertion-rewrites
    about 150 modules afresh, in each xdist worker: seconds of a run that the kit's tests and ``bench --suite``
    would otherwise count as the suite's. pyc files are checked against their source's mtime and size, so an
    edited module is still compiled. A prefix the caller already chose is kept.
    """
    if "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = str(cache_root() / "pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)


@dataclass(frozen=True)
class Upstream:
    """The port a peer wraps, as its registry names it (peer.toml's ``[upstream]`` table)."""

    package: str
    release: str
    registry: str
    served: bool = True


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
    upstream: Upstream | None = None
    source: Path | None = None
    version: str | None = None

    @property
    def build_dir(self) -> Path:
        """This peer's build outputs, outside the source tree, shared by every clone of the kit."""
        return cache_root() / "build" / self.name

    @property
    def release_known_failures(self) -> Path | None:
        """The overlay on ``known_failures`` for a peer built against another release (``NAME@VERSION``)."""
        if self.version is None:
            return None
        return self.folder / f"known-failures@{self.version}.txt"

    def build_env(self) -> dict[str, str]:
        """What the build steps learn from the run: the checkout to build from (``VGIS_PEER_SOURCE_DIR``)."""
        env = dict(self.env)
        if self.source is not None:
            env["VGIS_PEER_SOURCE_DIR"] = str(self.source)
        if self.version is not None:
            env["VGIS_PEER_VERSION"] = self.version
        return env

    def expand(self, arg: str) -> str:
        """Substitute ``{python}``, ``{kit}``, ``{peer}``, ``{build}`` and ``{cache}`` in a command argument."""
        return arg.format(
            python=sys.executable, kit=KIT_ROOT, peer=self.folder, build=self.build_dir, cache=cache_root()
        )


def load(path: Path) -> Manifest:
    """Parse one ``peer.toml``."""
    data = tomllib.loads(path.read_text())
    folder = path.parent
    caps = data.get("capabilities")
    unknown = set(caps or ()) - set(OPTIONAL_CAPABILITIES)
    if unknown:
        raise ValueError(f"{path}: unknown capabilities {sorted(unknown)}")
    known = data.get("known_failures")
    up = data.get("upstream")
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
        upstream=None
        if up is None
        else Upstream(
            package=up["package"], release=up["release"], registry=up["registry"], served=bool(up.get("served", True))
        ),
    )


def registry(root: Path = PEERS_DIR) -> dict[str, Manifest]:
    """Every peer with a manifest under ``peers/``, by name."""
    found = [load(p) for p in sorted(root.glob("*/peer.toml"))]
    return {m.name: m for m in found}


def lookup(spec: str, known: dict[str, Manifest]) -> Manifest:
    """A registered peer by ``NAME``, or by ``NAME@VERSION``: built against that registry release of its port.

    Raises ``KeyError`` for an unknown name and ``ValueError`` for a version of
    a peer that wraps no port.
    """
    name, sep, version = spec.partition("@")
    manifest = known[name]
    if not sep:
        return manifest
    if manifest.upstream is None or not version:
        raise ValueError(f"{spec}: only a peer that wraps a port of vgi-rpc (an [upstream] table) takes @VERSION")
    return dataclasses.replace(manifest, name=spec, version=version)


def parse_peer_cmd(raw: str) -> Manifest:
    """``--peer-cmd`` as given: ``"NAME=CMD"``, or ``"CMD"`` (named after its program)."""
    name, sep, cmd = raw.partition("=")
    if sep and name and " " not in name and "/" not in name:
        return from_command(cmd, name)
    return from_command(raw)


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
