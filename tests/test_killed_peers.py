"""Peers killed with SIGKILL mid-request: the harness reports it, cleans /dev/shm and carries on.

Two ``pytest conformance`` subprocesses, each reading its own report.json:

- python-reference through the stress cases that kill it mid-write,
  mid-resolve and mid-create (conformance/cases/test_stress.py), then a
  framing case: every case passes, the peer was restarted three times, the
  report counts the segments removed after the kills, and nothing is left in
  /dev/shm;
- ``killable``, the reference peer that names its own segments as vgi-rpc's
  Rust crate does (``/vgi_rpc_<pid hex>_<n hex>``) and, on its first write,
  reserves an entry, creates one more segment it never reports, then SIGKILLs
  itself: that case is a crash whose message says the peer was killed, the
  cases after it pass on a restarted peer, and neither the reported nor the
  unreported segment of the dead peer is left behind.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

KIT = Path(__file__).resolve().parents[1]
SHM = Path("/dev/shm")
RUN_TIMEOUT = 240

KILLABLE = """
import importlib.util, os, signal, sys
from pathlib import Path

KIT, MARK, LOG = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
sys.path.insert(0, str(KIT / "reference"))
spec = importlib.util.spec_from_file_location("vgis_reference_peer", KIT / "peers" / "python-reference" / "peer.py")
ref = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = ref
spec.loader.exec_module(ref)
from vgis.segment import Segment


class Killable(ref.Handler):
    name = "killable"
    made = 0

    def own_name(self):
        self.made += 1
        name = f"/vgi_rpc_{os.getpid():x}_{self.made:x}"
        with LOG.open("a") as log:
            log.write(f"{os.getpid()} {name}\\n")
        return name

    def op_create(self, req):
        return self._keep(Segment.create(self.own_name(), req["size"]))

    def op_write(self, req):
        if not MARK.exists():
            MARK.write_text(str(os.getpid()))
            self.seg(req).allocator.allocate(4096)
            Segment.create(self.own_name(), 65536 + 4096)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().op_write(req)


ref.serve(Killable())
"""


@dataclass
class Run:
    """One finished conformance run."""

    returncode: int
    output: str
    report: dict[str, Any]
    harness_pid: int

    @property
    def cases(self) -> dict[str, dict[str, Any]]:
        return {c["case_id"]: c for c in self.report["cases"]}

    def left_in_dev_shm(self, names: set[str] | None = None) -> list[str]:
        prefix = f"vgis-main-{self.harness_pid}-"
        return sorted(n for n in os.listdir(SHM) if n.startswith(prefix) or n in (names or set()))


def run_conformance(tmp: Path, *args: str) -> Run:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "--report-dir",
        str(tmp / "report"),
        *args,
    ]
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)  # the inner run is its own session ("main"), not a worker of ours
    proc = subprocess.Popen(argv, cwd=KIT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"conformance run did not finish in {RUN_TIMEOUT}s:\n{output[-3000:]}")
    path = tmp / "report" / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{output[-3000:]}"
    return Run(proc.returncode, output, json.loads(path.read_text()), proc.pid)


def summary_line(run: Run) -> str:
    match = re.search(r"^segments: .*$", run.output, re.M)
    assert match, f"no segments line in the terminal summary:\n{run.output[-3000:]}"
    return match.group(0)


def test_stress_kills_python_reference(tmp_path: Path) -> None:
    run = run_conformance(
        tmp_path,
        "--peer",
        "python-reference",
        "-k",
        "killed or (test_write and signed-ints and not unsigned and not byte_exact)",
        "conformance/cases/test_stress.py",
        "conformance/cases/test_framing.py",
    )
    assert run.returncode == 0, run.output[-3000:]
    outcomes = {c: r["outcome"] for c, r in run.cases.items()}
    assert outcomes == {
        "stress/killed-mid-write": "passed",
        "stress/killed-mid-resolve": "passed",
        "stress/killed-mid-create": "passed",
        "framing/write/signed-ints": "passed",
    }, outcomes
    (peer,) = run.report["peers"]
    assert peer["restarts"] == 3, peer
    # Killed mid-write: the 4 segments it held; mid-resolve: its own segment, not the one it attached;
    # mid-create: the segment whose create answer the harness never read.
    assert peer["segments_removed_after_failure"] == 6, peer
    segments = run.report["segments"]
    assert segments["removed_after_failure"] == 6 and segments["left_in_dev_shm"] == 0, segments
    assert segments["created"] == peer["segments_created"] >= 8, (segments, peer)
    assert summary_line(run) == (
        f"segments: {segments['created']} created, 6 removed after a peer failed, 0 left in /dev/shm"
    )
    assert not run.left_in_dev_shm(), run.left_in_dev_shm()


def test_self_killed_peer_is_a_crash_and_leaves_nothing(tmp_path: Path) -> None:
    script, mark, log = tmp_path / "killable.py", tmp_path / "killed.mark", tmp_path / "segments.log"
    script.write_text(KILLABLE)
    command = " ".join(shlex.quote(str(a)) for a in (sys.executable, script, KIT, mark, log))
    run = run_conformance(
        tmp_path,
        "--peer-cmd",
        f"killable={command}",
        "--peer-timeout",
        "10",
        "-k",
        "(test_write and not byte_exact and (signed-ints or floats or strings)) or (test_read_golden and signed-ints)",
        "conformance/cases/test_framing.py",
    )
    assert run.returncode == 1, f"a crash must fail the run (exit {run.returncode}):\n{run.output[-3000:]}"
    crashed = {c: r for c, r in run.cases.items() if r["outcome"] != "passed"}
    assert len(crashed) == 1, {c: r["outcome"] for c, r in run.cases.items()}
    ((case_id, case),) = crashed.items()
    assert case_id.startswith("framing/write/") and case["outcome"] == "crash", (case_id, case["outcome"])
    assert "killed by SIGKILL" in case["message"] and "during write" in case["message"], case["message"]
    assert case["replay"] and case["replay"]["peers"] == ["killable"], case["replay"]
    assert len(run.cases) >= 4, sorted(run.cases)
    (peer,) = run.report["peers"]
    assert peer["restarts"] == 1, peer
    # The case's segment (reported by create) and the one the peer never reported (found by its pid).
    assert peer["segments_removed_after_failure"] == 2, peer
    assert run.report["segments"]["left_in_dev_shm"] == 0, run.report["segments"]
    lines = log.read_text().split()
    pids, names = {int(p) for p in lines[0::2]}, {n.lstrip("/") for n in lines[1::2]}
    assert len(pids) == 2 and int(mark.read_text()) in pids, (pids, mark.read_text())
    assert len(names) >= 5, names
    assert not run.left_in_dev_shm(names), run.left_in_dev_shm(names)
