"""The adversarial corpus (fixtures/adversarial): regenerable, well-formed, and covering what issue 6 lists."""

from __future__ import annotations

import collections
import functools
import importlib.util
import json
import re
import struct
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from vgis.encoding import region_size
from vgis.framing import walk
from vgis.header import HEADER_SIZE
from vgis_conformance import fixtures
from vgis_conformance.adversarial import (
    CORPUS_DIR,
    GRID_OBJECTS,
    GROUPS,
    HOSTILE_TABLES,
    OUTCOMES,
    WIDE_BATCHES,
    advertisements,
    data_sizes,
    free_runs,
    load_cases,
    record_batch_field,
    validate_recipe,
)
from vgis_conformance.fixtures import read_stream

SPEC = Path(__file__).resolve().parents[1] / "docs" / "SPEC.md"
CASES = load_cases()

pytestmark = pytest.mark.usefixtures("header_recipes_replayed_once")  # check and regenerate generate the tree


def test_regeneration_changes_nothing() -> None:
    failures, drift = fixtures.split_drift([d for d in fixtures.check() if d.path.startswith("adversarial/")])
    assert not failures, (
        "fixtures/adversarial is out of date; run `vgis-conformance fixtures regenerate`:\n"
        + "\n".join(map(str, failures[:20]))
    )
    if drift:
        pytest.xfail(fixtures.describe_drift(drift))


def test_regenerate_removes_stale_files_and_keeps_the_readme(tmp_path: Path) -> None:
    (tmp_path / "adversarial" / "headers").mkdir(parents=True)
    (tmp_path / "adversarial" / "README.md").write_text("kept\n")
    (tmp_path / "adversarial" / "headers" / "stale.json").write_text("{}")
    fixtures.regenerate(tmp_path)
    assert not (tmp_path / "adversarial" / "headers" / "stale.json").exists()
    assert (tmp_path / "adversarial" / "README.md").read_text() == "kept\n"
    assert load_cases(tmp_path / "adversarial") == CASES
    assert fixtures.owned_files(tmp_path) == fixtures.owned_files(CORPUS_DIR.parent)


def test_at_least_100_cases_in_every_group() -> None:
    by_group = collections.Counter(c.group for c in CASES)
    assert len(CASES) >= 100
    assert set(by_group) == set(GROUPS), by_group


def test_every_cited_clause_exists_in_the_spec() -> None:
    known = set(re.findall(r"^#### ([A-Z]+-\d+) — ", SPEC.read_text(encoding="utf-8"), re.MULTILINE))
    cited = {clause for case in CASES for clause in case.clauses}
    assert cited and cited <= known, cited - known


def test_every_case_is_documented_and_loadable() -> None:
    for case in CASES:
        assert case.description and case.steps, case.case_id
        for step in case.steps:
            assert set(step["expect"]) <= OUTCOMES
        for name, data in case.bins.items():
            assert data or name.endswith(".bin"), (case.case_id, name)


def test_readme_documents_every_group_and_outcome() -> None:
    text = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    for group in GROUPS:
        assert f"`{group}`" in text, group
    for outcome in OUTCOMES:
        assert f"`{outcome}`" in text, outcome


@pytest.mark.parametrize(
    "name",
    [
        "headers/attach-bad-magic-one-byte",
        "headers/attach-version-0",
        "headers/attach-version-2",
        "headers/attach-version-max",
        "headers/attach-data-size-plus-one",
        "headers/attach-data-size-plus-page",
        "headers/attach-obj-131072-ad-obj-plus-1-ds-obj",
        "headers/attach-obj-131072-ad-obj-less-1-ds-obj",
        "headers/attach-obj-131072-ad-obj-plus-1-ds-obj-refused",
        "headers/attach-obj-0-ad-none",
        "headers/attach-num-allocs-4095",
        "headers/attach-num-allocs-4096",
        "headers/attach-num-allocs-max",
        "tables/unsorted-allocate-8",
        "tables/overlapping-free",
        "tables/entry-past-end-write",
        "tables/entry-inside-header-shrink",
        "tables/zero-length-allocate-8",
        "tables/duplicate-offsets-free",
        "tables/num-allocs-max-free",
        "tables/unsorted-resolve",
        "pointers/out-of-bounds-offset-24",
        "pointers/out-of-bounds-end-past-segment-by-one",
        "pointers/out-of-bounds-length-u64-max",
        "pointers/offset-negative",
        "pointers/offset-non-numeric",
        "pointers/offset-empty",
        "pointers/offset-leading-space",
        "pointers/offset-plus",
        "pointers/offset-leading-zero",
        "pointers/offset-hex",
        "pointers/missing-length",
        "pointers/log-level-and-offset",
        "pointers/rows-with-offset",
        "pointers/schema-other-types",
        "regions/stream-truncated-in-body-of-message-1",
        "regions/dict-truncated-at-message-1-record-batch",
        "regions/stream-random-1024",
        "regions/dict-without-dictionary",
        "regions/stream-without-eos",
        "regions/stream-two-record-batches",
        "regions/dict-trailing-zeros",
        "regions/stream-compressed-lz4",
        "regions/dict-compressed-zstd",
        "regions/stream-body-length-past-end",
        "regions/stream-metadata-length-past-end",
        "names/attach-extra-leading-slash",
        "names/attach-embedded-nul",
        "names/attach-overlong-300",
        "names/attach-missing",
        "names/attach-mode-0000",
    ],
)
def test_required_case_exists(name: str) -> None:
    assert name in {c.case_id for c in CASES}


def test_truncations_cover_every_message_boundary() -> None:
    names = {c.name for c in CASES if c.group == "regions"}
    for tag, messages in (("stream", 3), ("dict", 2)):
        for i in range(1, messages):
            assert any(n.startswith(f"{tag}-truncated-at-message-{i}-") for n in names), (tag, i)
        for i in range(messages - (1 if tag == "stream" else 0)):
            assert f"{tag}-truncated-in-metadata-of-message-{i}" in names


def _messages(case_id: str) -> tuple[bytes, list[str]]:
    case = next(c for c in CASES if c.case_id == case_id)
    data = case.bins[f"{case.name}.bin"]
    return data, [m.kind for m in walk(data)[0]]


@pytest.mark.parametrize("tag", ["stream", "dict"])
@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_compressed_regions_really_are_compressed(tag: str, codec: str) -> None:
    data, kinds = _messages(f"regions/{tag}-compressed-{codec}")
    index = kinds.index("record batch")
    assert record_batch_field(data, index, 3) is not None, "the record batch has no compression field"
    assert record_batch_field(_messages(f"regions/{tag}-trailing-zeros")[0], index, 3) is None


def test_two_record_batches_share_one_dictionary() -> None:
    assert _messages("regions/stream-two-record-batches")[1] == ["schema", "record batch", "record batch", "eos"]
    assert _messages("regions/dict-two-record-batches")[1] == ["dictionary", "record batch", "record batch"]


def test_validate_recipe_rejects_malformed() -> None:
    good = json.loads((CORPUS_DIR / "pointers" / "offset-plus.json").read_text())
    validate_recipe(good, "ok")
    for broken in (
        {**good, "group": "nope"},
        {**good, "steps": []},
        {**good, "steps": [{**good["steps"][0], "op": "explode"}]},
        {**good, "steps": [{**good["steps"][0], "expect": ["maybe"]}]},
    ):
        with pytest.raises(ValueError):
            validate_recipe(broken, "broken")


def test_validate_recipe_rejects_bad_tiers_probes_and_writes() -> None:
    good = json.loads((CORPUS_DIR / "headers" / "attach-obj-131072-ad-obj-ds-obj.json").read_text())
    validate_recipe(good, "ok")
    write = {"op": "write", "batch": "signed-ints", "expect": ["written"]}
    for broken in (
        {**good, "tier": "optional"},
        {**good, "steps": [{**good["steps"][0], "probe": True}]},
        {**good, "steps": [good["steps"][0], {**good["steps"][1], "probe": "yes"}]},
        {**good, "steps": [{**write, "batch_bin": "x.bin"}]},
        {**good, "steps": [{"op": "write", "expect": ["written"]}]},
    ):
        with pytest.raises(ValueError):
            validate_recipe(broken, "broken")


BY_ID = {c.case_id: c for c in CASES}


def _grid_cells() -> list[tuple[str, int, int | None, int | None]]:
    cells: list[tuple[str, int, int | None, int | None]] = []
    for size in GRID_OBJECTS:
        for label, advertised in advertisements(size):
            if size < 24:
                cells.append((f"headers/attach-obj-{size}-ad-{label}", size, advertised, None))
            for ds_label, data_size in data_sizes(size, advertised):
                cells.append((f"headers/attach-obj-{size}-ad-{label}-ds-{ds_label}", size, advertised, data_size))
    return cells


def test_advertised_grid_covers_every_cell_with_the_life8_answers() -> None:
    """Each cell exists, plants its data_size, advertises its A, and allows exactly what LIFE-8 and LIFE-6 allow."""
    cells = _grid_cells()
    assert 100 <= len(cells) <= 200, len(cells)
    for case_id, size, advertised, data_size in cells:
        case = BY_ID[case_id]
        attach = case.steps[0]
        assert attach["op"] == "attach" and attach["size"] == advertised, case_id
        valid = size > HEADER_SIZE and data_size == size - HEADER_SIZE
        want = ["bad_header"] if not valid else ["ok"] if advertised in (None, size) else ["ok", "bad_header"]
        assert attach["expect"] == want, case_id
        probes = case.steps[1:]
        assert all(step.get("probe") for step in probes), case_id
        past = [p for p in probes if p["expect"] == ["out_of_bounds"]]
        believed_past = advertised is not None and advertised > size
        assert len(past) == (1 if believed_past else 0), f"{case_id}: a past-object probe exactly where A > S_obj"
        assert len(probes) == (size > HEADER_SIZE) + believed_past, case_id
        if data_size is not None:
            planted = bytes.fromhex(case.plant[0]["hex"])
            at = case.plant[0]["at"]
            assert struct.unpack_from("<Q", planted, 8 - at)[0] == data_size, case_id
    sizes = {advertised for _, _, advertised, _ in cells}
    assert {None, 0, 1, 16, 23, 24, 4096, 65536, 1 << 63, (1 << 64) - 1} <= sizes


def test_grid_reveals_a_reader_that_trusts_the_advertisement() -> None:
    """A data_size matching A != S_obj is refused, and the probe then points past the object where A reaches."""
    case = BY_ID["headers/attach-obj-131072-ad-obj-times-2-ds-ad"]
    assert case.steps[0]["expect"] == ["bad_header"]
    past = case.steps[-1]
    assert past["expect"] == ["out_of_bounds"] and int(past["metadata"]["vgi_rpc.shm_offset"]) == 131072
    assert int(past["metadata"]["vgi_rpc.shm_length"]) == 4096


def test_only_larger_advertisements_of_valid_segments_have_a_recommended_twin() -> None:
    recommended = {c.case_id for c in CASES if c.tier == "recommended" and c.group == "headers"}
    want = {
        f"headers/attach-obj-{size}-ad-{label}-ds-obj-refused"
        for size in GRID_OBJECTS
        if size > HEADER_SIZE
        for label, advertised in advertisements(size)
        if advertised is not None and advertised > size
    }
    assert recommended == want and len(want) == 10
    for case_id in want:
        assert BY_ID[case_id].steps == [{**BY_ID[case_id[: -len("-refused")]].steps[0], "expect": ["bad_header"]}]


def test_shrunk_cases_are_recommended_and_truncate_between_attach_and_the_operation() -> None:
    """LIFE-14 is a SHOULD (a wrong answer warns) while a death still fails ERR-2; the truncate is the middle step."""
    shrunk = [c for c in CASES if c.group == "shrunk"]
    assert len(shrunk) == 6 and all(c.tier == "recommended" for c in shrunk)
    for case in shrunk:
        attach, truncate, touch = case.steps
        assert (attach["op"], attach["expect"], truncate["op"]) == ("attach", ["ok"], "truncate"), case.case_id
        assert truncate["size"] in (4096, 65536) and touch["op"] in ("resolve", "allocate", "free", "write")
        assert touch["expect"] == ["bad_header", "out_of_bounds", "ipc_error"], case.case_id


@pytest.mark.parametrize("shape", list(WIDE_BATCHES))
def test_wide_batches_outgrow_cheap_estimates_and_meet_a_gap_at_the_end(shape: str) -> None:
    """The region is bigger than buffers + 4,096 and than memory size + 4,096; the only free space is the end gap."""
    gaps = []
    for case in CASES:
        if case.name.startswith(f"wide-{shape}-end-gap-"):
            batch = read_stream(case.bins[case.steps[0]["batch_bin"]])[0]
            region = region_size(batch)
            assert region > batch.get_total_buffer_size() + 4096 and region > batch.nbytes + 4096, shape
            entries = [tuple(e) for e in case.table["entries"]]  # type: ignore[index]
            ((start, gap),) = free_runs(entries, case.segment["size"])
            assert start + gap == case.segment["size"] and case.steps[0]["expect"] == ["written", "null"]
            gaps.append(gap - region)
    assert sorted(gaps) == [-64, -1, 0, 1, 64, 4096], shape


@pytest.mark.parametrize("table", list(HOSTILE_TABLES))
def test_edge_requests_no_free_range_holds_must_not_fit(table: str) -> None:
    """Every hostile table is asked one byte more than its largest free range, and only null is allowed there."""
    runs = free_runs(HOSTILE_TABLES[table][1])
    largest = max(n for _, n in runs)
    case = BY_ID[f"tables/{table}-allocate-largest-gap-plus-1"]
    assert case.steps[0]["size"] == largest + 1 and case.steps[0]["expect"] == ["null"]
    for label in ("largest-gap", "tail", "sum-of-gaps"):
        other = BY_ID.get(f"tables/{table}-allocate-{label}")
        if other is not None:
            size = other.steps[0]["size"]
            assert other.steps[0]["expect"] == (["allocated", "null"] if size <= largest else ["null"])


def test_free_runs_count_entries_as_alloc8_does() -> None:
    d = HEADER_SIZE
    assert free_runs([(d + 8, (1 << 64) - 1)]) == [(d, 8)]
    assert free_runs([(d, 0), (d + 16, 8)]) == [(d, 16), (d + 24, 65_536 - 24)]
    assert free_runs([(100, d), (d + 200, 8)]) == [(d + 100, 100), (d + 208, 65_536 - 208)]
    assert free_runs([((1 << 64) - 16, 16)]) == [(d, 65_536)]


@functools.cache
def _runner_module() -> ModuleType:
    """conformance/cases/test_adversarial.py, loaded outside the suite (its markers are the plugin's)."""
    path = Path(__file__).resolve().parents[1] / "conformance" / "cases" / "test_adversarial.py"
    name = "adversarial_runner_under_test"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        spec.loader.exec_module(module)
    return module


def _header(entries: list[tuple[int, int]]) -> bytes:
    flat = [v for e in entries for v in e]
    head = struct.pack("<4sIQII", b"VGIS", 1, 65_536, len(entries), 0) + struct.pack(f"<{len(flat)}Q", *flat)
    return head.ljust(HEADER_SIZE, b"\0")


def test_a_null_write_may_only_have_changed_bytes_of_a_free_range() -> None:
    """WRITE-3/WRITE-6: the released reservation check accepts a change in a gap and catches one in an entry."""
    runner = _runner_module()
    header, before = _header([(HEADER_SIZE, 100)]), bytes([0xA5]) * 65_536
    in_gap = before[:200] + b"\x00" * 50 + before[250:]
    assert runner.released_reservation(header, before, in_gap, HEADER_SIZE + 65_536) == (
        HEADER_SIZE + 200,
        HEADER_SIZE + 250,
    )
    assert runner.released_reservation(header, before, before, HEADER_SIZE + 65_536) is None
    into_entry = before[:50] + b"\x00" + before[51:300] + b"\x00" + before[301:]
    with pytest.raises(AssertionError, match="overlaps the listed entry"):
        runner.released_reservation(header, before, into_entry, HEADER_SIZE + 65_536)


class _FakeTarget:
    handle: str | None = None


class _FakeRunner:
    """Answers steps from a script: "fail" raises, "attach" hands out a handle."""

    def __init__(self) -> None:
        self.t = _FakeTarget()
        self.ran: list[int] = []

    def step(self, index: int, step: dict[str, Any]) -> None:
        self.ran.append(index)
        if step["op"] == "attach":
            self.t.handle = "s1"
        if step.get("fail"):
            raise AssertionError(f"step {index} failed")


def test_probes_run_after_a_failed_attach_and_only_once_attached() -> None:
    runner = _runner_module()
    steps = [{"op": "attach", "fail": True}, {"op": "allocate"}, {"op": "resolve", "probe": True, "fail": True}]
    fake = _FakeRunner()
    with pytest.raises(AssertionError, match="step 0 failed; then step 2 failed"):
        runner.run_steps(fake, steps)
    assert fake.ran == [0, 2]
    unattached = _FakeRunner()
    runner.run_steps(unattached, [{"op": "create"}, {"op": "resolve", "probe": True, "fail": True}])
    assert unattached.ran == [0]
