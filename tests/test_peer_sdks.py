"""The peers' own checks, with their toolchains: the C++ SDK's vgis_peer_test.cc (warnings as errors), the Go
SDK's gofmt, ``go vet`` and ``go test``, and cargo fmt and clippy over both Rust peers. Outside CI a missing
toolchain skips; under CI it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vgis_conformance.manifest import cache_root

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
    proc = subprocess.run(
        [sys.executable, str(SDK / "cpp" / "arrow_build.py"), "test"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "vgis_peer tests: ok" in proc.stdout


def test_go_sdk_is_vetted_formatted_and_passes_its_tests() -> None:
    go = _require("go")
    gofmt = shutil.which("gofmt") or str(Path(go).with_name("gofmt"))
    unformatted = subprocess.run(
        [gofmt, "-l", "."], cwd=SDK / "go", capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert not unformatted, f"gofmt would change {unformatted}"
    for argv in ([go, "vet", "./..."], [go, "test", "./..."]):
        proc = subprocess.run(argv, cwd=SDK / "go", capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, f"{' '.join(argv[1:])}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


@pytest.mark.parametrize("crate", ["rust", "vgi-rpc-rust"])
def test_rust_peer_is_formatted_and_clippy_clean(crate: str) -> None:
    """``cargo fmt --check`` and ``cargo clippy -D warnings`` over the peer's crate, in the kit's target folder."""
    cargo = _require("cargo")
    folder = SDK.parent / crate
    fmt = subprocess.run(
        [cargo, "fmt", "--check"], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )
    assert fmt.returncode == 0, f"cargo fmt would change {crate}:\n{fmt.stdout[-3000:]}"
    target = cache_root() / "cargo-target"
    clippy = subprocess.run(
        [
            cargo,
            "clippy",
            "--release",
            "--locked",
            "--ignore-rust-version",
            "--target-dir",
            str(target),
            "--",
            "-D",
            "warnings",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert clippy.returncode == 0, f"cargo clippy on {crate}:\n{clippy.stderr[-4000:]}"
