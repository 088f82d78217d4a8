"""Field-by-field diff of two meaningful header prefixes, each field named with its HDR-* clause.

A byte offset tells an implementer little; ``num_allocs @ byte 16 (HDR-5):
expected 1, got 16777216 ... written big-endian?`` tells them what to fix. The
field layout comes from ``vgis.header.FIELDS``, so the diff and the reference
cannot drift apart; tests/test_header_diff.py checks the clause of every field
against the byte ranges docs/SPEC.md gives.

A wrong ``num_allocs`` changes how many entries are meaningful (HDR-9): the
entries only one side has are summarised in one line, not listed one by one,
so that the field that is really wrong stays at the top of the message.
"""

from __future__ import annotations

import struct

from vgis.header import ENTRY_SIZE, FIELDS, FIXED_SIZE

ENTRY_CLAUSE = "HDR-7"
MEANINGFUL_CLAUSE = "HDR-9"
MAX_LINES = 40


def _value(raw: bytes, fmt: str) -> str:
    if len(raw) < struct.calcsize(fmt):
        return f"<missing: {raw.hex() or 'no bytes'}>"
    value = struct.unpack(fmt, raw)[0]
    return repr(value) if isinstance(value, bytes) else f"{value} (0x{raw.hex()})"


def _byte_order_hint(expected: bytes, got: bytes, clause: str) -> str:
    """Why a number came out wrong, when its bytes are the expected ones reversed."""
    if len(expected) > 1 and len(expected) == len(got) and got == expected[::-1] and got != expected:
        return f"; byte-swapped: written big-endian? {clause} says little-endian"
    return ""


def _field_line(name: str, offset: int, clause: str, fmt: str, expected: bytes, got: bytes) -> str:
    hint = "" if fmt.endswith("s") else _byte_order_hint(expected, got, clause)
    return f"{name} @ byte {offset} ({clause}): expected {_value(expected, fmt)}, got {_value(got, fmt)}{hint}"


def _entry_count(prefix: bytes) -> int:
    return max(0, len(prefix) - FIXED_SIZE + ENTRY_SIZE - 1) // ENTRY_SIZE


def _entry(prefix: bytes, i: int) -> tuple[int, int] | None:
    at = FIXED_SIZE + i * ENTRY_SIZE
    raw = prefix[at : at + ENTRY_SIZE]
    return struct.unpack("<QQ", raw) if len(raw) == ENTRY_SIZE else None


def _num_allocs(prefix: bytes) -> str:
    field = next(f for f in FIELDS if f.name == "num_allocs")
    raw = prefix[field.offset : field.offset + field.size]
    return str(struct.unpack(field.fmt, raw)[0]) if len(raw) == field.size else "unreadable"


def _only_one_side(prefix: bytes, start: int, stop: int, side: str) -> str:
    """One line for entries ``start..stop-1`` that only ``side``'s num_allocs makes meaningful."""
    entries = [_entry(prefix, i) for i in range(start, stop)]
    distinct = list(dict.fromkeys(e for e in entries if e is not None))
    span = f"entries[{start}]" if stop - start == 1 else f"entries[{start}..{stop - 1}]"
    first, last = FIXED_SIZE + start * ENTRY_SIZE, min(len(prefix), FIXED_SIZE + stop * ENTRY_SIZE)
    if len(distinct) == 1 and len(entries) > 1:
        what = f"all {distinct[0]}"
    else:
        what = ", ".join(map(str, distinct[:3])) + (", ..." if len(distinct) > 3 else "")
    other = "expected" if side == "got" else "got"
    return (
        f"{span} @ bytes {first}..{last} ({ENTRY_CLAUSE}, {MEANINGFUL_CLAUSE}): meaningful only in {side} "
        f"(num_allocs {_num_allocs(prefix)}), absent from {other}: {stop - start} entries, {what}"
    )


def field_lines(expected: bytes, got: bytes) -> list[str]:
    """One line per differing field of two meaningful header prefixes: fixed fields, then entries."""
    lines = [
        _field_line(
            f.name, f.offset, f.clause, f.fmt, expected[f.offset : f.offset + f.size], got[f.offset : f.offset + f.size]
        )
        for f in FIELDS
        if expected[f.offset : f.offset + f.size] != got[f.offset : f.offset + f.size]
    ]
    n_expected, n_got = _entry_count(expected), _entry_count(got)
    for i in range(min(n_expected, n_got)):
        for rel, name in ((0, "offset"), (8, "length")):
            at = FIXED_SIZE + i * ENTRY_SIZE + rel
            e, g = expected[at : at + 8], got[at : at + 8]
            if e != g:
                lines.append(_field_line(f"entries[{i}].{name}", at, ENTRY_CLAUSE, "<Q", e, g))
    if n_got > n_expected:
        lines.append(_only_one_side(got, n_expected, n_got, "got"))
    elif n_expected > n_got:
        lines.append(_only_one_side(expected, n_got, n_expected, "expected"))
    return lines


def header_mismatch(expected: bytes, got: bytes, what: str) -> str:
    """The message for two differing header prefixes ('' when equal): what was compared, then the fields."""
    if expected == got:
        return ""
    lines = field_lines(expected, got)
    head = [f"{what}: header differs in {len(lines)} field(s):"]
    shown = [f"  {line}" for line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        shown.append(f"  ... and {len(lines) - MAX_LINES} more")
    if len(expected) != len(got):
        shown.append(f"  meaningful length ({MEANINGFUL_CLAUSE}): expected {len(expected)} bytes, got {len(got)}")
    return "\n".join(head + shown)
