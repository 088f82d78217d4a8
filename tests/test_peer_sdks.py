"""The peer SDKs' own tests, built with their toolchains: the C++ SDK's vgis_peer_test.cc (warnings as errors)
and the Go SDK's ``go vet`` and ``go test``. Outside CI a missing toolchain skips; under CI it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parents[1] / "peers" / "sdk"


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not on PATH: CI must run the SDK's tests")
        pytest.skip(f"{tool} is not on PATH")
    return found


def test_cpp_sdk_builds_with_warnings_as_errors_and_passes_its_tests() -> None:
    _require("g++")
    proc = subprocess.run([sys.executable, str(SDK / "cpp" / "arrow_build.py"), "test"], capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "vgis_peer tests: ok" in proc.stdout


def test_go_sdk_is_vetted_formatted_and_passes_its_tests() -> None:
    go = _require("go")
    gofmt = shutil.which("gofmt") or str(Path(go).with_name("gofmt"))
    unformatted = subprocess.run([gofmt, "-l", "."], cwd=SDK / "go", capture_output=True, text=True, timeout=60,
                                 check=True).stdout.split()
    assert not unformatted, f"gofmt would change {unformatted}"
    for argv in ([go, "vet", "./..."], [go, "test", "./..."]):
        proc = subprocess.run(argv, cwd=SDK / "go", capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, f"{' '.join(argv[1:])}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
