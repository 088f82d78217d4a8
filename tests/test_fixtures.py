"""The golden fixtures: reproducible, consistent with the reference, citing real clauses."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from vgis.decoding import Validation, decode_region
from vgis.framing import framing_of, walk
from vgis.header import decode, meaningful_length
from vgis.pointer import LENGTH_KEY, OFFSET_KEY, is_pointer
from vgis.segment import Segment
from vgis_conformance import fixtures
from vgis_conformance.fixtures import (
    FIXTURES_DIR,
    Difference,
    HeaderCase,
    IpcCase,
    PointerCase,
    apply_op,
    check,
    describe_drift,
    header_cases,
    ipc_cases,
    leftover_segments,
    main,
    pointer_cases,
    recorded_pyarrow,
    split_drift,
)
from vgis_conformance.fixtures.framework import kind_of

GOLDEN = (
    "5647495301000000004000000000000002000000000000000000010000000000640000000000000000010100000000003200000000000000"
)
KIT = Path(__file__).resolve().parents[1]
SPEC = KIT / "docs" / "SPEC.md"
REQUIRED_HEADER_CASES = {
    "empty",
    "golden-two-entry",
    "gap-reuse-after-frees",
    "full-table",
    "no-gap",
    "after-shrink",
    "reset-then-allocate",
    "free-then-coalesced-gap",
    "first-fit-prefers-earliest-gap",
}

HEADERS = header_cases()
IPCS = ipc_cases()
POINTERS = pointer_cases()


pytestmark = pytest.mark.usefixtures("header_recipes_replayed_once")


@pytest.fixture(autouse=True, scope="module")
def _no_leftover_segments() -> Iterator[None]:
    mine = os.getpid()
    before = set(leftover_segments(mine))
    yield
    assert set(leftover_segments(mine)) - before == set(), "a fixture segment was left in /dev/shm"


def _ids(cases: list[HeaderCase] | list[IpcCase] | list[PointerCase]) -> list[str]:
    return [c.name for c in cases]


# --- reproducibility -------------------------------------------------------------


def test_regenerating_reproduces_every_file() -> None:
    """Under the pinned pyarrow every file is reproduced; under another, changed Arrow bytes are a finding."""
    failures, drift = split_drift(check())
    assert failures == []
    if drift:
        pytest.xfail(describe_drift(drift))


def test_regenerate_removes_stale_files_and_keeps_readme(tmp_path: Path) -> None:
    (tmp_path / "header").mkdir()
    (tmp_path / "header" / "stale.hex").write_text("00\n")
    (tmp_path / "README.md").write_text("kept\n")
    assert main(["regenerate", "--root", str(tmp_path)]) == 0
    assert not (tmp_path / "header" / "stale.hex").exists()
    assert (tmp_path / "README.md").read_text() == "kept\n"
    assert fixtures.owned_files(tmp_path) == fixtures.owned_files(FIXTURES_DIR)
    assert check(tmp_path) == [], "a tree regenerated from nothing (adversarial included) does not check clean"


def test_main_needs_a_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["regenerate", "check"]) == 2
    assert main(["--regenerate"]) == 2, "the old flags are gone: the actions are subcommands"
    capsys.readouterr()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the checked-in fixtures to break."""
    shutil.copytree(FIXTURES_DIR, tmp_path / "fixtures")
    return tmp_path / "fixtures"


def test_check_fails_on_a_stale_missing_or_changed_file(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "header" / "stale.hex").write_text("00\n")
    (tree / "adversarial" / "names" / "stale.json").write_text("{}\n")
    (tree / "pointer" / "plain.json").unlink()
    (tree / "adversarial" / "headers" / "padding-ff.json").unlink()
    region = tree / "ipc" / "signed-ints.region"
    data = region.read_bytes()
    region.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    problems = {d.path: d.problem.split()[0] for d in check(tree)}
    assert problems == {
        "header/stale.hex": "stale",
        "adversarial/names/stale.json": "stale",
        "pointer/plain.json": "missing",
        "adversarial/headers/padding-ff.json": "missing",
        "ipc/signed-ints.region": "differs",
    }, "pointer and adversarial fixtures are built from the fresh ipc bytes, not from the changed file"
    assert main(["check", "--root", str(tree)]) == 1
    assert "5 fixture file(s) differ" in capsys.readouterr().err


def test_check_passes_with_an_adopted_fixture(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tree.parent / "machine-a-to-b.json"
    ops = [["allocate", 100], ["allocate", 200], ["free", 65_536], ["allocate", 50]]
    recipe.write_text(
        json.dumps({"name": "machine-a-to-b", "segment_size": 65_536 + 4_096, "ops": ops, "clauses": ["ALLOC-1"]})
    )
    assert main(["adopt", str(recipe), "--root", str(tree), "--name", "adopted-gap"]) == 0
    assert (tree / "adopted" / "adopted-gap.json").is_file()
    (case,) = [c for c in header_cases(tree) if c.name == "adopted-gap"]
    assert case.results == [65_536, 65_636, None, 65_536] and "ALLOC-1" in case.clauses
    assert check(tree) == []
    assert main(["check", "--root", str(tree)]) == 0
    assert "fixtures are up to date" in capsys.readouterr().err
    (tree / "header" / "adopted-gap.hex").unlink()
    assert [str(d) for d in check(tree)] == ["header/adopted-gap.hex: missing (the generator writes it)"]
    (tree / "adopted" / "adopted-gap.json").unlink()
    assert {str(d).split(" (")[0] for d in check(tree)} == {"header/adopted-gap.json: stale", "manifest.json: differs"}


def test_manifest_records_the_pinned_pyarrow() -> None:
    pins = re.findall(r"^pyarrow==(\S+)$", (KIT / "constraints.txt").read_text(), re.MULTILINE)
    assert pins == [recorded_pyarrow()], "constraints.txt pins another pyarrow than the one that made fixtures/"


def test_another_pyarrow_turns_changed_arrow_bytes_into_drift() -> None:
    recorded = recorded_pyarrow()
    assert recorded is not None
    changed = [
        Difference("ipc/strings.region", "differs (...)", arrow_made=True),
        Difference("adversarial/regions/stream-zeros.json", "differs (...)", arrow_made=True),
        Difference("header/empty.hex", "differs (...)", arrow_made=False),
        Difference("ipc/new.json", "missing (the generator writes it)", arrow_made=True),
    ]
    assert split_drift(changed, running=recorded) == (changed, [])
    failures, drift = split_drift(changed, running="99.0.0")
    assert [d.path for d in drift] == ["ipc/strings.region", "adversarial/regions/stream-zeros.json"]
    assert [d.path for d in failures] == ["header/empty.hex", "ipc/new.json"]
    message = describe_drift(drift, running="99.0.0")
    assert f"pyarrow {recorded}" in message and "pyarrow 99.0.0" in message and "ipc/strings.region" in message
    assert fixtures.arrow_drift(running="99.0.0") is not None and fixtures.arrow_drift(running=recorded) is None


def test_fixtures_folder_stays_small() -> None:
    total = sum(p.stat().st_size for p in FIXTURES_DIR.rglob("*") if p.is_file())
    assert total < 15 * 1024 * 1024


# --- manifest and clauses --------------------------------------------------------


def _manifest() -> dict[str, object]:
    doc = json.loads((FIXTURES_DIR / "manifest.json").read_text())
    assert isinstance(doc, dict)
    return doc


def test_manifest_lists_every_file_with_its_hash() -> None:
    entries = _manifest()["files"]
    assert isinstance(entries, list)
    paths = [e["path"] for e in entries]
    assert paths == sorted(paths)
    listed = {p for p in fixtures.owned_files(FIXTURES_DIR) if (kind := kind_of(p)) is not None and kind.in_manifest}
    assert set(paths) == listed and {p.split("/")[0] for p in listed} == {"header", "ipc", "pointer"}
    for entry in entries:
        data = (FIXTURES_DIR / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert len(data) == entry["bytes"], entry["path"]
        assert entry["clauses"], entry["path"]


def _spec_clauses() -> set[str]:
    pattern = re.compile(r"^#### ([A-Z]+-\d+) — ", re.MULTILINE)
    return set(pattern.findall(SPEC.read_text(encoding="utf-8")))


def test_every_cited_clause_exists_in_the_spec() -> None:
    known = _spec_clauses()
    assert known, "no clause parsed from docs/SPEC.md"
    cited: set[str] = set()
    for entry in _manifest()["files"]:  # type: ignore[attr-defined]
        cited.update(entry["clauses"])
    for path in FIXTURES_DIR.rglob("*.json"):
        doc = json.loads(path.read_text())
        cited.update(doc.get("clauses", []))
    assert cited - known == set()


# --- header fixtures -----------------------------------------------------------------


def test_required_header_cases_exist() -> None:
    assert {c.name for c in HEADERS} >= REQUIRED_HEADER_CASES


def test_golden_two_entry_hex() -> None:
    (case,) = [c for c in HEADERS if c.name == "golden-two-entry"]
    assert case.expected_hex == GOLDEN == fixtures.GOLDEN_TWO_ENTRY_HEX
    assert (FIXTURES_DIR / "header" / "golden-two-entry.hex").read_text() == GOLDEN + "\n"


@pytest.mark.parametrize("case", HEADERS, ids=_ids(HEADERS))
def test_header_hex_matches_decoded_header(case: HeaderCase) -> None:
    raw = bytes.fromhex(case.expected_hex)
    assert case.expected_hex == case.expected_hex.lower()
    assert len(raw) == meaningful_length(case.expected["num_allocs"])
    assert decode(raw).to_json() == case.expected
    assert case.expected["data_size"] == case.segment_size - 65_536
    assert len(case.results) == len(case.ops)


@pytest.mark.parametrize("case", HEADERS, ids=_ids(HEADERS))
def test_header_recipe_replays_on_the_reference(case: HeaderCase) -> None:
    name = fixtures.segment_name(f"test-{case.name}")
    with Segment.create(name, case.segment_size) as segment:
        results = [apply_op(segment.allocator, op) for op in case.ops]
        assert results == case.results
        assert segment.header_bytes().hex() == case.expected_hex
    assert name.lstrip("/") not in leftover_segments(os.getpid())


def test_full_table_ends_with_a_null_allocation() -> None:
    (case,) = [c for c in HEADERS if c.name == "full-table"]
    assert case.expected["num_allocs"] == 4_094
    assert case.results[-1] is None
    assert all(r is not None for r in case.results[:-1])


def test_apply_op_rejects_malformed_ops() -> None:
    class Dummy:
        def allocate(self, size: int) -> int | None:
            return size

        def free(self, offset: int) -> None: ...

        def shrink(self, offset: int, length: int) -> None: ...

        def reset(self) -> None: ...

    dummy = Dummy()
    assert apply_op(dummy, ["allocate", 7]) == 7
    assert apply_op(dummy, ["reset"]) is None
    bad_ops: list[Any] = [[], ["grow", 1], ["allocate"], ["free", "x"], ["shrink", 1], ["allocate", True]]
    for bad in bad_ops:
        with pytest.raises(ValueError):
            apply_op(dummy, bad)


# --- IPC fixtures -----------------------------------------------------------------------


def test_ipc_catalogue_covers_both_framings() -> None:
    framings = {c.framing for c in IPCS}
    assert framings == {"stream", "messages"}
    assert len(IPCS) >= 30


@pytest.mark.parametrize("case", IPCS, ids=_ids(IPCS))
def test_region_decodes_to_the_arrows_batch(case: IpcCase) -> None:
    decoded = decode_region(pa.py_buffer(case.region), case.batch.schema, Validation.FULL)
    assert decoded.equals(case.batch)
    assert decoded.schema.equals(case.batch.schema, check_metadata=True)
    assert framing_of(case.batch.schema).value == case.framing


@pytest.mark.parametrize("case", IPCS, ids=_ids(IPCS))
def test_ipc_json_describes_its_files(case: IpcCase) -> None:
    doc = json.loads(case.region_path.with_suffix(".json").read_text())
    arrows = case.arrows_path.read_bytes()
    assert doc["region_length"] == len(case.region)
    assert doc["region_sha256"] == hashlib.sha256(case.region).hexdigest()
    assert doc["arrows_sha256"] == hashlib.sha256(arrows).hexdigest()
    assert doc["rows"] == case.batch.num_rows > 0
    assert doc["schema"] == str(case.batch.schema)
    if case.framing == "stream":
        assert case.region == arrows
        assert "FRAME-1" in case.clauses
    else:
        assert "FRAME-3" in case.clauses
        assert arrows.endswith(case.region + b"\xff\xff\xff\xff\x00\x00\x00\x00")


@pytest.mark.parametrize("case", IPCS, ids=_ids(IPCS))
def test_region_messages_are_aligned(case: IpcCase) -> None:
    messages, end = walk(case.region)
    kinds = [m.kind for m in messages]
    assert all(m.offset % 8 == 0 and m.body_length % 8 == 0 for m in messages)
    assert kinds.count("record batch") == 1
    if case.framing == "stream":
        assert kinds[0] == "schema" and kinds[-1] == "eos" and end == len(case.region)
    else:
        assert "schema" not in kinds and "eos" not in kinds and kinds[-1] == "record batch"
        assert end == len(case.region)


# --- pointer fixtures -------------------------------------------------------------------


def test_pointer_cases_cover_the_brief() -> None:
    names = {c.name for c in POINTERS}
    assert {"plain", "dictionary", "extra-metadata"} <= names


@pytest.mark.parametrize("case", POINTERS, ids=_ids(POINTERS))
def test_pointer_points_at_its_data_case(case: PointerCase) -> None:
    doc = json.loads(case.path.with_suffix(".json").read_text())
    assert doc["metadata"] == {k.decode(): v.decode() for k, v in case.metadata.items()}
    assert case.batch.num_rows == 0
    assert is_pointer(case.batch, case.metadata) == (case.data_case is not None)
    if case.data_case is None:
        return
    (data,) = [c for c in IPCS if c.name == case.data_case]
    assert case.batch.schema.equals(data.batch.schema, check_metadata=True)
    assert int(case.metadata[LENGTH_KEY]) == len(data.region)
    assert int(case.metadata[OFFSET_KEY]) >= 65_536


def test_a_golden_byte_comparison_names_both_arrows_when_they_differ() -> None:
    recorded = recorded_pyarrow()
    assert fixtures.byte_drift_note("ipc/strings.region", "pyarrow", recorded) == ""
    assert fixtures.byte_drift_note("ipc/strings.region", "arrow-rs", None) == ""
    note = fixtures.byte_drift_note("ipc/strings.region", "arrow-cpp", "99.0.0")
    assert "ipc/strings.region" in note and f"pyarrow {recorded}" in note and "arrow-cpp 99.0.0" in note
