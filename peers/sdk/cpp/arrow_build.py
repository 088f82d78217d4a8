"""Build a C++ peer over the SDK (vgis_peer.h/.cc) against the Arrow C++ that the pyarrow wheel ships.

Used by peers/cpp/build.py and by the ``vgis-conformance new-peer --lang cpp``
template's build.py: ``build(binary, sources, cwd=..., log=...)`` runs one
g++ command with ``-Wall -Wextra -Werror`` over the peer's sources and the
SDK's, then checks that the binary answers ``hello``. It needs:

* nlohmann/json (``/usr/include/nlohmann/json.hpp``: ``apt-get install
  nlohmann-json3-dev``; checked first, and the build stops loudly without it;
  ``CXXFLAGS=-I/folder`` points at a copy elsewhere);
* the Arrow C++ of the running interpreter's pyarrow: headers from
  ``pyarrow.get_include()``, ``libarrow`` from ``pyarrow.get_library_dirs()``
  (after ``pyarrow.create_library_symlinks()``; when site-packages is
  read-only, the versioned file is linked by name), an rpath to that folder
  so the binary runs without LD_LIBRARY_PATH, the wheel's libstdc++ string
  ABI (``_GLIBCXX_USE_CXX11_ABI``, read from libarrow's exported symbols) and
  ``-std=c++20`` (Arrow >= 23 headers need C++20).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent
SDK_SOURCES = [SDK_DIR / "vgis_peer.cc"]
NLOHMANN = Path("/usr/include/nlohmann/json.hpp")
# A symbol whose mangled name carries the ABI tag only under the new string ABI.
NEW_ABI_SYMBOL = b"_ZNK5arrow6Status8ToStringB5cxx11Ev"
OLD_ABI_SYMBOL = b"_ZNK5arrow6Status8ToStringEv"
MISSING_NLOHMANN = """\
************************************************************************
* build failed: the header <nlohmann/json.hpp> was not found           *
* (the C++ peer SDK reads and writes the protocol's JSON with it).     *
* Install nlohmann/json, then build again:                             *
*   Debian/Ubuntu:  apt-get install nlohmann-json3-dev                 *
*   Fedora:         dnf install json-devel                             *
*   macOS:          brew install nlohmann-json                         *
*   or put nlohmann/json.hpp in a folder and set CXXFLAGS=-I/folder    *
************************************************************************"""


class BuildError(Exception):
    """A build step failed; the message says what to do."""


def _nlohmann_found(compiler: str, flags: list[str]) -> bool:
    """True when ``#include <nlohmann/json.hpp>`` compiles with ``flags``."""
    probe = subprocess.run(
        [compiler, "-std=c++17", *flags, "-x", "c++", "-E", "-", "-o", os.devnull],
        input=b"#include <nlohmann/json.hpp>\n",
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def find_arrow(log: Callable[[str], None]) -> tuple[str, str, list[str], str]:
    """(include dir, library dir, link flags, version) of the wheel's Arrow C++."""
    try:
        import pyarrow
    except ImportError:
        raise BuildError(f"pyarrow is not importable from {sys.executable}; install it (pip install pyarrow)") from None
    include = pyarrow.get_include()
    lib_dirs = pyarrow.get_library_dirs()
    so_version = pyarrow.cpp_build_info.so_version
    if not os.path.isfile(os.path.join(include, "arrow", "api.h")):
        raise BuildError(f"pyarrow {pyarrow.__version__} ships no Arrow C++ headers at {include}")
    lib_dir = next((d for d in lib_dirs if os.path.exists(os.path.join(d, f"libarrow.so.{so_version}"))), None)
    if lib_dir is None:
        raise BuildError(f"libarrow.so.{so_version} not found in {lib_dirs}")
    try:
        pyarrow.create_library_symlinks()
    except OSError as exc:
        log(f"create_library_symlinks() failed ({exc}); linking libarrow.so.{so_version} by file name")
    link = ["-larrow"] if os.path.exists(os.path.join(lib_dir, "libarrow.so")) else [f"-l:libarrow.so.{so_version}"]
    return include, lib_dir, link, pyarrow.__version__


def cxx11_abi(lib_dir: str) -> int:
    """The string ABI libarrow was built with: 1 (new, cxx11) or 0 (old)."""
    so_files = sorted(Path(lib_dir).glob("libarrow.so.*"), key=lambda p: len(p.name))
    data = so_files[0].read_bytes()
    if NEW_ABI_SYMBOL in data:
        return 1
    if OLD_ABI_SYMBOL in data:
        return 0
    raise BuildError(f"cannot tell the C++ string ABI of {so_files[0]}")


def build(
    binary: Path, sources: Sequence[str | Path], cwd: Path, log: Callable[[str], None], check_hello: bool = True
) -> None:
    """Compile ``sources`` (relative to ``cwd``) and the SDK into ``binary``; raises BuildError."""
    compiler = os.environ.get("CXX", "g++")
    flags = shlex.split(os.environ.get("CXXFLAGS", ""))
    have_compiler = shutil.which(compiler) is not None
    if not NLOHMANN.is_file() and not (have_compiler and _nlohmann_found(compiler, flags)):
        print(MISSING_NLOHMANN, file=sys.stderr, flush=True)
        raise BuildError("nlohmann/json is missing: apt-get install nlohmann-json3-dev")
    if not have_compiler:
        raise BuildError(f"{compiler} not found on PATH (apt-get install g++)")
    include, lib_dir, link, version = find_arrow(log)
    abi = cxx11_abi(lib_dir)
    log(f"pyarrow {version}: headers {include}, libarrow in {lib_dir}, _GLIBCXX_USE_CXX11_ABI={abi}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".tmp")
    argv = [
        compiler,
        "-std=c++20",
        "-O2",
        "-g0",
        "-Wall",
        "-Wextra",
        "-Werror",
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        "-isystem",
        include,
        f"-I{SDK_DIR}",
        *flags,
        *(str(s) for s in sources),
        *(str(s) for s in SDK_SOURCES),
        "-o",
        str(tmp),
        f"-L{lib_dir}",
        *link,
        f"-Wl,-rpath,{lib_dir}",
    ]
    log("$ " + " ".join(argv))
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"{compiler} failed with status {proc.returncode}")
    os.replace(tmp, binary)
    log(f"built {binary} in {time.monotonic() - start:.1f}s")
    if not check_hello:
        return
    check = subprocess.run(
        [str(binary)],
        input=b'{"id": 0, "op": "hello"}\n',
        capture_output=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"},
    )
    if check.returncode != 0 or b'"ok": true' not in check.stdout:
        raise BuildError(f"the built peer does not answer hello: {check.stdout!r} {check.stderr!r}")
    log("hello: " + check.stdout.decode(errors="replace").strip())


def digest() -> str:
    """SHA-256 of the SDK's files: a build of a peer outside the kit keys its cache on it (toolchain_version)."""
    h = hashlib.sha256()
    for path in sorted(SDK_DIR.glob("*")):
        if path.is_file() and path.suffix in (".h", ".cc", ".py"):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def main(argv: list[str]) -> int:
    """``python arrow_build.py test [BUILD_DIR]``: build and run the SDK's own tests (vgis_peer_test.cc);
    ``python arrow_build.py digest``: print digest()."""
    if len(argv) == 2 and argv[1] == "digest":
        print(f"vgis_peer sdk {digest()}")
        return 0
    if len(argv) < 2 or argv[1] != "test":
        print(main.__doc__, file=sys.stderr)
        return 2
    import tempfile

    def log(message: str) -> None:
        print(f"[cpp sdk] {message}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(argv[2] if len(argv) > 2 else tmp) / "vgis-peer-sdk-test"
        try:
            build(binary, ["vgis_peer_test.cc"], cwd=SDK_DIR, log=log, check_hello=False)
        except BuildError as exc:
            print(f"[cpp sdk] error: {exc}", file=sys.stderr)
            return 1
        return subprocess.run([str(binary)], check=False).returncode


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main(sys.argv))
