"""Build the cpp peer: one g++ invocation into BUILD_DIR/vgis-peer-cpp (``python build.py BUILD_DIR``).

The harness runs this with its own interpreter, in this folder. It builds
against the Arrow C++ that the installed pyarrow wheel ships:

* headers from ``pyarrow.get_include()``;
* ``libarrow`` from ``pyarrow.get_library_dirs()``, after
  ``pyarrow.create_library_symlinks()`` made the unversioned ``libarrow.so``
  (that needs write access to site-packages; without it the versioned file is
  linked by name with ``-l:libarrow.so.<so_version>``);
* an rpath to that folder, so the binary runs without LD_LIBRARY_PATH;
* the wheel's libstdc++ string ABI (``_GLIBCXX_USE_CXX11_ABI``), detected from
  the library's exported symbols, and ``-std=c++20`` (Arrow >= 23 headers need
  C++20; the peer's own code is C++17).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE / "build"
BINARY = BUILD / "vgis-peer-cpp"
SOURCES = ["peer.cc", "json.cc", "header.cc", "allocator.cc", "segment.cc", "framing.cc", "pointer.cc", "bench.cc"]
# A symbol whose mangled name carries the ABI tag only under the new string ABI.
NEW_ABI_SYMBOL = b"_ZNK5arrow6Status8ToStringB5cxx11Ev"
OLD_ABI_SYMBOL = b"_ZNK5arrow6Status8ToStringEv"


def log(message: str) -> None:
    print(f"[cpp build] {message}", flush=True)


def fail(message: str) -> None:
    print(f"[cpp build] error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def find_arrow() -> tuple[str, str, list[str], str]:
    """(include dir, library dir, link flags, version) of the wheel's Arrow C++."""
    try:
        import pyarrow
    except ImportError:
        fail(f"pyarrow is not importable from {sys.executable}; install it (pip install pyarrow)")
    include = pyarrow.get_include()
    lib_dirs = pyarrow.get_library_dirs()
    so_version = pyarrow.cpp_build_info.so_version
    if not os.path.isfile(os.path.join(include, "arrow", "api.h")):
        fail(f"pyarrow {pyarrow.__version__} ships no Arrow C++ headers at {include}")
    lib_dir = next((d for d in lib_dirs if os.path.exists(os.path.join(d, f"libarrow.so.{so_version}"))), None)
    if lib_dir is None:
        fail(f"libarrow.so.{so_version} not found in {lib_dirs}")
    try:
        pyarrow.create_library_symlinks()
    except OSError as exc:
        log(f"create_library_symlinks() failed ({exc}); linking libarrow.so.{so_version} by file name")
    if os.path.exists(os.path.join(lib_dir, "libarrow.so")):
        link = ["-larrow"]
    else:
        link = [f"-l:libarrow.so.{so_version}"]
    return include, lib_dir, link, pyarrow.__version__


def cxx11_abi(lib_dir: str) -> int:
    """The string ABI libarrow was built with: 1 (new, cxx11) or 0 (old)."""
    so_files = sorted(Path(lib_dir).glob("libarrow.so.*"), key=lambda p: len(p.name))
    data = so_files[0].read_bytes()
    if NEW_ABI_SYMBOL in data:
        return 1
    if OLD_ABI_SYMBOL in data:
        return 0
    fail(f"cannot tell the C++ string ABI of {so_files[0]}")
    return 1


def main() -> None:
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        fail(f"{compiler} not found on PATH (apt-get install g++)")
    include, lib_dir, link, version = find_arrow()
    abi = cxx11_abi(lib_dir)
    log(f"pyarrow {version}: headers {include}, libarrow in {lib_dir}, _GLIBCXX_USE_CXX11_ABI={abi}")
    BUILD.mkdir(parents=True, exist_ok=True)
    tmp = BINARY.with_suffix(".tmp")
    argv = [
        compiler, "-std=c++20", "-O2", "-g0", "-Wall", "-Wextra", "-Wno-unused-parameter",
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        "-isystem", include,
        *SOURCES,
        "-o", str(tmp),
        f"-L{lib_dir}", *link, f"-Wl,-rpath,{lib_dir}",
    ]
    log("$ " + " ".join(argv))
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=HERE, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        fail(f"g++ failed with status {proc.returncode}")
    os.replace(tmp, BINARY)
    log(f"built {BINARY} in {time.monotonic() - start:.1f}s")
    check = subprocess.run([str(BINARY)], input=b'{"id": 0, "op": "hello"}\n', capture_output=True,
                           timeout=60, check=False, env={k: v for k, v in os.environ.items()
                                                         if k != "LD_LIBRARY_PATH"})
    if check.returncode != 0 or b'"ok": true' not in check.stdout:
        fail(f"the built peer does not answer hello: {check.stdout!r} {check.stderr!r}")
    log("hello: " + check.stdout.decode(errors="replace").strip())


if __name__ == "__main__":
    main()
