"""How pytest's report of a case becomes its outcome label and the CaseResult the reports are made of."""

from __future__ import annotations

import pytest

from vgis_conformance.outcomes import (
    CRASH,
    EXPECTED_FAILURE,
    FAILED,
    HARNESS_ERROR,
    NOT_APPLICABLE,
    PASSED,
    READ_OUTSIDE_REGION,
    RECOMMENDED_NOT_MET,
    TIMEOUT,
    UNAVAILABLE,
    UNAVAILABLE_PREFIX,
    UNEXPECTED_PASS,
    CaseResult,
    ReadOutsideRegion,
)
from vgis_conformance.protocol import PeerFailure, PeerTimeout
from vgis_conformance.selection import case_id_of, peers_of
from vgis_conformance.session import CaseState

MESSAGE_LIMIT = 4000


def outcome_of(report: pytest.TestReport, call: pytest.CallInfo[None]) -> str:
    """The outcome label of a case's call (or failed setup), before the recommended tier softens a failure."""
    longrepr = str(report.longrepr) if report.longrepr else ""
    if hasattr(report, "wasxfail"):
        return EXPECTED_FAILURE if report.skipped else UNEXPECTED_PASS
    if report.passed:
        return PASSED
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else longrepr
        return UNAVAILABLE if UNAVAILABLE_PREFIX in str(reason) else NOT_APPLICABLE
    if "XPASS(strict)" in longrepr:
        return UNEXPECTED_PASS
    if UNAVAILABLE_PREFIX in longrepr:
        return UNAVAILABLE
    excinfo = call.excinfo
    if excinfo is None:
        return FAILED
    if excinfo.errisinstance(PeerTimeout):
        return TIMEOUT
    if excinfo.errisinstance(PeerFailure):
        return str(getattr(excinfo.value, "outcome", CRASH))
    if excinfo.errisinstance(ReadOutsideRegion):
        return READ_OUTSIDE_REGION
    if excinfo.errisinstance((AssertionError, pytest.fail.Exception)):
        return FAILED
    return HARNESS_ERROR


def message_of(report: pytest.TestReport, call: pytest.CallInfo[None]) -> str:
    """What went wrong (or why the case was skipped or expected to fail), in one string."""
    if call.excinfo is not None and not report.passed:
        text = str(call.excinfo.value)
        return text if text else call.excinfo.typename
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return str(getattr(report, "wasxfail", ""))


def misses_recommended(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException] | None) -> bool:
    """A recommended (SHOULD) case whose check failed: RECOMMENDED_NOT_MET, a warning, not a failure."""
    failed = excinfo is not None and excinfo.errisinstance((AssertionError, pytest.fail.Exception))
    return failed and item.get_closest_marker("recommended") is not None


def case_result(
    item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None], case: CaseState
) -> CaseResult:
    """The case's result; a failed check of a recommended (SHOULD) case is RECOMMENDED_NOT_MET, not FAILED."""
    clauses = item.get_closest_marker("clauses")
    oracle = item.get_closest_marker("oracle")
    label = outcome_of(report, call)
    message = message_of(report, call)[:MESSAGE_LIMIT]
    if label == FAILED and misses_recommended(item, call.excinfo):
        label = RECOMMENDED_NOT_MET
    replay = None
    if label not in (PASSED, NOT_APPLICABLE):
        replay = {
            "peers": peers_of(item),
            "requests": {p.name: p.history_since(case.history_marks.get(p.name, 0)) for p in case.peers},
            "header_hex": case.header_snapshot,
        }
    return CaseResult(
        case_id=case_id_of(item),
        peers=peers_of(item),
        outcome=label,
        clauses=list(clauses.args) if clauses else [],
        oracle=str(oracle.args[0]) if oracle else "",
        message=message,
        nodeid=item.nodeid,
        duration=report.duration,
        replay=replay,
        known=dict(case.known_lines) if label == EXPECTED_FAILURE else {},
    )
