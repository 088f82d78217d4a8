"""Build the peer: ``python3 build.py OUT_DIR [KIT_ROOT]`` (the harness passes ``{build}``, ``{kit}``; by hand,
``python3 build.py .``; peer.toml's toolchain_version hashes the SDK, so a kit upgrade rebuilds).

main.go implements the interfaces of the kit's Go peer SDK (KIT_ROOT/peers/sdk/go, the module
``vgis.dev/peersdk``), which no module proxy serves. So go.mod and go.sum are copied into ``OUT_DIR/gomod``, the
copy gets ``replace vgis.dev/peersdk => KIT_ROOT/peers/sdk/go`` (``go mod edit``), and ``go build
-modfile=OUT_DIR/gomod/go.mod -mod=readonly`` builds this folder against it: this folder is never written to.
go.sum is committed (the SDK's own go.sum) rather than made by ``go mod tidy`` at build time: -mod=readonly
then refuses any drift instead of resolving it, no checksum database is asked, and once the first build has
filled the module cache every later build works offline. The binary is ``OUT_DIR/vgis-peer``.
Without KIT_ROOT, the kit is found through the installed ``vgis_conformance``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # never write into the kit
HERE = Path(__file__).resolve().parent
MODULE = "vgis.dev/peersdk"


def kit_root(argv: list[str]) -> Path:
    """KIT_ROOT as given, else the kit installed for this interpreter (the harness runs build.py with it)."""
    if argv:
        return Path(argv[0]).resolve()
    from vgis_conformance.layout import KIT_ROOT

    return Path(KIT_ROOT)


def run(argv: list[str]) -> None:
    print(f"[build] $ {' '.join(argv)}", flush=True)
    # GOWORK=off: a go.work above this folder must not replace the modules go.mod names.
    if subprocess.run(argv, cwd=HERE, env={**os.environ, "GOWORK": "off"}, check=False).returncode != 0:
        sys.exit(f"[build] error: {argv[0]} {argv[1]} failed")


def main() -> None:
    args = sys.argv[1:]
    out = Path(args[0] if args else ".").resolve()
    sdk = kit_root(args[1:]) / "peers" / "sdk" / "go"
    if not (sdk / "go.mod").is_file():
        sys.exit(f"[build] error: no Go peer SDK at {sdk}")
    go = shutil.which("go") or sys.exit("[build] error: go is not on PATH")
    mod = out / "gomod" / "go.mod"
    mod.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "go.mod", mod)
    shutil.copyfile(HERE / "go.sum", mod.with_suffix(".sum"))  # go build -modfile reads the .sum beside it
    run([go, "mod", "edit", f"-replace={MODULE}={sdk}", str(mod)])
    tmp = out / "vgis-peer.tmp"
    run([go, "build", f"-modfile={mod}", "-mod=readonly", "-trimpath", "-o", str(tmp), "."])
    os.replace(tmp, out / "vgis-peer")
    print(f"[build] built {out / 'vgis-peer'}", flush=True)


if __name__ == "__main__":
    main()
