"""The suite's pytest hooks and fixtures (registered by ``pytest_entry`` where the suite runs).

Peers are started once per session (per xdist worker) and shared by every
case; a case that needs a capability the peer lacks is *not applicable*; a
case listed in the peer's known-failures file is an *expected failure* that
must keep failing. Results travel to the controller in ``user_properties``,
where the matrices and reports are made. The work is done in modules of its
own: the state (``session``), which peers and cases run (``selection``),
known failures (``xfails``), the peers (``pool``), outcomes (``verdict``),
merging across workers (``merge``) and the leak check (``leftovers``).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from vgis_conformance import report, sources
from vgis_conformance.builder import PeerUnavailable, ensure_built, is_current
from vgis_conformance.kit import Kit
from vgis_conformance.layout import default_report_dir
from vgis_conformance.leftovers import remove_leftovers, shm_listing
from vgis_conformance.merge import (
    CASE_ID_PROPERTY,
    FINAL_COUNTERS_OUTPUT,
    LEFT_OUTPUT,
    PEER_INFO_PROPERTY,
    RESULT_PROPERTY,
    WARNING_PROPERTY,
    peer_info_of,
)
from vgis_conformance.outcomes import NA_PREFIX, RECOMMENDED_NOT_MET, read_known_failures
from vgis_conformance.peer import Peer
from vgis_conformance.pool import PeerPool
from vgis_conformance.selection import case_id_of, known_failure_files, select_cases, selected_manifests
from vgis_conformance.session import SESSION_KEY, Session, case_of, session_of
from vgis_conformance.verdict import case_result, misses_recommended
from vgis_conformance.xfails import fails_as_listed, mark_known_failures

TALLY_NAME = "vgis-conformance-tally"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clauses(*ids): the spec clauses a case checks")
    config.addinivalue_line("markers", "oracle(kind): how the case decides (byte-exact, decoded-equal, ...)")
    config.addinivalue_line("markers", "needs(*capabilities): optional peer capabilities the case uses")
    config.addinivalue_line(
        "markers",
        "recommended: a SHOULD clause's case; a failed check is a warning, "
        "not a failure (crashes and timeouts still fail)",
    )
    manifests = selected_manifests(config)
    files = known_failure_files(config, manifests)
    overlays = {m.name: m.release_known_failures for m in manifests}
    report_dir = Path(config.getoption("--report-dir") or default_report_dir())
    state = Session(
        manifests=manifests,
        known={name: read_known_failures(path, *filter(None, [overlays.get(name)])) for name, path in files.items()},
        known_files=files,
        report_dir=report_dir,
        worker=os.environ.get("PYTEST_XDIST_WORKER", "main"),
        is_worker=hasattr(config, "workerinput"),
    )
    config.stash[SESSION_KEY] = state
    config.pluginmanager.register(state.tally, TALLY_NAME)
    if not state.is_worker:
        report_dir.mkdir(parents=True, exist_ok=True)
        if not config.option.xmlpath:
            config.option.xmlpath = str(report_dir / "junit.xml")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Build every selected peer once, on the controller, with visible progress."""
    state = session_of(session.config)
    state.unavailable = {}
    state.shm_before = shm_listing()
    if state.is_worker:
        return
    state.built_from = {m.name: sources.provenance(m) for m in state.manifests}
    names = ", ".join(f"{m.name} (from {m.source})" if m.source else m.name for m in state.manifests)
    print(f"[vgis-conformance] peers: {names}", flush=True)
    stale = [m.name for m in state.manifests if not is_current(m)]
    if stale:
        print(
            f"[vgis-conformance] building first (new or changed since the last build): {', '.join(stale)}", flush=True
        )
    for manifest in state.manifests:
        try:
            ensure_built(manifest)
        except PeerUnavailable as exc:
            state.unavailable[manifest.name] = str(exc)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = [m.name for m in session_of(metafunc.config).manifests]
    if "peer" in metafunc.fixturenames:
        metafunc.parametrize("peer_name", names, ids=names, scope="session")
    if "producer" in metafunc.fixturenames:
        pairs = list(itertools.product(names, names))
        metafunc.parametrize(
            ("producer_name", "consumer_name"), pairs, ids=[f"{a}->{b}" for a, b in pairs], scope="session"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    select_cases(config, items)
    for item in items:
        item.user_properties.append((CASE_ID_PROPERTY, case_id_of(item)))
    mark_known_failures(items, session_of(config).known)


@pytest.fixture(scope="session")
def workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The session's folder for batch files and peer logs (kept for replay)."""
    state = session_of(request.config)
    path = state.report_dir / "work" / state.worker
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    yield path


@pytest.fixture(scope="session")
def pool(request: pytest.FixtureRequest, workdir: Path) -> Iterator[PeerPool]:
    """Every peer of this session."""
    config = request.config
    pool = PeerPool(
        session_of(config),
        workdir,
        timeout=config.getoption("--peer-timeout"),
        require_all=config.getoption("--require-all-peers"),
    )
    yield pool
    pool.stop()


def _peer_fixture(request: pytest.FixtureRequest, pool: PeerPool, name: str) -> Peer:
    peer = pool.get(name)
    marker = request.node.get_closest_marker("needs")
    missing = sorted(set(marker.args if marker else ()) - peer.capabilities)
    if missing:
        pytest.skip(f"{NA_PREFIX}{peer.name} lacks capability {', '.join(missing)}")
    case = case_of(request.node)
    case.peers.append(peer)
    case.history_marks.setdefault(peer.name, peer.history_length())
    return peer


@pytest.fixture
def kit(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Kit]:
    """Per-case segments and files, released when the case ends."""
    k = Kit(workdir, request.node)
    yield k
    k.finish(case_of(request.node).peers)


@pytest.fixture
def peer(request: pytest.FixtureRequest, pool: PeerPool, peer_name: str) -> Peer:
    """The peer under test."""
    return _peer_fixture(request, pool, peer_name)


@pytest.fixture
def producer(request: pytest.FixtureRequest, pool: PeerPool, producer_name: str) -> Peer:
    """The peer that creates the segment and writes first in a cross-attach case."""
    return _peer_fixture(request, pool, producer_name)


@pytest.fixture
def consumer(request: pytest.FixtureRequest, pool: PeerPool, consumer_name: str) -> Peer:
    """The peer that attaches and resolves first in a cross-attach case."""
    return _peer_fixture(request, pool, consumer_name)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Record the case's verdict on its report.

    A listed failure failing as listed, and a recommended case's failed check (a warning, whose longrepr is
    dropped below), get pytest's one-line traceback: the report states them by their message
    (``case_result``), nothing shows the long form, and building that (the source of every frame, the
    repr of every argument) was 30 ms for each of the 1,200 of a 7-peer run.
    """
    style = item.config.option.tbstyle
    if call.when == "call" and (fails_as_listed(item, call.excinfo) or misses_recommended(item, call.excinfo)):
        item.config.option.tbstyle = "line"
    try:
        outcome = yield
    finally:
        item.config.option.tbstyle = style
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        case = case_of(item)
        result = case_result(item, report, call, case)
        if result.outcome == RECOMMENDED_NOT_MET:
            report.outcome = "passed"  # pytest's own vocabulary: a warning does not fail the run
        report.user_properties.append((RESULT_PROPERTY, json.dumps(result.to_json())))
        if result.outcome == RECOMMENDED_NOT_MET:
            report.user_properties.append((WARNING_PROPERTY, result.message))
            report.longrepr = None
        report.user_properties.append((PEER_INFO_PROPERTY, json.dumps(peer_info_of(case.peers))))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = session_of(config)
    if state.is_worker:
        return
    tally = state.tally
    lines = report.summary_lines(tally.results, state.unavailable)
    segments = report.segment_totals(tally.peer_info, tally.left_in_dev_shm)
    at = next(i for i, line in enumerate(lines) if line.startswith("outcomes:")) + 1
    lines[at:at] = [
        f"segments: {segments['created']} created, {segments['removed_after_failure']} removed "
        f"after a peer failed, {segments['left_in_dev_shm']} left in /dev/shm",
        *report.peer_lines(state.manifests, tally.peer_info, state.built_from),
    ]
    for line in lines:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session_of(session.config)
    leaked = remove_leftovers(state.shm_before, state.worker, state.peer_pids)
    if leaked:
        print(f"\n[vgis-conformance] removed segments left in /dev/shm: {leaked}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if state.is_worker:
        # xdist's channel to the controller, an untyped attribute of a worker's config
        output: dict[str, Any] = getattr(session.config, "workeroutput", {})
        output[LEFT_OUTPUT] = leaked
        output[FINAL_COUNTERS_OUTPUT] = state.final_counters
        return
    state.tally.add_final(state.worker, state.final_counters, leaked)
    state.report_paths = report.write_reports(
        state.report_dir,
        state.tally.results,
        manifests=state.manifests,
        unavailable=state.unavailable,
        started=state.started,
        peer_info=state.tally.peer_info,
        known_files=state.known_files,
        left_in_dev_shm=state.tally.left_in_dev_shm,
        built_from=state.built_from,
    )
