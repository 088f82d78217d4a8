"""Known-failures lines carry a category, and every bug line a witness that ``--verify`` can see fail."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from vgis_conformance.manifest import Manifest, registry
from vgis_conformance.outcomes import EXPECTED_FAILURE, PASSED, KnownFailure, read_known_failures
from vgis_conformance.witnesses import Witness, check, lint, lint_overlays, verify

REGISTERED = sorted(registry())


@pytest.mark.parametrize("name", REGISTERED)
def test_every_line_of_a_registered_peer_has_a_category_and_bug_lines_a_witness(name: str) -> None:
    manifest = registry()[name]
    assert lint(manifest, require_categories=True) == []
    assert lint_overlays(manifest) == []


def test_a_line_splits_into_category_witness_and_reason() -> None:
    line = KnownFailure.parse("bug(num-allocs) LIFE-7: attach never checks num_allocs")
    assert (line.category, line.witness, line.reason) == ("bug", "num-allocs", "LIFE-7: attach never checks num_allocs")
    assert KnownFailure.parse("policy LIFE-8: rejects a smaller advertisement").category == "policy"
    bare = KnownFailure.parse("LIFE-7: no category")
    assert (bare.category, bare.reason) == (None, "LIFE-7: no category")
    assert KnownFailure.parse("bugfix LIFE-7: x").category is None


def _peer(tmp_path: Path, lines: str, witnesses: str) -> Manifest:
    (tmp_path / "known-failures.txt").write_text(lines)
    (tmp_path / "witnesses.toml").write_text(witnesses)
    return dataclasses.replace(
        registry()["python-reference"], folder=tmp_path, known_failures=tmp_path / "known-failures.txt"
    )


def test_lint_names_every_kind_of_problem(tmp_path: Path) -> None:
    peer = _peer(
        tmp_path,
        "\n".join(
            [
                "a/1  bug LIFE-7: no witness named",
                "a/2  bug(missing) LIFE-7: witness not defined",
                "a/3  LIFE-7: no category",
                "a/4  policy(w) LIFE-8: a witness on a policy line",
                "a/5  adapter PTR-6: fine",
            ]
        )
        + "\n",
        '[unused]\ncase = "a/9"\nshows = "("\nabout = "f"\n',
    )
    problems = "\n".join(lint(peer, require_categories=True))
    for expected in (
        "a/1: a bug line names its witness",
        "a/2: witness 'missing' is not in",
        "a/3: no category",
        "a/4: only a bug line names a witness",
        "witness 'unused' is named by no bug line",
        "its case a/9 is not a bug line",
        "shows is not a regular expression",
    ):
        assert expected in problems
    assert "a/5" not in problems
    assert "a/3" not in "\n".join(lint(peer, require_categories=False))


def test_check_wants_an_expected_failure_whose_message_matches() -> None:
    witness = Witness("w", "a/1", r"answered ok", "attach")
    failing: dict[str, object] = {
        "case_id": "a/1",
        "peers": ["p"],
        "outcome": EXPECTED_FAILURE,
        "message": "step 0 (attach, answered ok)",
    }
    assert check(witness, "p", [failing]) == ""
    assert "not an expected failure" in check(witness, "p", [{**failing, "outcome": PASSED}])
    assert "does not match" in check(witness, "p", [{**failing, "message": "answered bad_header"}])
    assert "has no case" in check(witness, "q", [failing])
    cross = Witness("c", "cross/x@consumer", "x", "read")
    pair: dict[str, object] = {"case_id": "cross/x", "peers": ["a", "p"], "outcome": EXPECTED_FAILURE, "message": "x"}
    assert check(cross, "p", [pair]) == ""
    assert "has no case" in check(cross, "p", [{**pair, "peers": ["p", "a"]}])


def test_verify_fails_when_a_witness_case_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The registered python-reference peer passes this case: the claimed bug is gone, so verify must fail."""
    (tmp_path / "peer").mkdir()
    peer = _peer(
        tmp_path / "peer",
        "header/create-initializes/65537  bug(w) HDR-1: planted claim\n",
        '[w]\ncase = "header/create-initializes/65537"\nshows = "."\nabout = "Segment.create"\n',
    )
    assert read_known_failures(peer.known_failures)["header/create-initializes/65537"].witness == "w"
    assert verify([peer], jobs="0", report_dir=tmp_path / "reports") == 1
    out = capsys.readouterr().out
    assert "FAIL python-reference w (Segment.create): header/create-initializes/65537 was passed" in out
    cases = json.loads((tmp_path / "reports" / "report.json").read_text())["cases"]
    assert {c["case_id"] for c in cases} == {"header/create-initializes/65537"}
