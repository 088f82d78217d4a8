"""Build the peer: ``python3 build.py OUT_DIR [KIT_ROOT]`` (the harness passes ``{build}``, ``{kit}``; by hand, ``.``).

peer.cc is compiled together with the kit's C++ peer SDK (KIT_ROOT/peers/sdk/cpp:
vgis_peer.h, vgis_peer.cc) by the SDK's arrow_build.py: it checks for
nlohmann/json first (``apt-get install nlohmann-json3-dev``), builds with
``-Wall -Wextra -Werror`` against the Arrow C++ of this interpreter's pyarrow
(``pip install pyarrow``), and checks that the binary answers ``hello``.
Without KIT_ROOT, the kit is found through the installed ``vgis_conformance``.
Add your own .cc files to SOURCES.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.dont_write_bytecode = True  # never write into the kit
HERE = Path(__file__).resolve().parent
SOURCES = ["peer.cc"]


def kit_root() -> Path:
    if len(sys.argv) > 2:
        return Path(sys.argv[2])
    try:
        from vgis_conformance.layout import KIT_ROOT
    except ImportError:
        sys.exit(
            "build.py: give the kit's root folder (python3 build.py OUT_DIR KIT_ROOT), "
            "or run it with the interpreter vgis-conformance is installed in"
        )
    return KIT_ROOT


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    sys.path.insert(0, str(kit_root() / "peers" / "sdk" / "cpp"))
    from arrow_build import BuildError, build

    try:
        build(out / "vgis-peer", SOURCES, cwd=HERE, log=lambda m: print(f"[build] {m}", flush=True))
    except BuildError as exc:
        sys.exit(f"[build] error: {exc}")


if __name__ == "__main__":
    main()
