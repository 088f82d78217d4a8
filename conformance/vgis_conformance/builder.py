"""Builds peers with their own toolchains, once per change of their sources.

The cache key is a hash of the files matched by the manifest's ``sources``,
of the output of its ``toolchain_version`` commands and, for a peer built
from a checkout of its port (``--peer-source``), of that tree's content; the
key of the last good build is kept in the peer's build folder
(``Manifest.build_dir``, under ``VGIS_CACHE_DIR``) as ``.build-stamp``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from vgis_conformance.manifest import Manifest
from vgis_conformance.sources import ENV as SOURCE_ENV
from vgis_conformance.sources import tree_digest

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
    digest.update(f"version={manifest.version}".encode())
    if manifest.source is not None:
        digest.update(f"source={manifest.source}:{tree_digest(manifest.source)}".encode())
    return digest.hexdigest()


PROGRESS_LINE = re.compile(
    r"^\s*(Compiling|Checking|Downloaded|Downloading|Fresh|Updating|Locking|Adding|Blocking"
    r"|go: downloading|go: finding|go: extracting|Progress|Download(ing|ed) from)\b"
)
"""Lines a toolchain prints per dependency (cargo, go, Maven): counted and summarised, not echoed one by one."""

PROGRESS_EVERY = 5.0
"""Seconds between summary lines while a toolchain reports progress."""


def _log(message: str) -> None:
    print(f"[vgis-conformance] {message}", file=sys.stderr, flush=True)


def condense(lines: IO[str], log: IO[str], out: IO[str] | None = None) -> int:
    """Echo a build's output with its per-dependency progress folded into a summary every few seconds.

    A first build downloads and compiles hundreds of crates or modules; the
    user needs to see that it moves and every warning or error, not each
    dependency's name. Everything goes to ``log`` in full. Returns how many
    lines were folded.
    """
    out = out or sys.stderr
    folded = pending = 0
    last, shown = "", time.monotonic()
    for line in lines:
        log.write(line)
        if PROGRESS_LINE.match(line):
            folded, pending, last = folded + 1, pending + 1, line.strip()
            if time.monotonic() - shown >= PROGRESS_EVERY:
                print(f"    ... {pending} more ({last})", file=out, flush=True)
                pending, shown = 0, time.monotonic()
            continue
        out.write(f"    {line}")
        out.flush()
    if pending:
        print(f"    ... {pending} more ({last})", file=out, flush=True)
    return folded


def is_current(manifest: Manifest) -> bool:
    """True when the last good build matches the peer's sources and toolchain (no build needed)."""
    if not manifest.build:
        return True
    stamp = manifest.build_dir / ".build-stamp"
    return stamp.exists() and stamp.read_text().strip() == cache_key(manifest) and _start_exists(manifest)


def _start_exists(manifest: Manifest) -> bool:
    """False when the built program the peer starts with is gone (a deleted target or venv)."""
    program = Path(manifest.expand(manifest.start[0]))
    if not program.is_absolute():
        program = manifest.folder / program
    return program.exists() or shutil.which(manifest.expand(manifest.start[0])) is not None


def check_source(manifest: Manifest) -> None:
    """Raise ``PeerUnavailable`` when the port is neither served by its registry here nor given as a checkout."""
    up = manifest.upstream
    if manifest.source is not None:
        if not manifest.source.is_dir():
            raise PeerUnavailable(
                f"peer {manifest.name}: --peer-source {manifest.name}={manifest.source}: no such folder"
            )
        return
    if up is not None and not up.served:
        raise PeerUnavailable(
            f"peer {manifest.name}: {up.package} {up.release} is not served by {up.registry} here; build it "
            f"from a checkout of the port: --peer-source {manifest.name}=PATH "
            f"(or {SOURCE_ENV}={manifest.name}=PATH)"
        )


def ensure_built(manifest: Manifest) -> None:
    """Build the peer unless the stamp matches; raise ``PeerUnavailable`` on failure."""
    missing = missing_toolchain(manifest)
    if missing:
        hints = "; ".join(f"{t}: {INSTALL_HINTS.get(t, 'install it')}" for t in missing)
        raise PeerUnavailable(f"peer {manifest.name}: toolchain missing ({hints})")
    check_source(manifest)
    if not manifest.build:
        return
    manifest.build_dir.mkdir(parents=True, exist_ok=True)
    stamp = manifest.build_dir / ".build-stamp"
    with (manifest.build_dir / ".build-lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        key = cache_key(manifest)
        if stamp.exists() and stamp.read_text().strip() == key and _start_exists(manifest):
            return
        stamp.unlink(missing_ok=True)
        began = time.monotonic()
        origin = f" from {manifest.source}" if manifest.source else ""
        _log(f"building {manifest.name}{origin} into {manifest.build_dir}")
        env = {**os.environ, **manifest.build_env()}
        log_path = manifest.build_dir / "build.log"
        with log_path.open("w") as log:
            for cmd in manifest.build:
                _run_step(manifest, [manifest.expand(a) for a in cmd], env, log, log_path)
        stamp.write_text(key + "\n")
        _log(f"built {manifest.name} in {time.monotonic() - began:.1f} s (full output: {log_path})")


def _run_step(manifest: Manifest, argv: list[str], env: dict[str, str], log: IO[str], log_path: Path) -> None:
    """Run one build command with condensed, timed output; raise ``PeerUnavailable`` if it fails."""
    began = time.monotonic()
    _log(f"  $ {' '.join(argv)}")
    log.write(f"$ {' '.join(argv)}\n")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=manifest.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise PeerUnavailable(f"peer {manifest.name}: build step {argv[0]} cannot start: {exc}") from exc
    assert proc.stdout is not None
    with proc:
        folded = condense(proc.stdout, log)
    note = f", {folded} progress lines folded" if folded else ""
    if proc.returncode != 0:
        raise PeerUnavailable(
            f"peer {manifest.name}: build step {' '.join(argv)} failed with status "
            f"{proc.returncode} after {time.monotonic() - began:.1f} s (full output: {log_path})"
        )
    _log(f"    done in {time.monotonic() - began:.1f} s{note}")
