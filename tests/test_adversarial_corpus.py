"""The adversarial corpus (fixtures/adversarial): regenerable, well-formed, and covering what issue 6 lists."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import pytest

from vgis.framing import walk
from vgis_conformance import adversarial
from vgis_conformance.adversarial import (
    CORPUS_DIR,
    GROUPS,
    OUTCOMES,
    load_cases,
    record_batch_field,
    validate_recipe,
)

SPEC = Path(__file__).resolve().parents[1] / "docs" / "SPEC.md"
CASES = load_cases()


def test_regeneration_changes_nothing() -> None:
    problems = adversarial.check()
    assert not problems, "fixtures/adversarial is out of date; run " \
        "`python -m vgis_conformance.adversarial --regenerate`:\n" + "\n".join(problems[:20])


def test_regenerate_removes_stale_files_and_keeps_the_readme(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("kept\n")
    (tmp_path / "headers").mkdir()
    (tmp_path / "headers" / "stale.json").write_text("{}")
    adversarial.regenerate(tmp_path)
    assert not (tmp_path / "headers" / "stale.json").exists()
    assert (tmp_path / "README.md").read_text() == "kept\n"
    assert adversarial.owned_files(tmp_path) == adversarial.owned_files(CORPUS_DIR)


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


@pytest.mark.parametrize("name", [
    "headers/attach-bad-magic-one-byte", "headers/attach-version-0", "headers/attach-version-2",
    "headers/attach-version-max", "headers/attach-data-size-plus-one", "headers/attach-data-size-plus-page",
    "headers/attach-advertised-larger-by-one", "headers/attach-advertised-smaller-by-one",
    "headers/attach-object-0-bytes", "headers/attach-num-allocs-4095", "headers/attach-num-allocs-4096",
    "headers/attach-num-allocs-max", "tables/unsorted-allocate-8", "tables/overlapping-free",
    "tables/entry-past-end-write", "tables/entry-inside-header-shrink", "tables/zero-length-allocate-8",
    "tables/duplicate-offsets-free", "tables/num-allocs-max-free", "tables/unsorted-resolve",
    "pointers/out-of-bounds-offset-24", "pointers/out-of-bounds-end-past-segment-by-one",
    "pointers/out-of-bounds-length-u64-max", "pointers/offset-negative", "pointers/offset-non-numeric",
    "pointers/offset-empty", "pointers/offset-leading-space", "pointers/offset-plus", "pointers/offset-leading-zero",
    "pointers/offset-hex", "pointers/missing-length", "pointers/log-level-and-offset", "pointers/rows-with-offset",
    "pointers/schema-other-types", "regions/stream-truncated-in-body-of-message-1",
    "regions/dict-truncated-at-message-1-record-batch", "regions/stream-random-1024", "regions/dict-without-dictionary",
    "regions/stream-without-eos", "regions/stream-two-record-batches", "regions/dict-trailing-zeros",
    "regions/stream-compressed-lz4", "regions/dict-compressed-zstd", "regions/stream-body-length-past-end",
    "regions/stream-metadata-length-past-end", "names/attach-extra-leading-slash", "names/attach-embedded-nul",
    "names/attach-overlong-300", "names/attach-missing", "names/attach-mode-0000",
])
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
    for broken in ({**good, "group": "nope"}, {**good, "steps": []},
                   {**good, "steps": [{**good["steps"][0], "op": "explode"}]},
                   {**good, "steps": [{**good["steps"][0], "expect": ["maybe"]}]}):
        with pytest.raises(ValueError):
            validate_recipe(broken, "broken")
