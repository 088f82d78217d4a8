"""Builds peers with their own toolchains, once per change of their sources.

The cache key is a hash of the files matched by the manifest's ``sources``
and of the output of its ``toolchain_version`` commands; the key of the last
good build is kept in ``<peer>/.build-stamp``.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from vgis_conformance.manifest import Manifest

INSTALL_HINTS = {
    "cargo": "install Rust with rustup (https://rustup.rs) or your distribution's cargo package",
    "go": "install Go from your distribution (golang) or the Go toolchain",
    "g++": "install a C++ compiler: apt-get install g++",
    "mvn": "install Maven and a JDK: apt-get install maven default-jdk",
    "python3": "install Python 3",
}


class PeerUnavailable(Exception):
    """The peer cannot be built or started on this machine; the message says why."""


def missing_toolchain(manifest: Manifest) -> list[str]:
    """Toolchain commands from the manifest that are not on PATH."""
    return [tool for tool in manifest.toolchain if shutil.which(tool) is None]


def cache_key(manifest: Manifest) -> str:
    """Hash of the peer's sources and toolchain versions."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in manifest.sources for p in manifest.folder.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(manifest.folder)).encode())
        digest.update(path.read_bytes())
    for cmd in manifest.toolchain_version:
        argv = [manifest.expand(a) for a in cmd]
        try:
            out = subprocess.run(argv, capture_output=True, timeout=60, check=False).stdout
        except OSError:
            out = b"missing"
        digest.update(out)
    for cmd in manifest.build:
        digest.update(repr(cmd).encode())
    return digest.hexdigest()


def _log(message: str) -> None:
    print(f"[vgis-conformance] {message}", file=sys.stderr, flush=True)


def _start_exists(manifest: Manifest) -> bool:
    """False when the built program the peer starts with is gone (a deleted target or venv)."""
    program = Path(manifest.expand(manifest.start[0]))
    if not program.is_absolute():
        program = manifest.folder / program
    return program.exists() or shutil.which(manifest.expand(manifest.start[0])) is not None


def ensure_built(manifest: Manifest) -> None:
    """Build the peer unless the stamp matches; raise ``PeerUnavailable`` on failure."""
    missing = missing_toolchain(manifest)
    if missing:
        hints = "; ".join(f"{t}: {INSTALL_HINTS.get(t, 'install it')}" for t in missing)
        raise PeerUnavailable(f"peer {manifest.name}: toolchain missing ({hints})")
    if not manifest.build:
        return
    stamp = manifest.folder / ".build-stamp"
    lock_path = manifest.folder / ".build-lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        key = cache_key(manifest)
        if stamp.exists() and stamp.read_text().strip() == key and _start_exists(manifest):
            return
        for cmd in manifest.build:
            argv = [manifest.expand(a) for a in cmd]
            _log(f"building {manifest.name}: {' '.join(argv)}")
            proc = subprocess.run(argv, cwd=manifest.folder, stdout=sys.stderr, stderr=sys.stderr, check=False)
            if proc.returncode != 0:
                raise PeerUnavailable(
                    f"peer {manifest.name}: build step {' '.join(argv)} failed with status {proc.returncode}"
                )
        stamp.write_text(key + "\n")
        _log(f"built {manifest.name}")
