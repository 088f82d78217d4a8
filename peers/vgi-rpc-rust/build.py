"""Build the vgi-rpc-rust peer into BUILD_DIR/vgis-peer-vgi-rpc-rust (``python build.py BUILD_DIR CACHE_DIR``).

From the registry (the default) this is ``cargo build --locked`` of this
folder against the pinned crates.io release, in the target folder it shares
with peers/rust (``CACHE_DIR/cargo-target``, one compiled Arrow for
both).

From a checkout of the crate (``VGIS_PEER_SOURCE_DIR``, set by the harness
from ``--peer-source vgi-rpc-rust=PATH``), a copy of Cargo.toml in BUILD_DIR
adds ``[patch.crates-io] vgi-rpc = { path = PATH }`` and points the binary at
this folder's ``src/main.rs`` and the peer SDK (peers/sdk/rust) at a copy of
its Cargo.toml on the same arrow-rs, so neither this folder nor the checkout is
written to; its lock file is resolved afresh. With ``VGIS_PEER_VERSION`` (``--peer vgi-rpc-rust@0.20.0``)
the copy requires that crates.io release instead. Every build shares one
target folder (each copies its binary out at once), so releases on the same
arrow-rs compile it once.

vgi-rpc 0.32.0 declares rust-version 1.97 but builds (with the shm feature
only) on older compilers: ``--ignore-rust-version`` skips that check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BINARY = "vgis-peer-vgi-rpc-rust"
SDK_DEP = "../sdk/rust"
SDK = (HERE / SDK_DEP).resolve()


def log(message: str) -> None:
    print(f"[vgi-rpc-rust build] {message}", flush=True)


def cargo(argv: list[str], env: dict[str, str] | None = None) -> None:
    log("$ " + " ".join(argv))
    began = time.monotonic()
    proc = subprocess.run(argv, cwd=HERE, env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        sys.exit(f"[vgi-rpc-rust build] cargo failed with status {proc.returncode}")
    log(f"cargo took {time.monotonic() - began:.1f} s")


def locked_version(lock: Path, package: str) -> str:
    """The version Cargo.lock resolved for ``package``."""
    for entry in tomllib.loads(lock.read_text()).get("package", []):
        if entry.get("name") == package:
            return str(entry["version"])
    sys.exit(f"[vgi-rpc-rust build] {lock} resolves no {package}")


def manifest_copy(build: Path, requirement: str, patch: Path | None) -> tuple[Path, dict[str, str]]:
    """A copy of Cargo.toml in ``build/crate`` that builds this folder's sources against another vgi-rpc.

    ``requirement`` replaces the pinned ``=0.32.0``; ``patch`` is a checkout
    that ``[patch.crates-io]`` substitutes for the registry's crate. The
    adapter's Arrow must be the crate's (its batches are the crate's types),
    so a first resolution with vgi-rpc alone finds which arrow-rs that is.
    Returns the manifest and the versions main.rs reports in ``hello``.
    """
    folder = build / "crate"
    folder.mkdir(parents=True, exist_ok=True)
    main_rs = json.dumps(str(HERE / "src" / "main.rs"))
    text = (HERE / "Cargo.toml").read_text().replace('path = "src/main.rs"', f"path = {main_rs}")
    text = text.replace('version = "=0.32.0"', f'version = "={requirement}"')
    if patch is not None:
        text += f"\n[patch.crates-io]\nvgi-rpc = {{ path = {json.dumps(str(patch))} }}\n"
    head, _, rest = text.partition("[dependencies]\n")
    deps, _, tail = rest.partition("\n\n")
    crate_only = [line for line in deps.splitlines() if line.startswith("vgi-rpc ")]
    (folder / "Cargo.toml").write_text(head + "[dependencies]\n" + "\n".join(crate_only) + "\n\n" + tail)
    (folder / "Cargo.lock").unlink(missing_ok=True)
    cargo(["cargo", "generate-lockfile", "--manifest-path", str(folder / "Cargo.toml")])
    arrow = locked_version(folder / "Cargo.lock", "arrow-ipc")
    crate = locked_version(folder / "Cargo.lock", "vgi-rpc")
    log(f"vgi-rpc {crate} uses arrow-rs {arrow}")
    sdk = sdk_copy(build, arrow)
    text = text.replace(f"path = {json.dumps(SDK_DEP)}", f"path = {json.dumps(str(sdk))}")
    (folder / "Cargo.toml").write_text(text.replace('"60"', f'"={arrow}"'))
    return folder / "Cargo.toml", {"VGIS_VGI_RPC_VERSION": crate, "VGIS_ARROW_VERSION": arrow}


def sdk_copy(build: Path, arrow: str) -> Path:
    """A copy of the peer SDK's Cargo.toml in ``build/sdk`` on that release's arrow-rs (its batches are the
    crate's types), pointing at the SDK's sources where they are, so the kit is never written to."""
    folder = build / "sdk"
    folder.mkdir(parents=True, exist_ok=True)
    lib_rs = json.dumps(str(SDK / "src" / "lib.rs"))
    text = (SDK / "Cargo.toml").read_text().replace("[dependencies]", f"[lib]\npath = {lib_rs}\n\n[dependencies]", 1)
    (folder / "Cargo.toml").write_text(text.replace('"60"', f'"={arrow}"'))
    return folder


def checkout_version(checkout: Path) -> str:
    """The version of the vgi-rpc crate at ``checkout``; exits when it is another crate."""
    crate = tomllib.loads((checkout / "Cargo.toml").read_text()).get("package", {})
    if crate.get("name") != "vgi-rpc":
        sys.exit(f"[vgi-rpc-rust build] {checkout}/Cargo.toml is not the vgi-rpc crate (name {crate.get('name')!r})")
    log(f"building against the checkout {checkout} (vgi-rpc {crate.get('version')})")
    return str(crate.get("version", "0.0.0"))


def main() -> None:
    build = Path(sys.argv[1]).resolve()
    build.mkdir(parents=True, exist_ok=True)
    checkout = os.environ.get("VGIS_PEER_SOURCE_DIR")
    release = os.environ.get("VGIS_PEER_VERSION")
    target = Path(sys.argv[2]).resolve() / "cargo-target"
    if checkout or release:
        copy, versions = (
            manifest_copy(build, checkout_version(Path(checkout)), Path(checkout))
            if checkout
            else manifest_copy(build, str(release), None)
        )
        cargo(
            [
                "cargo",
                "build",
                "--release",
                "--ignore-rust-version",
                "--manifest-path",
                str(copy),
                "--target-dir",
                str(target),
            ],
            versions,
        )
    else:
        cargo(["cargo", "build", "--release", "--locked", "--ignore-rust-version", "--target-dir", str(target)])
    tmp = build / f"{BINARY}.tmp"
    shutil.copyfile(target / "release" / BINARY, tmp)
    tmp.chmod(0o755)
    os.replace(tmp, build / BINARY)
    log(f"built {build / BINARY}")


if __name__ == "__main__":
    main()
