"""Outcome labels and case identities shared by the plugin and the reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASSED = "passed"
FAILED = "failed"
NOT_APPLICABLE = "not applicable"
EXPECTED_FAILURE = "expected failure"
UNEXPECTED_PASS = "unexpected pass"
TIMEOUT = "timeout"
CRASH = "crash"
HARNESS_ERROR = "harness error"
UNAVAILABLE = "peer unavailable"
RECOMMENDED_NOT_MET = "recommended not met"
"""A case of the recommended tier (a SHOULD clause) whose check failed: a warning, not a failure of the run."""
READ_OUTSIDE_REGION = "read outside its region"
"""A resolve answered with a batch carrying segment bytes from outside the pointer's region (ERR-2): worse than
a missing rejection, because the reader exposed another region's data, or the header's."""

OUTCOMES = (
    PASSED,
    FAILED,
    READ_OUTSIDE_REGION,
    NOT_APPLICABLE,
    EXPECTED_FAILURE,
    UNEXPECTED_PASS,
    TIMEOUT,
    CRASH,
    HARNESS_ERROR,
    UNAVAILABLE,
    RECOMMENDED_NOT_MET,
)
BAD = frozenset({FAILED, READ_OUTSIDE_REGION, UNEXPECTED_PASS, TIMEOUT, CRASH, HARNESS_ERROR, UNAVAILABLE})
SHORT = {
    PASSED: "ok",
    FAILED: "FAIL",
    READ_OUTSIDE_REGION: "LEAK",
    NOT_APPLICABLE: "n/a",
    EXPECTED_FAILURE: "xfail",
    UNEXPECTED_PASS: "XPASS",
    TIMEOUT: "TIMEOUT",
    CRASH: "CRASH",
    HARNESS_ERROR: "ERROR",
    UNAVAILABLE: "UNAVAIL",
    RECOMMENDED_NOT_MET: "warn",
}


class ReadOutsideRegion(Exception):
    """A check found bytes from outside the resolved region in the resolved batch; reported as READ_OUTSIDE_REGION.

    Not an AssertionError, so a known-failures line expecting a wrong answer does not hide it: only a line
    tagged ``[leak]`` expects it.
    """


NA_PREFIX = "not applicable: "
UNAVAILABLE_PREFIX = "PEER UNAVAILABLE: "
PEER_PARAMS = ("peer", "producer", "consumer")


_LINE = re.compile(r"^(\S+)\s+(.+?)\s*$")
_CATEGORY = re.compile(r"^(bug|policy|adapter)(?:\(([a-z0-9][a-z0-9-]*)\))?\s+(.+)$")
CATEGORIES = ("bug", "policy", "adapter")
"""What a known-failures line calls the failure: a defect of the port, its deliberate choice, or an adapter's limit."""


@dataclass(frozen=True)
class KnownFailure:
    """One line of a known-failures file: ``<case-id>  <category>[(<witness>)] <reason>``.

    ``category`` is None for a line without one (allowed in a --peer-cmd peer's
    file; tests/test_known_failures.py requires it of every registered peer).
    ``text`` is the line after the case ID, kept verbatim so a rewrite loses nothing.
    """

    text: str
    category: str | None = None
    witness: str | None = None
    reason: str = ""

    @classmethod
    def parse(cls, text: str) -> KnownFailure:
        """Split ``text`` into category, witness and reason; a line without a category keeps it all as reason."""
        match = _CATEGORY.match(text)
        if match is None:
            return cls(text=text, reason=text)
        return cls(text=text, category=match.group(1), witness=match.group(2), reason=match.group(3))


@dataclass
class CaseResult:
    """One case run against one peer (or one ordered pair)."""

    case_id: str
    peers: list[str]
    outcome: str
    clauses: list[str] = field(default_factory=list)
    oracle: str = ""
    message: str = ""
    nodeid: str = ""
    duration: float = 0.0
    replay: dict[str, Any] | None = None
    known: dict[str, KnownFailure] = field(default_factory=dict)
    """The known-failures line of each peer that lists the case."""

    @property
    def group(self) -> str:
        """The case group: the first segment of the case ID."""
        return self.case_id.split("/", 1)[0]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        """The inverse of :meth:`to_json` (results travel from the xdist workers as JSON)."""
        known = {
            peer: KnownFailure(
                text=line["reason"], category=line["category"], witness=line["witness"], reason=line["reason"]
            )
            for peer, line in data.get("known", {}).items()
        }
        return cls(**{**data, "known": known})

    def to_json(self) -> dict[str, Any]:
        """The JSON report's form of a case (docs/reports.md)."""
        return {
            "case_id": self.case_id,
            "peers": self.peers,
            "outcome": self.outcome,
            "clauses": self.clauses,
            "oracle": self.oracle,
            "message": self.message,
            "nodeid": self.nodeid,
            "duration": round(self.duration, 6),
            "replay": self.replay,
            "known": {
                peer: {"category": line.category, "witness": line.witness, "reason": line.reason}
                for peer, line in self.known.items()
            },
        }


def read_known_failures(path: Path | None, *overlays: Path) -> dict[str, KnownFailure]:
    """Case IDs and their lines from a known-failures file (docs/peer-protocol.md), then from each overlay.

    An overlay (a release's ``known-failures@VERSION.txt``) adds its lines and,
    with a line ``-<case-id> <why>``, drops a case the base file lists.
    """
    out = _read_known(path)
    for overlay in overlays:
        for case, line in _read_known(overlay).items():
            if case.startswith("-"):
                out.pop(case[1:], None)
            else:
                out[case] = line
    return out


def _read_known(path: Path | None) -> dict[str, KnownFailure]:
    if path is None or not path.exists():
        return {}
    out: dict[str, KnownFailure] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected '<case-id> <category> <reason>', got {raw!r}")
        out[match.group(1)] = KnownFailure.parse(match.group(2))
    return out


def write_known_failures(path: Path, entries: dict[str, KnownFailure], peer: str) -> None:
    """Rewrite a known-failures file, sorted, keeping one reason per case."""
    width = max((len(k) for k in entries), default=0)
    lines = [
        f"# Known failures of peer {peer}: <case-id> <bug(<witness>)|policy|adapter> <one line why>.",
        "# A listed case that passes fails the run; rewrite with `vgis-conformance known-failures --rewrite`.",
    ]
    lines += [f"{case.ljust(width)}  {line.text}" for case, line in sorted(entries.items())]
    path.write_text("\n".join(lines) + "\n")
