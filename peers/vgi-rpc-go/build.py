"""Build the vgi-rpc-go peer: ``python build.py BUILD_DIR`` (run in this folder).

github.com/Query-farm/vgi-rpc-go v0.25.0 (and its vgirpc/otel submodule,
which its go.mod requires) is not served by the Go module proxy here, so the
build needs a source tree of that release, named by VGIS_PEER_SOURCE_DIR (the
harness sets it from ``--peer-source vgi-rpc-go=PATH`` or
``VGIS_PEER_SOURCE=vgi-rpc-go=PATH``).

The committed go.mod and go.sum are never edited: the build copies them into
BUILD_DIR, adds ``replace`` directives for both modules (and an absolute one
for vgis.dev/peersdk) with ``go mod edit``, and builds with
``go build -modfile=BUILD_DIR/go.mod``. Nothing is written into this folder or
into the source tree, which may be read-only. The binary is
BUILD_DIR/vgis-peer-vgi-rpc-go.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MODULE = "github.com/Query-farm/vgi-rpc-go"
OTEL = f"{MODULE}/vgirpc/otel"
RELEASE = "v0.25.0"
BINARY = "vgis-peer-vgi-rpc-go"
HERE = Path(__file__).resolve().parent


def fail(message: str, status: int = 1) -> int:
    print(f"build.py: {message}", file=sys.stderr)
    return status


def module_of(go_mod: Path) -> str | None:
    try:
        for line in go_mod.read_text().splitlines():
            if line.startswith("module "):
                return line.split()[1]
    except OSError:
        return None
    return None


def run(argv: list[str], env: dict[str, str]) -> int:
    shown = " ".join(str(a) for a in argv)
    print(f"$ {shown}", flush=True)
    start = time.monotonic()
    status = subprocess.run(argv, cwd=HERE, env=env, check=False).returncode
    print(f"  ({time.monotonic() - start:.1f}s, exit {status})", flush=True)
    return status


def main(args: list[str]) -> int:
    if len(args) != 1:
        return fail("usage: python build.py BUILD_DIR", 2)
    build = Path(args[0]).resolve()
    source = os.environ.get("VGIS_PEER_SOURCE_DIR")
    if not source:
        return fail(
            f"{MODULE} {RELEASE} is not served by the Go module proxy here, so this peer is built "
            f"from a source tree of that release: pass --peer-source vgi-rpc-go=PATH (or set "
            f"VGIS_PEER_SOURCE=vgi-rpc-go=PATH; the harness hands it over as VGIS_PEER_SOURCE_DIR)",
            2,
        )
    src = Path(source).resolve()
    if module_of(src / "go.mod") != MODULE:
        return fail(f"VGIS_PEER_SOURCE_DIR={src} is not a checkout of {MODULE} (no go.mod declaring it)", 2)
    if module_of(src / "vgirpc" / "otel" / "go.mod") != OTEL:
        return fail(f"{src} lacks the {OTEL} submodule (vgirpc/otel/go.mod)", 2)
    go = shutil.which("go")
    if go is None:
        return fail("go is not on PATH (Go 1.26 or newer: https://go.dev/dl/)", 2)

    build.mkdir(parents=True, exist_ok=True)
    mod, sums = build / "go.mod", build / "go.sum"
    shutil.copyfile(HERE / "go.mod", mod)
    shutil.copyfile(HERE / "go.sum", sums)
    mod.chmod(0o644)
    sums.chmod(0o644)
    env = {**os.environ, "GOWORK": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "1", "GOFLAGS": "-mod=readonly"}
    edit = [
        go,
        "mod",
        "edit",
        f"-replace={MODULE}={src}",
        f"-replace={OTEL}={src / 'vgirpc' / 'otel'}",
        f"-replace=vgis.dev/peersdk={(HERE.parent / 'sdk' / 'go').resolve()}",
        str(mod),
    ]
    if run(edit, env) != 0:
        return fail("go mod edit failed")
    out = build / BINARY
    if run([go, "build", f"-modfile={mod}", "-trimpath", "-o", str(out), "."], env) != 0:
        return fail("go build failed")
    print(f"built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
