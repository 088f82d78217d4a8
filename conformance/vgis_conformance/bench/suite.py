"""The suite's own speed: ``pytest conformance`` timed serial and with ``-n auto`` for 1, 2, ... peers.

Builds are done first, so the seconds are the suite's, not a compiler's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vgis_conformance.builder import PeerUnavailable, ensure_built
from vgis_conformance.layout import suite_argv
from vgis_conformance.manifest import Manifest
from vgis_conformance.protocol import Json


def time_suite(manifests: Sequence[Manifest], extra: Sequence[str]) -> Json:
    """``pytest conformance`` serial and with -n auto for the first 1, 2, ... peers (builds cached first)."""
    names: list[str] = []
    for m in manifests:
        try:
            ensure_built(m)
            names.append(m.name)
        except PeerUnavailable as exc:
            print(f"[bench] suite: {exc}", file=sys.stderr)
    runs: list[Json] = []
    with tempfile.TemporaryDirectory(prefix="vgis-suite-") as tmp:
        for count in range(1, len(names) + 1):
            for mode in ("serial", "-n auto"):
                argv = [
                    *suite_argv(),
                    "-q",
                    "--report-dir",
                    str(Path(tmp) / f"{count}-{mode.replace(' ', '')}"),
                    *(["-n", "auto"] if mode == "-n auto" else ["-p", "no:xdist"]),
                    *[a for n in names[:count] for a in ("--peer", n)],
                    *extra,
                ]
                print(f"[bench] suite: {count} peer(s) {names[:count]}, {mode}", file=sys.stderr, flush=True)
                start = time.perf_counter()
                proc = subprocess.run(argv, capture_output=True, text=True, check=False)
                seconds = time.perf_counter() - start
                tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or [""]
                runs.append(
                    {
                        "peers": names[:count],
                        "mode": mode,
                        "seconds": seconds,
                        "exit": proc.returncode,
                        "summary": tail[0],
                    }
                )
                print(f"[bench] suite: {seconds:.1f} s, exit {proc.returncode}: {tail[0]}", file=sys.stderr, flush=True)
    return {"peers": names, "runs": runs}
