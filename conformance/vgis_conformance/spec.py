"""The clause index of docs/SPEC.md, parsed from its ``#### ID — LEVEL — title`` lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vgis_conformance.layout import DOCS_DIR

SPEC = DOCS_DIR / "SPEC.md"
CLAUSE_LINE = re.compile(r"^#### ([A-Z]+-\d+) — (MUST|SHOULD|MAY) — (.+)$", re.MULTILINE)
CITATION = re.compile(r"\b([A-Z]{2,6}-\d+)\b")


@dataclass(frozen=True)
class Clause:
    """One numbered rule of the spec."""

    id: str
    level: str
    title: str


def clauses(path: Path = SPEC) -> dict[str, Clause]:
    """Every clause of the spec by ID."""
    return {m.group(1): Clause(m.group(1), m.group(2), m.group(3)) for m in CLAUSE_LINE.finditer(path.read_text())}
