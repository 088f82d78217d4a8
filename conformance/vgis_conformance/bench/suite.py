"""The suite's own speed: ``pytest conformance -n auto`` for the first 1, 2, ... peers, and the kit's tests.

Builds are done first, so the seconds are the suite's, not a compiler's. Each count runs with
``--require-all-peers``, so a peer that cannot start fails the row instead of shortening it; what
the n-th peer adds is the difference between rows n and n-1 (render.py, figures.py).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vgis_conformance.builder import PeerUnavailable, ensure_built
from vgis_conformance.layout import INSTALLED, KIT_ROOT, suite_argv
from vgis_conformance.manifest import Manifest, keep_bytecode
from vgis_conformance.protocol import Json

PARALLEL = "-n auto"
SERIAL = "serial"
KIT_TESTS = ("tests", "-n", "auto", "-m", "not toolchain", "-p", "no:cacheprovider", "-q")
"""The kit's own tests as tox -e tests runs them, the peers' toolchain checks being a line of their own
(a clone only: the wheel carries no tests)."""


def _timed(argv: Sequence[str], label: str) -> tuple[float, int, str]:
    """Wall seconds, exit status and pytest's last line of one run."""
    print(f"[bench] suite: {label}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    env = dict(os.environ)
    keep_bytecode(env)  # the suite's seconds, not the compiler's (as builds are cached first)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=KIT_ROOT, env=env)
    seconds = time.perf_counter() - start
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or [""]
    print(f"[bench] suite: {seconds:.1f} s, exit {proc.returncode}: {tail[0]}", file=sys.stderr, flush=True)
    return seconds, proc.returncode, tail[0]


def time_suite(manifests: Sequence[Manifest], extra: Sequence[str], *, serial: bool = False) -> Json:
    """``pytest conformance -n auto`` (and serially with ``serial``) for the first 1, 2, ... peers, then the
    kit's tests; builds cached first."""
    names: list[str] = []
    for m in manifests:
        try:
            ensure_built(m)
            names.append(m.name)
        except PeerUnavailable as exc:
            print(f"[bench] suite: {exc}", file=sys.stderr)
    runs: list[Json] = []
    modes = (SERIAL, PARALLEL) if serial else (PARALLEL,)
    with tempfile.TemporaryDirectory(prefix="vgis-suite-") as tmp:
        for count in range(1, len(names) + 1):
            for mode in modes:
                argv = [
                    *suite_argv(),
                    "-q",
                    "--require-all-peers",
                    "--report-dir",
                    str(Path(tmp) / f"{count}-{mode.replace(' ', '')}"),
                    *(["-n", "auto"] if mode == PARALLEL else ["-p", "no:xdist"]),
                    *[a for n in names[:count] for a in ("--peer", n)],
                    *extra,
                ]
                seconds, status, summary = _timed(argv, f"{count} peer(s) {names[:count]}, {mode}")
                runs.append(
                    {"peers": names[:count], "mode": mode, "seconds": seconds, "exit": status, "summary": summary}
                )
    kit: Json | None = None
    if not INSTALLED and (KIT_ROOT / "tests").is_dir():
        seconds, status, summary = _timed([sys.executable, "-m", "pytest", *KIT_TESTS], "the kit's tests")
        kit = {"command": shlex.join(["pytest", *KIT_TESTS]), "seconds": seconds, "exit": status, "summary": summary}
    return {"peers": names, "runs": runs, "kit_tests": kit}


def added_seconds(suite: Json, mode: str = PARALLEL) -> list[tuple[int, float, float | None]]:
    """Per peer count: the wall seconds of ``mode`` and what the last peer added to the count before it."""
    seconds = {len(r["peers"]): float(r["seconds"]) for r in suite["runs"] if r["mode"] == mode}
    return [(n, s, s - seconds[n - 1] if n - 1 in seconds else None) for n, s in sorted(seconds.items())]
