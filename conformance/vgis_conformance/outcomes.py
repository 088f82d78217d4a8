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

OUTCOMES = (PASSED, FAILED, NOT_APPLICABLE, EXPECTED_FAILURE, UNEXPECTED_PASS, TIMEOUT, CRASH, HARNESS_ERROR,
            UNAVAILABLE, RECOMMENDED_NOT_MET)
BAD = frozenset({FAILED, UNEXPECTED_PASS, TIMEOUT, CRASH, HARNESS_ERROR, UNAVAILABLE})
SHORT = {
    PASSED: "ok", FAILED: "FAIL", NOT_APPLICABLE: "n/a", EXPECTED_FAILURE: "xfail", UNEXPECTED_PASS: "XPASS",
    TIMEOUT: "TIMEOUT", CRASH: "CRASH", HARNESS_ERROR: "ERROR", UNAVAILABLE: "UNAVAIL", RECOMMENDED_NOT_MET: "warn",
}
NA_PREFIX = "not applicable: "
UNAVAILABLE_PREFIX = "PEER UNAVAILABLE: "
PEER_PARAMS = ("peer", "producer", "consumer")


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

    @property
    def group(self) -> str:
        """The case group: the first segment of the case ID."""
        return self.case_id.split("/", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """The JSON report's form of a case (docs/reports.md)."""
        return {
            "case_id": self.case_id, "peers": self.peers, "outcome": self.outcome, "clauses": self.clauses,
            "oracle": self.oracle, "message": self.message, "nodeid": self.nodeid,
            "duration": round(self.duration, 6), "replay": self.replay,
        }


_LINE = re.compile(r"^(\S+)\s+(.+?)\s*$")


def read_known_failures(path: Path | None, *overlays: Path) -> dict[str, str]:
    """Case IDs and reasons from a known-failures file (docs/peer-protocol.md), then from each overlay.

    An overlay (a release's ``known-failures@VERSION.txt``) adds its lines and,
    with a line ``-<case-id> <why>``, drops a case the base file lists.
    """
    out = _read_known(path)
    for overlay in overlays:
        for case, reason in _read_known(overlay).items():
            if case.startswith("-"):
                out.pop(case[1:], None)
            else:
                out[case] = reason
    return out


def _read_known(path: Path | None) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    out: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected '<case-id> <reason>', got {raw!r}")
        out[match.group(1)] = match.group(2)
    return out


def write_known_failures(path: Path, entries: dict[str, str], peer: str) -> None:
    """Rewrite a known-failures file, sorted, keeping one reason per case."""
    width = max((len(k) for k in entries), default=0)
    lines = [
        f"# Known failures of peer {peer}: <case-id> <one line why>.",
        "# A listed case that passes fails the run; rewrite with `vgis-conformance known-failures --rewrite`.",
    ]
    lines += [f"{case.ljust(width)}  {reason}" for case, reason in sorted(entries.items())]
    path.write_text("\n".join(lines) + "\n")
