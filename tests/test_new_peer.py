"""``vgis-conformance new-peer``: every language's template builds with its own toolchain and passes doctor's handshake.

Each template is generated into a temporary folder, built through its
peer.toml by the kit's cached builder (``doctor --peer-dir``), and checked by
doctor's handshake step. Then the built peer is spoken to directly: it must
echo a 2^64 - 1 request id digit for digit (the JSON library keeps u64
exact), answer an unknown op with ``unsupported`` and exit 0 on ``shutdown``;
the peer's folder must hold only the template's files afterwards, and the Go
template must be gofmt- and ``go vet``-clean. Outside CI a missing toolchain
skips a language; under CI (``CI`` set) it fails.
The peer names are fixed, so the builds land in the same cache folders every
run (``{cache}/build/kit-template-<lang>``) and a repeated run does not rebuild.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vgis_conformance.builder import missing_toolchain
from vgis_conformance.manifest import load
from vgis_conformance.new_peer import LANGUAGES, NEXT_STEPS, template_files

KIT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 900  # a first Rust or Maven build on a cold cache fetches from the registry
U64_MAX = 2**64 - 1


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``vgis-conformance ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "vgis_conformance.cli", *args],
        cwd=KIT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def generate(lang: str, folder: Path) -> None:
    """``new-peer`` into ``folder`` under the fixed name of this language's template."""
    proc = cli("new-peer", "--lang", lang, "--name", f"kit-template-{lang}", str(folder))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def talk(folder: Path, lines: list[str]) -> tuple[list[dict[str, object]], int]:
    """Start the built peer as its peer.toml says, send ``lines``, return its responses and exit status."""
    manifest = load(folder / "peer.toml")
    argv = [manifest.expand(a) for a in manifest.start]
    proc = subprocess.run(
        argv,
        cwd=folder,
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.returncode


def generated(lang: str, tmp_path: Path, must: str) -> Path:
    """The ``lang`` template generated under ``tmp_path``; a missing toolchain fails under CI, else skips."""
    folder = tmp_path / f"peer-{lang}"
    generate(lang, folder)
    missing = missing_toolchain(load(folder / "peer.toml"))
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so the {lang} template must {must}: it needs {missing} on PATH", pytrace=False)
        pytest.skip(f"the {lang} template needs {missing} on PATH")
    return folder


@pytest.mark.parametrize("lang", LANGUAGES)
def test_template_passes_doctor_handshake(lang: str, tmp_path: Path) -> None:
    folder = generated(lang, tmp_path, "build")
    proc = cli("doctor", "--peer-dir", str(folder), "--handshake-only", timeout=BUILD_TIMEOUT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert re.search(
        rf"^ok +1 +handshake: kit-template-{lang} 0\.1\.0, language \S+, .*capabilities none$", proc.stdout, re.M
    ), output
    responses, status = talk(
        folder,
        [
            f'{{"id": {U64_MAX}, "op": "hello"}}',
            f'{{"id": 2, "op": "create", "name": "/x", "size": {U64_MAX}}}',
            '{"id": 3, "op": "shutdown"}',
            '{"id": 4, "op": "hello"}',
        ],
    )
    assert status == 0, responses
    assert [r["id"] for r in responses] == [U64_MAX, 2, 3], responses
    hello, create, shutdown = responses
    assert hello["ok"] is True and hello["capabilities"] == [] and hello["protocol"] == 1
    assert create["ok"] is False and create["error"]["kind"] == "unsupported"  # type: ignore[index]
    assert shutdown["ok"] is True
    assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == template_files(lang), (
        "the build wrote into the peer"
    )


@pytest.mark.toolchain
def test_go_template_is_gofmt_and_vet_clean(tmp_path: Path) -> None:
    """gofmt and ``go vet`` on the Go template, against the go.mod copy its build left (the SDK replaced in).

    The Go toolchain's lint, so a ``toolchain`` test (``pytest tests -m toolchain``); the build is the one
    test_template_passes_doctor_handshake[go] made (the cache keys on the template's content).
    """
    folder = generated("go", tmp_path, "be vetted")
    proc = cli("doctor", "--peer-dir", str(folder), "--handshake-only", timeout=BUILD_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modfile = load(folder / "peer.toml").build_dir / "gomod" / "go.mod"
    env = {**os.environ, "GOWORK": "off"}
    gofmt = shutil.which("gofmt") or str(Path(shutil.which("go") or "go").with_name("gofmt"))
    listed = subprocess.run([gofmt, "-l", "."], cwd=folder, capture_output=True, text=True, check=True, timeout=60)
    assert listed.stdout == "", f"gofmt would change {listed.stdout.split()}"
    vet = subprocess.run(
        ["go", "vet", f"-modfile={modfile}", "-mod=readonly", "."],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert vet.returncode == 0, vet.stdout + vet.stderr


def test_template_without_handshake_only_is_incomplete(tmp_path: Path) -> None:
    """Plain doctor on a fresh template: handshake ok, create not implemented yet, allocate not declared; exit 3."""
    generate("python", tmp_path / "peer")
    proc = cli("doctor", "--peer-dir", str(tmp_path / "peer"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert re.search(r"^ok +1 +handshake:", proc.stdout, re.M), proc.stdout
    assert re.search(r"^skip +2 +create: not implemented yet \(create answered unsupported", proc.stdout, re.M)
    assert re.search(r"^skip +4 +allocate/free: not declared", proc.stdout, re.M), proc.stdout
    assert re.search(r"^skip +5 +write: needs step 2", proc.stdout, re.M), proc.stdout
    assert not re.search(r"^FAIL", proc.stdout, re.M), proc.stdout
    assert "0 FAIL" in proc.stdout and "1 not implemented yet" in proc.stdout


@pytest.mark.parametrize("lang", LANGUAGES)
def test_template_files_are_filled_in(lang: str, tmp_path: Path) -> None:
    """No placeholder survives; the README carries the next steps; peer.toml declares nothing."""
    generate(lang, tmp_path / "peer")
    written = sorted(p.relative_to(tmp_path / "peer") for p in (tmp_path / "peer").rglob("*") if p.is_file())
    assert written == template_files(lang)
    for path in written:
        text = (tmp_path / "peer" / path).read_text()
        assert not re.search(r"@[A-Z_]+@", text), f"{path} keeps a placeholder"
    readme = (tmp_path / "peer" / "README.md").read_text()
    assert "## What to implement next" in readme and f'--peer-cmd "kit-template-{lang}=' in readme
    assert NEXT_STEPS.read_text().splitlines()[0] in readme
    manifest = load(tmp_path / "peer" / "peer.toml")
    assert manifest.name == f"kit-template-{lang}" and manifest.capabilities == frozenset()


def test_new_peer_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me\n")
    proc = cli("new-peer", "--lang", "go", str(tmp_path))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
