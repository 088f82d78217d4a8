"""``vgis-conformance run`` from any folder: the kit's suite runs, the reports land in that folder's ./reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vgis_conformance.outcomes import PASSED, UNEXPECTED_PASS

KIT = Path(__file__).resolve().parents[1]


def test_run_from_another_folder_writes_reports_there(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(KIT / "conformance"), str(KIT / "reference")])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vgis_conformance.cli",
            "run",
            "--peer",
            "python-reference",
            "-n",
            "0",
            "-k",
            "test_create_initializes",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = tmp_path / "reports" / "report.json"
    assert f"reports: {tmp_path / 'reports'}" in proc.stdout
    cases = json.loads(report.read_text())["cases"]
    assert cases and {c["outcome"] for c in cases} == {"passed"}
    assert all(c["case_id"].startswith("header/create-initializes") for c in cases)
    assert (tmp_path / "reports" / "junit.xml").exists() and (tmp_path / "reports" / "report.html").exists()


def test_run_takes_an_unregistered_peer_by_command(tmp_path: Path) -> None:
    """A third-party peer runs through the main command, under the name it is given, with its own list."""
    known = tmp_path / "mine-known-failures.txt"
    known.write_text("header/create-initializes/65537  planted, so the list is seen to be read\n")
    command = f"mine={sys.executable} {KIT / 'peers' / 'python-reference' / 'peer.py'}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vgis_conformance.cli",
            "run",
            "-n",
            "0",
            "--peer-cmd",
            command,
            "--known-failures",
            f"mine={known}",
            "--",
            "-k",
            "test_create_initializes",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    cases = json.loads((tmp_path / "reports" / "report.json").read_text())["cases"]
    assert {tuple(c["peers"]) for c in cases} == {("mine",)}, proc.stdout[-2000:]
    outcomes = {c["case_id"]: c["outcome"] for c in cases}
    assert outcomes.pop("header/create-initializes/65537") == UNEXPECTED_PASS
    assert outcomes and set(outcomes.values()) == {PASSED}
    assert proc.returncode != 0, "an unexpected pass must fail the run (the known-failures list is stale)"
