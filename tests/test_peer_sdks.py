"""The peers' own checks, with their toolchains: the C++ SDK's vgis_peer_test.cc (warnings as errors), the Go
SDK's gofmt, ``go vet`` and ``go test``, gofmt and ``go vet`` on the Go adapter, the Java SDK's JUnit tests
(``-Xlint:all -Werror``), cargo fmt, clippy and ``cargo test`` over the Rust SDK and both Rust peers, and mypy on
the vgi-rpc-python adapter in its own venv. Outside CI a missing toolchain (or the Go port's checkout) skips;
under CI it fails.

Every test here is marked ``toolchain``: ``tox -e tests`` runs them as their own line (``pytest tests -m
toolchain``), apart from the kit's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vgis_conformance import sources
from vgis_conformance.builder import PeerUnavailable, ensure_built
from vgis_conformance.manifest import cache_root, registry

SDK = Path(__file__).resolve().parents[1] / "peers" / "sdk"

pytestmark = pytest.mark.toolchain


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI must run the peers' own checks")
    pytest.skip(what)


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        _missing(f"{tool} is not on PATH")
        raise AssertionError("unreachable")
    return found


def _run(
    argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A toolchain command's result, its output kept for the assertion message; never raises on failure."""
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _gofmt_clean(go: str, folder: Path) -> None:
    gofmt = shutil.which("gofmt") or str(Path(go).with_name("gofmt"))
    unformatted = subprocess.run(
        [gofmt, "-l", "."], cwd=folder, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert not unformatted, f"gofmt would change {unformatted} in {folder.name}"


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
    _gofmt_clean(go, SDK / "go")
    for argv in ([go, "vet", "./..."], [go, "test", "./..."]):
        proc = _run(argv, SDK / "go", 600)
        assert proc.returncode == 0, f"{' '.join(argv[1:])}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


def test_rust_sdk_is_formatted_clippy_clean_and_passes_its_tests() -> None:
    """peers/sdk/rust: ``cargo fmt --check``, clippy ``-D warnings`` over the crate and its tests, and ``cargo
    test`` (tests/serve.rs drives the loop in memory), against its own Cargo.lock, in the kit's target folder."""
    cargo = _require("cargo")
    target = ["--target-dir", str(cache_root() / "cargo-target")]
    for argv in (
        [cargo, "fmt", "--check"],
        [cargo, "clippy", "--release", "--locked", "--all-targets", *target, "--", "-D", "warnings"],
        [cargo, "test", "--locked", *target],
    ):
        proc = _run(argv, SDK / "rust", 1200)
        assert proc.returncode == 0, f"cargo {argv[1]} on the Rust SDK:\n{proc.stdout[-3000:]}{proc.stderr[-4000:]}"


@pytest.mark.parametrize("crate", ["rust", "vgi-rpc-rust"])
def test_rust_peer_is_formatted_clippy_clean_and_passes_its_tests(crate: str) -> None:
    """``cargo fmt --check``, ``cargo clippy -D warnings`` (tests included) and ``cargo test`` over the peer's
    crate, in the kit's target folder and release profile, so the dependencies the peer's build compiled serve
    the tests too (vgi-rpc-rust has no tests of its own: there it compiles)."""
    cargo = _require("cargo")
    folder = SDK.parent / crate
    target = ["--release", "--locked", "--ignore-rust-version", "--target-dir", str(cache_root() / "cargo-target")]
    for argv in (
        [cargo, "fmt", "--check"],
        [cargo, "clippy", "--all-targets", *target, "--", "-D", "warnings"],
        [cargo, "test", *target],
    ):
        proc = _run(argv, folder, 1800)
        assert proc.returncode == 0, f"cargo {argv[1]} on {crate}:\n{proc.stdout[-3000:]}{proc.stderr[-4000:]}"
        if argv[1] == "test":
            assert "test result: ok" in proc.stdout, f"cargo test on {crate} ran no test binary:\n{proc.stdout[-2000:]}"


def test_go_adapter_is_formatted_and_vetted(tmp_path: Path) -> None:
    """gofmt and ``go vet`` on peers/vgi-rpc-go, against the go.mod its build.py writes (the port's checkout
    replaced in), since the committed go.mod names a release no proxy here serves."""
    go = _require("go")
    folder = SDK.parent / "vgi-rpc-go"
    _gofmt_clean(go, folder)
    source = sources.requested([]).get("vgi-rpc-go")
    if source is None:
        _missing(f"no checkout of the Go port ({sources.ENV}=vgi-rpc-go=PATH)")
        return
    env = {**os.environ, "VGIS_PEER_SOURCE_DIR": str(source)}
    build = _run([sys.executable, "build.py", str(tmp_path)], folder, 900, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    vet_env = {**env, "GOWORK": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    vet = _run([go, "vet", f"-modfile={tmp_path / 'go.mod'}", "."], folder, 600, env=vet_env)
    assert vet.returncode == 0, f"go vet on vgi-rpc-go:\n{vet.stdout[-3000:]}{vet.stderr[-3000:]}"


def test_java_sdk_compiles_without_warnings_and_passes_its_tests(tmp_path: Path) -> None:
    """The Java SDK's pom.xml (release 17, ``-Xlint:all -Werror``) runs its JUnit tests; output in tmp_path."""
    mvn = _require("mvn")
    proc = _run([mvn, "-B", "-q", f"-Dvgis.build={tmp_path}", "test"], SDK / "java", 900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    reports = list((tmp_path / "target" / "surefire-reports").glob("TEST-*.xml"))
    assert reports, "surefire wrote no test report: the SDK's tests did not run"


def test_vgi_rpc_python_adapter_type_checks_against_its_own_venv() -> None:
    """``mypy --strict`` on peers/vgi-rpc-python against the Python 3.13 venv its build makes, so the adapter is
    checked against vgi_rpc's own annotations (py.typed); tox's mypy run has no vgi_rpc and skips the import."""
    manifest = registry()["vgi-rpc-python"]
    try:
        ensure_built(manifest)
    except PeerUnavailable as exc:
        _missing(str(exc))
        return
    python = manifest.build_dir / "venv" / "bin" / "python"
    argv = [sys.executable, "-m", "mypy", "--no-incremental", "--python-version", "3.13", "--python-executable"]
    proc = _run([*argv, str(python), str(manifest.folder)], SDK.parents[1], 600)
    assert proc.returncode == 0, f"mypy on vgi-rpc-python against {python}:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
