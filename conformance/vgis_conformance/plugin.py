"""The suite's pytest hooks: peers, outcomes, reports (registered by ``pytest_entry`` where the suite runs).

Peers are started once per session (per xdist worker) and shared by every
case; a case that needs a capability the peer lacks is *not applicable*; a
case listed in the peer's known-failures file is an *expected failure* that
must keep failing. Results travel to the controller in ``user_properties``,
where the matrices and reports are made.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from vgis_conformance import memory, report, sources
from vgis_conformance.builder import PeerUnavailable, ensure_built, is_current
from vgis_conformance.kit import Kit
from vgis_conformance.layout import default_report_dir
from vgis_conformance.manifest import Manifest, lookup, parse_peer_cmd, registry
from vgis_conformance.merge import (
    CASE_ID_PROPERTY,
    FINAL_COUNTERS_OUTPUT,
    LEFT_OUTPUT,
    PEER_INFO_PROPERTY,
    RESULT_PROPERTY,
    WARNING_PROPERTY,
    counters_of,
    peer_info_of,
)
from vgis_conformance.outcomes import (
    CRASH,
    EXPECTED_FAILURE,
    FAILED,
    HARNESS_ERROR,
    NA_PREFIX,
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
    read_known_failures,
)
from vgis_conformance.peer import Peer, names_of_pids
from vgis_conformance.protocol import PeerCrashed, PeerFailure, PeerTimeout
from vgis_conformance.session import SESSION_KEY, Session, case_of, session_of

# A known-failures reason starting with this expects the peer process to die (a fault its library
# cannot recover from, such as Go's fatal out-of-memory); the harness still restarts it and cleans up.
CRASH_TAG = "[crash]"
# ... and this expects it to answer with a batch holding bytes from outside its region (ERR-2).
LEAK_TAG = "[leak]"
TALLY_NAME = "vgis-conformance-tally"


def selected_manifests(config: pytest.Config) -> list[Manifest]:
    """The peers this run covers, in a stable order."""
    known = registry()
    names: list[str] = config.getoption("--peer")
    commands: list[str] = config.getoption("--peer-cmd")
    unknown = [n for n in names if n.partition("@")[0] not in known]
    if unknown:
        raise pytest.UsageError(f"unknown peer(s) {unknown}; registered: {sorted(known)}")
    try:
        chosen = [lookup(n, known) for n in names]
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from exc
    chosen += [parse_peer_cmd(c) for c in commands]
    if not names and not commands:
        chosen = [m for m in known.values() if m.default]
    try:
        return sources.with_sources(chosen, config.getoption("--peer-source"))
    except sources.SourceError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _known_failure_files(config: pytest.Config, manifests: list[Manifest]) -> dict[str, Path | None]:
    files: dict[str, Path | None] = {m.name: m.known_failures for m in manifests}
    for raw in config.getoption("--known-failures"):
        name, sep, path = raw.partition("=")
        if sep:
            files[name] = Path(path)
        elif len(manifests) == 1:
            files[manifests[0].name] = Path(raw)
        else:
            raise pytest.UsageError("--known-failures FILE needs NAME=FILE when several peers run")
    return files


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
    files = _known_failure_files(config, manifests)
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
    if not hasattr(config, "workerinput"):
        report_dir.mkdir(parents=True, exist_ok=True)
        if not config.option.xmlpath:
            config.option.xmlpath = str(report_dir / "junit.xml")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Build every selected peer once, on the controller, with visible progress."""
    state = session_of(session.config)
    state.unavailable = {}
    state.shm_before = set(os.listdir(memory.SHM_DIR))
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


def _value_name(value: Any) -> str:
    """A parameter as it appears in a case ID: without whitespace, so that a known-failures line can name it."""
    return "".join(str(getattr(value, "name", value)).split())


def case_id_of(item: pytest.Item) -> str:
    """``<group>/<test>/<params>``, without the peer: the key of known-failures files."""
    module = Path(str(item.fspath)).stem.removeprefix("test_")
    parts = [module, getattr(item, "originalname", item.name).removeprefix("test_").replace("_", "-")]
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        parts += [
            _value_name(v)
            for k, v in callspec.params.items()
            if k not in ("peer_name", "producer_name", "consumer_name")
        ]
    return "/".join(parts)


def peers_of(item: pytest.Item) -> list[str]:
    """The peer, or the (producer, consumer) pair, a case runs against."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return [params[k] for k in ("peer_name", "producer_name", "consumer_name") if k in params]


def _select_cases(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the items whose case ID matches a ``--case`` glob (all of them when none is given)."""
    globs = config.getoption("--case")
    if not globs:
        return
    wanted = [any(fnmatch.fnmatchcase(case_id_of(i), g) for g in globs) for i in items]
    kept = [i for i, w in zip(items, wanted) if w]
    dropped = [i for i, w in zip(items, wanted) if not w]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _select_cases(config, items)
    known = session_of(config).known
    for item in items:
        case_id = case_id_of(item)
        item.user_properties.append((CASE_ID_PROPERTY, case_id))
        peers = peers_of(item)
        roles = ["producer", "consumer"] if len(peers) == 2 else [""]
        for peer, role in zip(peers, roles):
            listed = known.get(peer, {})
            line = listed.get(case_id) or listed.get(f"{case_id}@{role}")
            if line is not None:
                raises: tuple[type[BaseException], ...] = (AssertionError,)
                if line.reason.startswith(CRASH_TAG):
                    raises += (PeerCrashed,)
                if line.reason.startswith(LEAK_TAG):
                    raises += (ReadOutsideRegion,)
                item.add_marker(pytest.mark.xfail(reason=f"{peer}: {line.text}", strict=True, raises=raises))
                case_of(item).known_lines[peer] = line


class PeerPool:
    """The session's peers, started on first use and stopped at the end."""

    def __init__(self, config: pytest.Config, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.session = session_of(config)
        self.manifests = {m.name: m for m in self.session.manifests}
        self.peers: dict[str, Peer] = {}
        self.unavailable: dict[str, str] = dict(self.session.unavailable)

    def get(self, name: str) -> Peer:
        """The running peer, or a loud skip / error when it cannot run."""
        if name in self.unavailable:
            message = self.unavailable[name]
            if self.config.getoption("--require-all-peers"):
                pytest.fail(f"{UNAVAILABLE_PREFIX}{message} (--require-all-peers)", pytrace=False)
            pytest.skip(f"{UNAVAILABLE_PREFIX}{message}")
        peer = self.peers.get(name)
        if peer is None:
            peer = Peer(self.manifests[name], self.workdir, timeout=self.config.getoption("--peer-timeout"))
            try:
                peer.start()
            except PeerUnavailable as exc:
                self.unavailable[name] = str(exc)
                return self.get(name)
            self.peers[name] = peer
        return peer

    def stop(self) -> None:
        """Stop every peer and remove what any of them left."""
        for peer in self.peers.values():
            peer.stop()
        self.session.peer_pids = [pid for p in self.peers.values() for pid in p.pids]
        self.session.final_counters = {p.name: counters_of(p) for p in self.peers.values()}


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
    pool = PeerPool(request.config, workdir)
    yield pool
    pool.stop()


def _require(request: pytest.FixtureRequest, peer: Peer) -> None:
    marker = request.node.get_closest_marker("needs")
    missing = sorted(set(marker.args if marker else ()) - peer.capabilities)
    if missing:
        pytest.skip(f"{NA_PREFIX}{peer.name} lacks capability {', '.join(missing)}")


def _peer_fixture(request: pytest.FixtureRequest, pool: PeerPool, name: str) -> Peer:
    peer = pool.get(name)
    _require(request, peer)
    case = case_of(request.node)
    case.peers.append(peer)
    case.history_marks.setdefault(peer.name, len(peer.history()))
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


def _outcome(report: pytest.TestReport, call: pytest.CallInfo[None]) -> str:
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


def _message(report: pytest.TestReport, call: pytest.CallInfo[None]) -> str:
    if call.excinfo is not None and not report.passed:
        text = str(call.excinfo.value)
        return text if text else call.excinfo.typename
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return str(getattr(report, "wasxfail", ""))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        clauses = item.get_closest_marker("clauses")
        oracle = item.get_closest_marker("oracle")
        label = _outcome(report, call)
        message = _message(report, call)[:4000]
        if label == FAILED and item.get_closest_marker("recommended") is not None:
            label, report.outcome = RECOMMENDED_NOT_MET, "passed"
        case = case_of(item)
        replay = None
        if label not in (PASSED, NOT_APPLICABLE):
            replay = {
                "peers": peers_of(item),
                "requests": {p.name: p.history()[case.history_marks.get(p.name, 0) :] for p in case.peers},
                "header_hex": case.header_snapshot,
            }
        result = CaseResult(
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
        report.user_properties.append((RESULT_PROPERTY, json.dumps(result.to_json())))
        if label == RECOMMENDED_NOT_MET:
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
    appeared = set(os.listdir(memory.SHM_DIR)) - state.shm_before
    mine = f"vgis-{state.worker}-{os.getpid()}-"
    leaked = sorted(n for n in appeared if n.startswith(mine))
    # Objects the peers named themselves (vgi-rpc-rust: "vgi_rpc_<pid hex>_..."), by this session's peer pids.
    leaked += names_of_pids(appeared, state.peer_pids)
    for name in leaked:
        memory.unlink(name)
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
