"""A peer build shows what it does without flooding the terminal: progress folded, warnings and errors kept."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from vgis_conformance.builder import PeerUnavailable, condense, ensure_built, is_current
from vgis_conformance.manifest import Manifest

NOISY = (
    "".join(f"   Compiling crate-{i} v1.0.{i}\n" for i in range(300))
    + "warning: unused variable `x`\n"
    + "".join(f"go: downloading example.com/m{i} v0.{i}.0\n" for i in range(50))
)


def test_progress_lines_are_folded_and_the_rest_echoed() -> None:
    out, log = io.StringIO(), io.StringIO()
    folded = condense(io.StringIO(NOISY), log, out)
    shown = out.getvalue().splitlines()
    assert folded == 350
    assert "    warning: unused variable `x`" in shown
    assert len(shown) < 10, shown
    assert shown[-1] == "    ... 350 more (go: downloading example.com/m49 v0.49.0)"
    assert log.getvalue() == NOISY, "the full output is kept in the build log"


def script_peer(tmp_path: Path, script: str) -> Manifest:
    folder = tmp_path / "peer"
    folder.mkdir()
    (folder / "build.py").write_text(script)
    return Manifest(
        name="noisy",
        language="python",
        folder=folder,
        start=(sys.executable, "-c", "pass"),
        build=(("{python}", "build.py"),),
        sources=("build.py",),
        toolchain=("python3",),
    )


def test_a_build_is_timed_logged_and_stamped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VGIS_CACHE_DIR", str(tmp_path / "cache"))
    manifest = script_peer(tmp_path, f"print({NOISY!r}, end='')\n")
    assert not is_current(manifest)
    ensure_built(manifest)
    assert is_current(manifest)
    err = capsys.readouterr().err
    assert "building noisy into" in err and "warning: unused variable" in err
    assert "350 progress lines folded" in err and "built noisy in " in err
    assert "Compiling crate-150 " not in err
    assert "Compiling crate-150 " in (manifest.build_dir / "build.log").read_text()


def test_a_failed_build_names_its_step_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VGIS_CACHE_DIR", str(tmp_path / "cache"))
    manifest = script_peer(tmp_path, "import sys\nprint('error[E0425]: cannot find value `y`')\nsys.exit(3)\n")
    with pytest.raises(PeerUnavailable, match=r"build step .*build\.py failed with status 3 .*build\.log"):
        ensure_built(manifest)
    assert "error[E0425]: cannot find value `y`" in capsys.readouterr().err
    assert not is_current(manifest)
