"""``vgis-conformance doctor``: every step passes for the reference peer, and a defect fails the right step.

Doctor is the first thing a new implementer runs, so what matters is that the
first FAIL line names the step that is really broken (with its clauses and
protocol section) and that the steps depending on it are skipped, not run on
a dead peer. The broken peers of tests/broken_peers each carry one defect.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from vgis_conformance.doctor import STEPS

KIT = Path(__file__).resolve().parents[1]
BROKEN = KIT / "tests" / "broken_peers" / "peer.py"
LINE = re.compile(r"^(ok|FAIL|skip) +(\S+) +([^:]+): (.*)$")


@dataclass
class Doctor:
    """One finished doctor run: exit status, output, and each step's status and text by step key."""

    returncode: int
    output: str
    steps: dict[str, tuple[str, str]]


def run_doctor(*args: str, timeout: float = 120) -> Doctor:
    """``vgis-conformance doctor ARGS`` in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "vgis_conformance.cli", "doctor", *args],
        cwd=KIT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = proc.stdout + proc.stderr
    steps = {m.group(2): (m.group(1), m.group(4)) for m in map(LINE.match, proc.stdout.splitlines()) if m}
    return Doctor(proc.returncode, output, steps)


def broken(defect: str) -> str:
    """The ``--peer-cmd`` of the broken peer with ``defect``."""
    return f"broken-{defect}={shlex.quote(sys.executable)} {shlex.quote(str(BROKEN))} --defect {defect}"


def test_doctor_passes_the_reference_peer() -> None:
    run = run_doctor("--peer", "python-reference")
    assert run.returncode == 0, run.output
    assert list(run.steps) == [s.key for s in STEPS], run.output
    assert {status for status, _ in run.steps.values()} == {"ok"}, run.output
    assert "language python" in run.steps["1"][1]
    assert "doctor: 8 ok, 0 FAIL, 0 skip" in run.output


@dataclass(frozen=True)
class Expect:
    """Which step a defect must fail, what its message says, and whether the peer process dies of it.

    Steps that do not depend on the failed one still run (and pass) on a live
    peer; once the process is gone, every later step is skipped.
    """

    step: str
    says: str
    clause: str
    dies: bool


EXPECT = {
    # Dies on its first write: write fails, and every later step is skipped (the peer is gone).
    "crash": Expect("5", "exited with status 3 during write", "WRITE-1", dies=True),
    # Dictionary framing keeps the EOS: only the write check sees it; reading golden regions still works.
    "eos-in-dict-framing": Expect("5", "FRAME-3: dictionary framing must not contain an EOS", "FRAME-3", dies=False),
    # One canary byte past the entry.
    "write-past-entry": Expect("5", "WRITE-3: bytes written outside the entry", "WRITE-3", dies=False),
    # A non-JSON line on stdout before the header answer, which step 3 asks for.
    "garbage": Expect("3", "non-JSON line in answer to header", "LIFE-9", dies=True),
    # Answers free with the wrong id: the allocate/free step.
    "wrong-id": Expect("4", "(free) with id", "ALLOC-5", dies=True),
    # Never answers allocate.
    "hang": Expect("4", "no answer to allocate", "ALLOC-1", dies=True),
}


@pytest.mark.parametrize("defect", list(EXPECT))
def test_doctor_fails_the_broken_step(defect: str) -> None:
    expect = EXPECT[defect]
    run = run_doctor("--peer-cmd", broken(defect), "--timeout", "3")
    assert run.returncode == 1, run.output
    failed = [key for key, (status, _) in run.steps.items() if status == "FAIL"]
    assert failed == [expect.step], run.output
    fail_at = run.output.index(f"FAIL {expect.step}")
    see_at = run.output.index("see docs/SPEC.md", fail_at)
    assert expect.says in run.output[fail_at:see_at], run.output
    see = run.output[see_at:].splitlines()[0]
    assert "see docs/SPEC.md [" in see and expect.clause in see and "docs/peer-protocol.md section" in see, see
    keys = [s.key for s in STEPS]
    for key in keys[: keys.index(expect.step)]:
        assert run.steps[key][0] == "ok", run.output
    for key in keys[keys.index(expect.step) + 1 :]:
        status, text = run.steps[key]
        if expect.dies:
            assert (status, text) == ("skip", f"the peer is not running after step {expect.step} failed"), run.output
        else:
            assert status == "ok", run.output


def test_doctor_handshake_failure_skips_everything() -> None:
    """A command that is not a peer fails the handshake, and nothing after it runs."""
    run = run_doctor("--peer-cmd", f"not-a-peer={shlex.quote(sys.executable)} -c pass", "--timeout", "3")
    assert run.returncode == 1, run.output
    assert run.steps["1"][0] == "FAIL", run.output
    assert all(run.steps[s.key][0] == "skip" for s in STEPS[1:]), run.output
