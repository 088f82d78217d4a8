"""The header diff names each differing field with its HDR-* clause, as docs/SPEC.md assigns them.

A failure message that says only "byte 16 differs" sends an implementer to the
spec to find out what lives there; the diff says ``num_allocs`` and HDR-5 and,
for a count written big-endian, says so. The clause of every field is checked
against the byte ranges in docs/SPEC.md's HDR headings, not copied from the
code under test.
"""

from __future__ import annotations

import re

import pytest

from vgis.header import FIELDS, HEADER_SIZE, MAX_ALLOCS, Field
from vgis_conformance import report
from vgis_conformance.header_diff import ENTRY_CLAUSE, MEANINGFUL_CLAUSE, header_mismatch
from vgis_conformance.layout import DOCS_DIR
from vgis_conformance.memory import Mapping
from vgis_conformance.outcomes import FAILED, CaseResult
from vgis_conformance.testkit import ShmFactory, pack_header

HEADINGS = re.findall(r"^#### (HDR-\d+) — MUST — (.*)$", (DOCS_DIR / "SPEC.md").read_text(), re.MULTILINE)
DATA_SIZE = 1 << 20
TWO = [(HEADER_SIZE, 8), (HEADER_SIZE + 8, 4)]


def spec_clause(pattern: str) -> str:
    """The one HDR clause whose heading matches ``pattern``."""
    found = [clause for clause, title in HEADINGS if re.search(pattern, title)]
    assert len(found) == 1, f"{pattern!r} matches HDR headings {found} in docs/SPEC.md"
    return str(found[0])


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_each_field_is_named_with_the_clause_spec_gives_its_bytes(field: Field) -> None:
    name, offset, size = field.name, field.offset, field.size
    clause = spec_clause(rf"^Bytes {offset}\.\.{offset + size} are (the )?{name}\b")
    want = pack_header(DATA_SIZE, TWO)
    got = bytearray(want)
    got[offset] ^= 0x01
    message = header_mismatch(want, bytes(got), "planted")
    assert f"{name} @ byte {offset} ({clause}): expected " in message, message
    assert message.count(" @ byte") == 1, f"one field changed, the diff names more:\n{message}"


def test_entry_and_meaningful_clauses_are_the_spec_ones() -> None:
    assert spec_clause(r"^Entry i is \(offset u64 LE, length u64 LE\)") == ENTRY_CLAUSE
    assert spec_clause(r"^Only the first 24 \+ 16·num_allocs bytes are meaningful") == MEANINGFUL_CLAUSE


def test_big_endian_num_allocs_names_num_allocs_and_hdr_5(shm: ShmFactory) -> None:
    """As the harness sees a peer that wrote the count big-endian: through its own mapping, all slots then read."""
    segment = shm.create(HEADER_SIZE + DATA_SIZE)
    for size in (8, 4):
        segment.allocator.allocate(size)
    expected = segment.header_bytes()
    segment.buf[16:20] = (2).to_bytes(4, "big")
    with Mapping(segment.name) as mapping:
        got = mapping.header_bytes()
    assert len(got) == 24 + 16 * MAX_ALLOCS, "the harness reads every slot a count of 2 << 24 claims"
    message = header_mismatch(expected, got, "recipe golden-two-entry")
    hdr5 = spec_clause(r"^Bytes 16\.\.20 are num_allocs")
    lines = message.splitlines()
    assert lines[0] == "recipe golden-two-entry: header differs in 2 field(s):", message
    assert lines[1] == (
        f"  num_allocs @ byte 16 ({hdr5}): expected 2 (0x02000000), got 33554432 (0x00000002); "
        f"byte-swapped: written big-endian? {hdr5} says little-endian"
    )
    assert lines[2].startswith(
        f"  entries[2..{MAX_ALLOCS - 1}] @ bytes 56..65528 ({ENTRY_CLAUSE}, HDR-9): "
        "meaningful only in got (num_allocs 33554432), absent from expected: 4092 entries"
    ), message
    assert lines[3] == f"  meaningful length (HDR-9): expected 56 bytes, got {24 + 16 * MAX_ALLOCS}", message
    assert len(lines) == 4, f"the slots a wrong count exposes must not bury the field at fault:\n{message}"


def test_differing_entries_name_offset_and_length_separately() -> None:
    want = pack_header(DATA_SIZE, TWO)
    got = pack_header(DATA_SIZE, [(HEADER_SIZE, 8), (HEADER_SIZE + 16, 5)])
    lines = header_mismatch(want, got, "after free").splitlines()
    assert lines[1:] == [
        f"  entries[1].offset @ byte 40 ({ENTRY_CLAUSE}): expected 65544 (0x0800010000000000), "
        "got 65552 (0x1000010000000000)",
        f"  entries[1].length @ byte 48 ({ENTRY_CLAUSE}): expected 4 (0x0400000000000000), got 5 (0x0500000000000000)",
    ]


def test_missing_entry_and_equal_headers() -> None:
    want = pack_header(DATA_SIZE, TWO)
    got = pack_header(DATA_SIZE, TWO[:1])
    message = header_mismatch(want, got, "after free")
    assert "num_allocs @ byte 16 (HDR-5): expected 2 (0x02000000), got 1 (0x01000000)\n" in message, message
    assert (
        f"entries[1] @ bytes 40..56 ({ENTRY_CLAUSE}, HDR-9): meaningful only in expected (num_allocs 2), "
        "absent from got: 1 entries, (65544, 4)" in message
    ), message
    assert "byte-swapped" not in message
    assert header_mismatch(want, want, "same") == ""


def test_magic_is_shown_as_bytes() -> None:
    want = pack_header(DATA_SIZE, [])
    got = pack_header(DATA_SIZE, [], magic=b"SIGV")
    assert "magic @ byte 0 (HDR-2): expected b'VGIS', got b'SIGV'\n" in header_mismatch(want, got, "x") + "\n"


def test_terminal_and_html_show_the_diff_without_pytest_repeating_it() -> None:
    """``assert not problem, problem`` reaches the report as the diff plus pytest's ``assert not '...'`` of it."""
    diff = header_mismatch(
        pack_header(DATA_SIZE, TWO[:1]), pack_header(DATA_SIZE, TWO[:1], num_allocs=1 << 24)[:40], "recipe no-gap"
    )
    message = f"{diff}\nassert not {diff[:60]!r}...\n  + where ..."
    result = CaseResult(case_id="header/recipe/no-gap", peers=["mine"], outcome=FAILED, message=message)
    terminal = report.summary_lines([result], {})
    at = next(i for i, line in enumerate(terminal) if "header/recipe/no-gap" in line)
    assert terminal[at + 1].strip().startswith("num_allocs @ byte 16 (HDR-5): expected 1 (0x01000000), got 16777216"), (
        terminal
    )
    assert not any("assert not" in line for line in terminal), terminal
    page = report.render_html(
        {"kit_version": "0", "started": "", "duration": 0, "totals": {}, "segments": {}, "peers": []}, [result]
    )
    assert "num_allocs @ byte 16 (HDR-5): expected 1 (0x01000000)" in page
    assert "assert not" not in page and "+ where" not in page
    bare = CaseResult(case_id="x/y", peers=["mine"], outcome=FAILED, message="assert 1 == 2\n  + where ...")
    assert "assert 1 == 2" in report.render_html(
        {"kit_version": "0", "started": "", "duration": 0, "totals": {}, "segments": {}, "peers": []}, [bare]
    ), "a bare assert is its message"
