"""Build the cpp peer: one g++ invocation into BUILD_DIR/vgis-peer-cpp (``python build.py BUILD_DIR``).

The harness runs this with its own interpreter, in this folder. The adapter
(peer.cc) and the format modules are compiled with the C++ peer SDK
(../sdk/cpp/vgis_peer.cc) by ../sdk/cpp/arrow_build.py, which checks for
nlohmann/json first (``apt-get install nlohmann-json3-dev``), builds with
``-Wall -Wextra -Werror`` against the Arrow C++ that the installed pyarrow
wheel ships (headers, libarrow, an rpath to it, the wheel's string ABI,
``-std=c++20``) and checks that the binary answers ``hello``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # builds write only into the cache, never into the kit
sys.path.insert(0, str(HERE.parent / "sdk" / "cpp"))

from arrow_build import BuildError, build  # noqa: E402

BUILD = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE / "build"
SOURCES = ["peer.cc", "header.cc", "allocator.cc", "segment.cc", "framing.cc", "pointer.cc", "bench.cc"]


def log(message: str) -> None:
    print(f"[cpp build] {message}", flush=True)


def main() -> None:
    try:
        build(BUILD / "vgis-peer-cpp", SOURCES, cwd=HERE, log=log)
    except BuildError as exc:
        print(f"[cpp build] error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
