"""Build the peer: ``python3 build.py OUT_DIR [CACHE_DIR [KIT_ROOT]]`` (the harness passes ``{build}``, ``{cache}``,
``{kit}``; by hand, ``python3 build.py .``; peer.toml's toolchain_version hashes the SDK, so a kit upgrade
rebuilds).

src/main.rs is a backend of the kit's Rust peer SDK (KIT_ROOT/peers/sdk/rust, the crate ``vgis-peer``). Cargo.toml
names it by the placeholder path ``KIT_ROOT/peers/sdk/rust``: this script writes a copy of Cargo.toml into
``OUT_DIR/crate`` with the real path (and the binary pointed back at this folder's src/main.rs), so this folder is
never written to, then runs ``cargo build --release --locked`` on the copy (a path dependency's place is not in
Cargo.lock, so this folder's lock holds) and puts the binary at ``OUT_DIR/vgis-peer``. Cargo's target folder is
``CACHE_DIR/cargo-target``, shared with the kit's own Rust peers (one compiled Arrow), or ``OUT_DIR/target``.
Without KIT_ROOT, the kit is found through the installed ``vgis_conformance``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # never write into the kit
HERE = Path(__file__).resolve().parent
PLACEHOLDER = "KIT_ROOT/peers/sdk/rust"
BIN = "peer"


def kit_root(argv: list[str]) -> Path:
    """KIT_ROOT as given, else the kit installed for this interpreter (the harness runs build.py with it)."""
    if argv:
        return Path(argv[0]).resolve()
    from vgis_conformance.layout import KIT_ROOT

    return Path(KIT_ROOT)


def main() -> None:
    args = sys.argv[1:]
    out = Path(args[0] if args else ".").resolve()
    target = Path(args[1]).resolve() / "cargo-target" if len(args) > 1 else out / "target"
    sdk = kit_root(args[2:]) / "peers" / "sdk" / "rust"
    if not (sdk / "Cargo.toml").is_file():
        sys.exit(f"[build] error: no Rust peer SDK at {sdk}")
    crate = out / "crate"
    crate.mkdir(parents=True, exist_ok=True)
    text = (HERE / "Cargo.toml").read_text()
    text = text.replace(f"path = {json.dumps(PLACEHOLDER)}", f"path = {json.dumps(str(sdk))}")
    text = text.replace('path = "src/main.rs"', f"path = {json.dumps(str(HERE / 'src' / 'main.rs'))}")
    (crate / "Cargo.toml").write_text(text)
    shutil.copyfile(HERE / "Cargo.lock", crate / "Cargo.lock")
    argv = ["cargo", "build", "--release", "--locked", "--manifest-path", str(crate / "Cargo.toml")]
    argv += ["--target-dir", str(target)]
    print(f"[build] $ {' '.join(argv)}", flush=True)
    if subprocess.run(argv, check=False, env=os.environ).returncode != 0:
        sys.exit("[build] error: cargo build failed")
    tmp = out / "vgis-peer.tmp"
    shutil.copyfile(target / "release" / BIN, tmp)
    tmp.chmod(0o755)
    os.replace(tmp, out / "vgis-peer")
    print(f"[build] built {out / 'vgis-peer'}", flush=True)


if __name__ == "__main__":
    main()
