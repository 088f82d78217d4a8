"""The stateful machine turns a failing example into a replayable recipe, and a recipe into a fixture.

The machine runs, in a subprocess, against tests/broken_peers/peer.py --defect last-fit (placement at the
end of the last gap that fits, ALLOC-1) with a small budget; the run must fail, write the shrunk recipe,
and that recipe must replay on the reference to the header the spec asks for, not the peer's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vgis.header import HEADER_SIZE
from vgis_conformance.fixtures import check, header_cases, main
from vgis_conformance.fixtures.framework import adopt
from vgis_conformance.stateful import placement_problem, replay

KIT = Path(__file__).resolve().parents[1]
PEER = KIT / "tests" / "broken_peers" / "peer.py"
CASE = "machine-broken-last-fit-to-broken-last-fit"

pytestmark = pytest.mark.usefixtures("header_recipes_replayed_once")  # adopt and check each generate the tree


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    report = tmp_path_factory.mktemp("stateful-report")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        str(KIT / "conformance" / "cases" / "test_stateful.py"),
        "-k",
        "test_machine",
        "-q",
        "-p",
        "no:cacheprovider",
        "--stateful-examples",
        "10",
        "--peer-cmd",
        f"broken-last-fit={sys.executable} {PEER} --defect last-fit",
        "--report-dir",
        str(report),
    ]
    run = subprocess.run(argv, cwd=KIT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, f"the machine did not fail on last-fit:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    assert "replay recipe (shrunk)" in run.stdout, run.stdout[-3000:]
    found = sorted((report / "stateful").glob(f"{CASE}*.json"))
    assert found, f"no recipe in {report / 'stateful'}:\n{run.stdout[-3000:]}"
    return found


def test_failing_example_writes_a_replayable_recipe(recipes: list[Path]) -> None:
    for path in recipes:
        doc = json.loads(path.read_text())
        assert doc["peers"] == {"producer": "broken-last-fit", "consumer": "broken-last-fit"}
        assert len(doc["ops"]) == len(doc["results"]) == len(doc["actors"]) == len(doc["observed"]["results"])
        for op in doc["ops"]:
            if op[0] == "write":
                assert (path.parent / op[1]).is_file(), f"{path.name}: batch file {op[1]} missing"
        results, header = replay(doc)
        assert results == doc["results"], "the reference replays to other results than the recipe records"
        assert header.hex() == doc["expected_hex"]
        assert header.hex() != doc["observed"]["header_hex"], "the peer's header equals the reference's"
    shortest = min((json.loads(p.read_text()) for p in recipes), key=lambda d: len(d["ops"]))
    assert len(shortest["ops"]) <= 3, f"not shrunk: {shortest['ops']}"


def test_recipe_adopts_as_header_fixture(recipes: list[Path], tmp_path: Path) -> None:
    docs = {p: json.loads(p.read_text()) for p in recipes}
    table_only = [p for p, d in docs.items() if all(op[0] not in ("write", "resolve") for op in d["ops"])]
    assert table_only, "last-fit shows on allocate alone; expected a recipe without writes"
    doc = json.loads(table_only[0].read_text())
    assert main(["adopt", str(table_only[0]), "--root", str(tmp_path), "--name", "adopted-last-fit"]) == 0
    cases = {c.name: c for c in header_cases(tmp_path)}
    case = cases["adopted-last-fit"]
    assert case.ops == doc["ops"] and case.results == doc["results"] and case.expected_hex == doc["expected_hex"]
    assert case.segment_size == doc["segment_size"] and "ALLOC-1" in case.clauses
    assert check(tmp_path) == [], "fixtures check calls an adopted fixture stale"


def test_adopt_refuses_writes_and_rejections(tmp_path: Path) -> None:
    base = {"name": "x", "description": "d", "segment_size": HEADER_SIZE + 4096, "clauses": ["ALLOC-1"]}
    with_write = tmp_path / "w.json"
    with_write.write_text(json.dumps({**base, "ops": [["write", "b.arrows"]], "results": [None]}))
    with pytest.raises(ValueError, match="write"):
        adopt(with_write, tmp_path / "fx")
    rejected = tmp_path / "r.json"
    rejected.write_text(json.dumps({**base, "ops": [["free", 1]], "results": [{"error": "no_allocation"}]}))
    with pytest.raises(ValueError, match="rejects"):
        adopt(rejected, tmp_path / "fx")
    assert not (tmp_path / "fx" / "header").exists() and not (tmp_path / "fx" / "adopted").exists()


def test_write_placement_is_first_fit_for_some_reservation() -> None:
    d, size = HEADER_SIZE, HEADER_SIZE + 1000
    table = [(d + 100, 10), (d + 300, 10)]  # gaps: 100 at d, 190 at d+110, 690 at d+310
    assert placement_problem(table, d, 50, size) == ""
    assert placement_problem(table, d + 110, 50, size) == ""  # reserved 101..190, shrunk to 50
    assert "earlier gap" in placement_problem([(d + 100, 10), (d + 200, 10)], d + 110, 50, size)
    assert "overruns" in placement_problem(table, d, 101, size)
    assert "does not start" in placement_problem(table, d + 1, 10, size)
