"""Peers built from a checkout of their port (--peer-source / VGIS_PEER_SOURCE), the build cache, provenance.

A throwaway peer stands in for an upstream adapter: its manifest has an
``[upstream]`` table and its build step records what it was given, so the
tests see exactly when the builder rebuilt and with which checkout.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vgis_conformance import cli, report, sources
from vgis_conformance.builder import PeerUnavailable, cache_key, ensure_built
from vgis_conformance.manifest import Manifest, Upstream, load, lookup, registry
from vgis_conformance.outcomes import FAILED, UNAVAILABLE, CaseResult, read_known_failures

RECORD = (
    "import os, sys, pathlib; p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True); "
    "(p / 'builds').open('a').write(os.environ.get('VGIS_PEER_SOURCE_DIR', '-') + '\\n')"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("VGIS_CACHE_DIR", str(folder))
    return folder


def fake_peer(tmp_path: Path, served: bool = False) -> Manifest:
    folder = tmp_path / "peer"
    folder.mkdir()
    (folder / "adapter.txt").write_text("adapter v1\n")
    return Manifest(
        name="fake-port",
        language="python",
        folder=folder,
        start=(sys.executable, "-c", "pass"),
        build=(("{python}", "-c", RECORD, "{build}"),),
        sources=("adapter.txt",),
        toolchain=("python3",),
        upstream=Upstream(package="fake-port", release="1.2.3", registry="a registry", served=served),
    )


def checkout(tmp_path: Path) -> Path:
    tree = tmp_path / "checkout"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "lib.txt").write_text("port v1\n")
    return tree


def builds(manifest: Manifest) -> list[str]:
    path = manifest.build_dir / "builds"
    return path.read_text().splitlines() if path.exists() else []


def test_parse_accepts_lists_and_makes_paths_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    got = sources.parse(["a=x, b=/y/z", "a=w"])
    assert got == {"a": tmp_path / "w", "b": Path("/y/z")}


@pytest.mark.parametrize("bad", ["noequals", "=path", "name="])
def test_parse_rejects_what_is_not_name_equals_path(bad: str) -> None:
    with pytest.raises(sources.SourceError, match="NAME=PATH"):
        sources.parse([bad])


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.ENV, "vgi-rpc-go=/from/env,vgi-rpc-java=/java")
    assert sources.requested(["vgi-rpc-go=/from/flag"]) == {
        "vgi-rpc-go": Path("/from/flag"),
        "vgi-rpc-java": Path("/java"),
    }


def test_apply_sets_the_source_of_selected_peers_only() -> None:
    known = registry()
    chosen = [known["vgi-rpc-python"], known["rust"]]
    got = sources.apply(chosen, {"vgi-rpc-python": Path("/co"), "vgi-rpc-rust": Path("/unselected")}, known)
    assert [(m.name, m.source) for m in got] == [("vgi-rpc-python", Path("/co")), ("rust", None)]


def test_apply_rejects_unknown_peers_and_peers_without_a_port() -> None:
    known = registry()
    with pytest.raises(sources.SourceError, match="no peer named 'nope'"):
        sources.apply([], {"nope": Path("/x")}, known)
    with pytest.raises(sources.SourceError, match="wraps no upstream port"):
        sources.apply([known["rust"]], {"rust": Path("/x")}, known)


def test_every_peer_that_wraps_a_port_says_which() -> None:
    known = registry()
    for name in ("vgi-rpc-python", "vgi-rpc-rust"):
        up = known[name].upstream
        assert up is not None and up.served, name
    for name in ("python-reference", "rust", "cpp"):
        assert known[name].upstream is None, name
    assert load(known["vgi-rpc-rust"].folder / "peer.toml").upstream == Upstream("vgi-rpc", "0.32.0", "crates.io")


def test_unserved_port_without_a_checkout_names_the_flag(tmp_path: Path, cache: Path) -> None:
    manifest = fake_peer(tmp_path, served=False)
    with pytest.raises(PeerUnavailable) as caught:
        ensure_built(manifest)
    message = str(caught.value)
    assert "fake-port 1.2.3 is not served by a registry" in message
    assert "--peer-source fake-port=PATH" in message and "VGIS_PEER_SOURCE=fake-port=PATH" in message
    assert builds(manifest) == []


def test_missing_checkout_folder_is_unavailable(tmp_path: Path, cache: Path) -> None:
    manifest = dataclasses.replace(fake_peer(tmp_path), source=tmp_path / "absent")
    with pytest.raises(PeerUnavailable, match="no such folder"):
        ensure_built(manifest)


def test_build_gets_the_checkout_and_reruns_only_when_it_changes(tmp_path: Path, cache: Path) -> None:
    tree = checkout(tmp_path)
    manifest = dataclasses.replace(fake_peer(tmp_path), source=tree)
    assert manifest.build_dir.is_relative_to(cache)
    ensure_built(manifest)
    ensure_built(manifest)
    assert builds(manifest) == [str(tree)]
    (tree / ".git").mkdir()
    (tree / ".git" / "index").write_text("not source\n")
    (tree / "target").mkdir()
    (tree / "target" / "out.o").write_text("build output\n")
    ensure_built(manifest)
    assert builds(manifest) == [str(tree)], "VCS data and build outputs in the checkout are not its source"
    (tree / "src" / "lib.txt").write_text("port v2\n")
    ensure_built(manifest)
    assert builds(manifest) == [str(tree), str(tree)]
    (tree / "src" / "new.txt").write_text("a new file\n")
    ensure_built(manifest)
    assert len(builds(manifest)) == 3
    assert not (manifest.folder / ".build-stamp").exists(), "the build writes nothing into the peer's folder"


def test_registry_and_checkout_builds_have_different_keys(tmp_path: Path, cache: Path) -> None:
    served = fake_peer(tmp_path, served=True)
    from_tree = dataclasses.replace(served, source=checkout(tmp_path))
    assert cache_key(served) != cache_key(from_tree)
    ensure_built(served)
    ensure_built(from_tree)
    ensure_built(served)
    assert builds(served) == ["-", str(from_tree.source), "-"]


def test_provenance_of_a_registry_release_and_of_a_plain_tree(tmp_path: Path) -> None:
    manifest = fake_peer(tmp_path)
    assert sources.provenance(manifest) == {
        "package": "fake-port",
        "release": "1.2.3",
        "registry": "a registry",
        "from": "registry",
    }
    assert sources.describe(sources.provenance(manifest)) == "fake-port 1.2.3 from a registry"
    tree = checkout(tmp_path)
    info = sources.provenance(dataclasses.replace(manifest, source=tree))
    assert info is not None
    assert info["from"] == "checkout" and info["path"] == str(tree) and info["git_commit"] is None
    assert info["tree_sha256"] == sources.tree_digest(tree)
    assert f"checkout {tree} (not a git repository; tree sha256 {info['tree_sha256'][:12]})" in sources.describe(info)
    assert sources.provenance(dataclasses.replace(manifest, upstream=None)) is None


def test_provenance_names_the_git_commit_and_a_modified_tree(tmp_path: Path) -> None:
    tree = checkout(tmp_path)
    git = ["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "port"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    manifest = dataclasses.replace(fake_peer(tmp_path), source=tree)
    info = sources.provenance(manifest)
    assert info is not None and info["git_commit"] == head and info["git_dirty"] is False
    (tree / "src" / "lib.txt").write_text("edited\n")
    info = sources.provenance(manifest)
    assert info is not None and info["git_dirty"] is True
    assert sources.describe(info).endswith(f"at git {head[:12]} (modified)")


def test_reports_name_what_each_peer_was_built_from(tmp_path: Path) -> None:
    manifest = fake_peer(tmp_path)
    built_from = {"fake-port": sources.provenance(manifest)}
    paths = report.write_reports(
        tmp_path / "r",
        [],
        manifests=[manifest],
        unavailable={},
        started=0.0,
        known_files={},
        peer_info={"fake-port": {"version": "1.2.3"}},
        built_from=built_from,
    )
    data = json.loads(paths["json"].read_text())
    assert data["peers"][0]["built_from"] == built_from["fake-port"]
    assert "fake-port 1.2.3 from a registry" in paths["html"].read_text()
    lines = report.peer_lines([manifest], {"fake-port": {"version": "1.2.3"}}, built_from)
    assert lines == ["peers:", "  fake-port (python) 1.2.3: fake-port 1.2.3 from a registry"]


def test_a_release_variant_is_its_own_peer() -> None:
    known = registry()
    variant = lookup("vgi-rpc-python@0.40.0", known)
    base = known["vgi-rpc-python"]
    assert (variant.name, variant.version, variant.folder) == ("vgi-rpc-python@0.40.0", "0.40.0", base.folder)
    assert variant.build_dir != base.build_dir
    assert variant.build_env()["VGIS_PEER_VERSION"] == "0.40.0" and "VGIS_PEER_VERSION" not in base.build_env()
    assert variant.release_known_failures == base.folder / "known-failures@0.40.0.txt"
    assert base.release_known_failures is None
    info = sources.provenance(variant)
    assert info is not None and (info["release"], info["from"]) == ("0.40.0", "registry")
    assert cache_key(variant) != cache_key(base)


def test_only_a_port_takes_a_release() -> None:
    with pytest.raises(ValueError, match="takes @VERSION"):
        lookup("rust@1.0.0", registry())
    with pytest.raises(KeyError):
        lookup("nope@1.0.0", registry())


def test_a_release_overlay_adds_and_drops_known_failures(tmp_path: Path) -> None:
    base = tmp_path / "known-failures.txt"
    base.write_text("header/a  fails in every release\nheader/b  fails too\n")
    overlay = tmp_path / "known-failures@0.1.txt"
    overlay.write_text("# 0.1 differs\n-header/a  0.1 checks it\nheader/c  only 0.1 fails\n")
    merged = read_known_failures(base, overlay)
    assert {case: line.text for case, line in merged.items()} == {"header/b": "fails too", "header/c": "only 0.1 fails"}
    assert read_known_failures(base, tmp_path / "absent.txt") == read_known_failures(base)


def test_an_unavailable_peer_is_announced_once_not_per_case() -> None:
    why = "peer vgi-rpc-go: not served here; build it from a checkout: --peer-source vgi-rpc-go=PATH"
    results = [CaseResult(f"header/case-{i}", ["vgi-rpc-go"], UNAVAILABLE, message=why) for i in range(3)]
    results += [
        CaseResult("cross/x", ["rust", "vgi-rpc-go"], UNAVAILABLE, message=why),
        CaseResult("header/y", ["rust"], FAILED, message="HDR-1: bad magic"),
    ]
    lines = report.summary_lines(results, {"vgi-rpc-go": why})
    assert lines.count(f"!!! PEER UNAVAILABLE: vgi-rpc-go: {why}") == 1
    assert "  vgi-rpc-go: 4 cases" in lines
    assert not any("[UNAVAIL]" in line for line in lines)
    assert any(line.startswith("  [FAIL") and "header/y" in line for line in lines)


def test_cache_list_shows_builds_and_clean_removes_them(
    tmp_path: Path, cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    manifest = fake_peer(tmp_path, served=True)
    ensure_built(manifest)
    assert cli.main(["cache", "list"]) == 0
    listing = capfd.readouterr().out
    assert f"cache: {cache}" in listing
    assert "fake-port" in listing and "built, key " + cache_key(manifest)[:12] in listing
    assert cli.main(["cache", "clean"]) == 0
    assert not cache.exists()
    assert "1 peer builds" in capfd.readouterr().out
