"""The conformance suite catches every defect of tests/broken_peers/peer.py.

Each test runs the suite (only the modules that hold the cases it names)
against one broken peer on a small selection of cases, then reads the run's report.json: the cases that must
catch the defect fail (or crash, or time out), unrelated cases still pass (so
the harness recovered from a dead or hung peer), and the run left nothing in
/dev/shm. The expectations follow from the defects, not from whatever the
suite happened to say: see the comment on each entry.

The runs are independent subprocesses; ``pytest tests/test_broken_peers.py -n 2``
runs two at a time.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vgis_conformance.outcomes import CRASH, EXPECTED_FAILURE, FAILED, NOT_APPLICABLE, PASSED, TIMEOUT, UNEXPECTED_PASS

KIT = Path(__file__).resolve().parents[1]
PEER = KIT / "tests" / "broken_peers" / "peer.py"
SHM = Path("/dev/shm")
RUN_TIMEOUT = 240


@dataclass(frozen=True)
class Expect:
    """What one broken peer's run must show."""

    select: str  # the -k expression
    caught: dict[str, str]  # case ID -> outcome (FAILED, CRASH, TIMEOUT)
    passes: tuple[str, ...]  # case IDs unrelated to the defect that must still pass
    says: dict[str, str] = field(default_factory=dict)  # case ID -> text its message must contain
    restarts: bool = False  # the peer process must have been replaced during the run
    exit_status: int = 1  # 0 when every catch is a warning of the recommended tier


WRITE_DICT = "test_write and not then and (dict-int8 or dict-two or signed-ints or floats)"

EXPECT: dict[str, Expect] = {
    # num_allocs is little-endian: a big-endian count of 1 reads as 16777216 > MAX_ALLOCS, so the second
    # allocation finds a "full" table, and the header bytes differ at byte 16. Fresh headers are untouched.
    "big-endian-num-allocs": Expect(
        select="golden-two-entry or no-gap or (test_recipe and empty) or test_create_initializes",
        caught={"header/recipe/golden-two-entry": FAILED, "header/recipe/no-gap": FAILED},
        passes=("header/recipe/empty", "header/create-initializes/65537", "header/create-initializes/69632"),
        says={"header/recipe/no-gap": "num_allocs @ byte 16 (HDR-5)"},
    ),
    # Every recipe that allocates into a segment with more than one gap (or more room than asked) places
    # differently; a recipe with no allocation or a single exact gap cannot tell. full-table is left out:
    # its 4,094 allocations on the Python peer cost 8 s of the run and catch nothing the four below do not.
    "last-fit": Expect(
        select="(test_recipe and not full-table) or test_permissions",
        caught={
            "header/recipe/golden-two-entry": FAILED,
            "header/recipe/first-fit-prefers-earliest-gap": FAILED,
            "header/recipe/gap-before-first-entry": FAILED,
            "header/recipe/exact-fill": FAILED,
        },
        passes=("header/recipe/empty", "header/recipe/no-gap", "header/permissions-0600"),
        says={"header/recipe/golden-two-entry": "ALLOC-1", "header/recipe/first-fit-prefers-earliest-gap": "ALLOC-1"},
    ),
    # Only dictionary-framed writes change; stream-framed writes and reading golden regions do not.
    # The cross case is one per batch: the pair's dictionary batch fails, its stream batch still passes.
    "eos-in-dict-framing": Expect(
        select=f"({WRITE_DICT}) or (test_read_golden and dict-int8)"
        " or (write_then_resolve and (dict-int8 or signed-ints))",
        caught={
            "framing/write/dict-int8-utf8": FAILED,
            "framing/write/dict-two-columns": FAILED,
            "cross/write-then-resolve/dict-int8-utf8": FAILED,
        },
        passes=(
            "framing/write/signed-ints",
            "framing/write/floats",
            "framing/read-golden/dict-int8-utf8",
            "cross/write-then-resolve/signed-ints",
        ),
        says={"framing/write/dict-int8-utf8": "EOS", "framing/write/dict-two-columns": "FRAME-3"},
    ),
    "schema-in-dict-framing": Expect(
        select=f"({WRITE_DICT}) or (test_read_golden and dict-int8)",
        caught={"framing/write/dict-int8-utf8": FAILED, "framing/write/dict-two-columns": FAILED},
        passes=("framing/write/signed-ints", "framing/write/floats", "framing/read-golden/dict-int8-utf8"),
        says={"framing/write/dict-int8-utf8": "schema message", "framing/write/dict-two-columns": "FRAME-3"},
    ),
    # make_pointer's offset is always written in hex (even 65536 -> "10000"); maybe_write's pointer too. A
    # zero-row batch is never written, a batch that does not fit gets no pointer, resolving parses only.
    "hex-pointer-offsets": Expect(
        select="(make_pointer or maybe_write or resolve_metadata) and not then",
        caught={
            **{
                f"pointer/make-pointer/{schema}/{at}": FAILED
                for schema in ("signed-ints", "dict-int8-utf8", "unions")
                for at in ("(65536,1)", "(123456789012,4096)", "(18446744073709551615,9223372036854775808)")
            },
            "pointer/maybe-write-pointer": FAILED,
        },
        passes=(
            "pointer/maybe-write-zero-rows",
            "pointer/maybe-write-does-not-fit",
            "pointer/resolve-metadata/signed-ints",
        ),
        says={"pointer/make-pointer/signed-ints/(65536,1)": "PTR-2"},
    ),
    # Only the magic check is gone: every other rejected header is still rejected.
    "magic-not-validated": Expect(
        select=(
            "attach-bad-magic-one-byte or attach-version-0 or attach-version-2 or attach-data-size-plus-one"
            " or attach-num-allocs-4095 or test_attach_rejects_small_object"
        ),
        caught={"adversarial/case/headers/attach-bad-magic-one-byte": FAILED},
        passes=(
            "adversarial/case/headers/attach-version-0",
            "adversarial/case/headers/attach-version-2",
            "adversarial/case/headers/attach-data-size-plus-one",
            "adversarial/case/headers/attach-num-allocs-4095",
            "lifecycle/attach-rejects-small-object/100",
        ),
        says={"adversarial/case/headers/attach-bad-magic-one-byte": "(attach, answered ok); expected bad_header"},
    ),
    # The reported region and the table are right; one canary byte just past the entry is not.
    "write-past-entry": Expect(
        select="(test_write and not then and (signed-ints or strings or dict-int8)) or (test_read_golden and signed)",
        caught={
            "framing/write/signed-ints": FAILED,
            "framing/write/strings": FAILED,
            "framing/write/dict-int8-utf8": FAILED,
        },
        passes=("framing/read-golden/signed-ints",),
        says={
            "framing/write/signed-ints": "WRITE-3",
            "framing/write/strings": "WRITE-3",
            "framing/write/dict-int8-utf8": "WRITE-3",
        },
    ),
    # The bytes past the entry become 0xA5 or a copy of themselves shifted by one: the canary is a keyed hash
    # of each word's position, so neither reads as canary (a uniform 0xA5 canary passed both). Table-only
    # operations write no data and still pass.
    **{
        defect: Expect(
            select="(test_write and not then and (signed-ints or strings)) or contained-write or unsorted-write"
            " or test_table_ops_never_touch_data",
            caught={
                "framing/write/signed-ints": FAILED,
                "framing/write/strings": FAILED,
                "adversarial/case/tables/contained-write": FAILED,
                "adversarial/case/tables/unsorted-write": FAILED,
            },
            passes=("allocator/table-ops-never-touch-data",),
            says={
                "framing/write/signed-ints": "WRITE-3",
                "adversarial/case/tables/unsorted-write": "outside its own entry",
            },
        )
        for defect in ("old-canary-past-entry", "shifted-copy-past-entry")
    },
    # Resolve reads the stream from the offset to the segment's end, unvalidated: a region cut inside its last
    # body decodes with the canary that follows it, which the harness finds in the answered batch (ERR-2). Whole
    # regions decode as before.
    "reads-past-region": Expect(
        select="stream-truncated or (test_resolve and signed-ints)",
        caught={"adversarial/case/regions/stream-truncated-in-body-of-message-1": "read outside its region"},
        passes=(
            "adversarial/case/regions/stream-truncated-in-prefix-of-message-0",
            "adversarial/case/regions/stream-truncated-in-metadata-of-message-1",
        ),
        says={"adversarial/case/regions/stream-truncated-in-body-of-message-1": "canary of segment offset"},
    ),
    # attach still refuses every num_allocs > 4,094 but zeroes data bytes first: the data check runs for every
    # over-capacity header the corpus plants; a full valid table (4,094) is not touched.
    "scrub-data-on-over-capacity-attach": Expect(
        select="attach-num-allocs",
        caught={f"adversarial/case/headers/attach-num-allocs-{n}": FAILED for n in ("4095", "4096", "5000", "max")},
        passes=("adversarial/case/headers/attach-num-allocs-4094",),
        says={"adversarial/case/headers/attach-num-allocs-4095": "wrote data byte 65536"},
    ),
    # Every write dies (each restarted process dies on its own first write); cases without one still pass.
    # A crash in a case of the recommended tier is a crash, not a warning.
    "crash": Expect(
        select="(test_write and not then and (signed-ints or floats)) or golden-two-entry or test_create_initializes",
        caught={
            "framing/write/signed-ints": CRASH,
            "framing/write/floats": CRASH,
            "framing/write-byte-exact/floats": CRASH,
        },
        passes=("header/recipe/golden-two-entry", "header/create-initializes/65537"),
        says={"framing/write/signed-ints": "exited with status 3 during write"},
        restarts=True,
    ),
    # Stream-framed regions carry the writer's own schema metadata: valid and decoded equal, so every MUST
    # holds, but not the golden bytes (FRAME-9, a SHOULD): a warning, and the run passes. A dictionary-framed
    # region has no schema message, so its bytes stay golden.
    "schema-metadata-in-region": Expect(
        select="test_write and not then and (signed-ints or dict-int8)",
        caught={"framing/write-byte-exact/signed-ints": "recommended not met"},
        passes=("framing/write/signed-ints", "framing/write/dict-int8-utf8", "framing/write-byte-exact/dict-int8-utf8"),
        says={"framing/write-byte-exact/signed-ints": "byte-exact (FRAME-9)"},
        exit_status=0,
    ),
    # The session's first write dies and no later one does, so hypothesis finds the stateful machine's failure
    # flaky; the outcome is still the peer's crash, not a harness error. Cases without a write still pass.
    "crash-once": Expect(
        select="test_machine or test_create_initializes",
        caught={"stateful/machine": CRASH},
        passes=("header/create-initializes/65537", "header/create-initializes/69632"),
        says={"stateful/machine": "exited with status 3 during write"},
        restarts=True,
    ),
    # The recipe's first allocate never returns: a timeout, then the cases after it (test_header.py runs
    # test_recipe first) pass on a restarted peer.
    "hang": Expect(
        select="golden-two-entry or test_create_initializes or test_permissions",
        caught={"header/recipe/golden-two-entry": TIMEOUT},
        passes=(
            "header/create-initializes/65537",
            "header/create-initializes/69632",
            "header/create-initializes/1065536",
            "header/permissions-0600",
        ),
        says={"header/recipe/golden-two-entry": "no answer to allocate"},
        restarts=True,
    ),
    # The recipe reads the header through the peer at its end; create-initializes reads it from the harness.
    "garbage": Expect(
        select="golden-two-entry or test_create_initializes or bad-magic",
        caught={"header/recipe/golden-two-entry": CRASH},
        passes=("header/create-initializes/65537", "adversarial/case/headers/attach-bad-magic-one-byte"),
        says={"header/recipe/golden-two-entry": "non-JSON line in answer to header"},
        restarts=True,
    ),
    # Both recipes free an entry; create-initializes never frees.
    "wrong-id": Expect(
        select="free-then-coalesced-gap or golden-two-entry or test_create_initializes",
        caught={"header/recipe/golden-two-entry": CRASH, "header/recipe/free-then-coalesced-gap": CRASH},
        passes=("header/create-initializes/65537", "header/create-initializes/1065536"),
        says={"header/recipe/golden-two-entry": "(free) with id"},
        restarts=True,
    ),
}


@dataclass
class Run:
    """One finished conformance run against a broken peer."""

    returncode: int
    output: str
    cases: dict[str, dict[str, Any]]
    report: dict[str, Any]
    harness_pid: int
    peer_pids: set[int]
    touched: set[str]

    def outcome(self, case_id: str) -> str:
        assert case_id in self.cases, f"{case_id} did not run; ran {sorted(self.cases)}\n{self.output[-3000:]}"
        return str(self.cases[case_id]["outcome"])


def modules_of(case_ids: Iterable[str]) -> list[str]:
    """The suite's modules that hold these cases: a case ID's group names its module (``header/...`` is
    conformance/cases/test_header.py). Collecting only those spares a run the import of the rest."""
    modules = sorted({f"conformance/cases/test_{case_id.split('/')[0]}.py" for case_id in case_ids})
    missing = [m for m in modules if not (KIT / m).is_file()]
    assert not missing, f"no module of the suite for {missing}"
    return modules


def run_broken(defect: str, select: str, tmp: Path, *extra: str, paths: Sequence[str] = ("conformance",)) -> Run:
    """``pytest PATHS`` (the whole suite by default) against ``broken-<defect>``; waits for it, loads its report."""
    log = tmp / "segments.log"
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(PEER))} --defect {defect}"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "--peer-cmd",
        f"broken-{defect}={command}",
        "--peer-timeout",
        "3",
        "--report-dir",
        str(tmp / "report"),
        "-k",
        select,
        *extra,
    ]
    env = {**os.environ, "VGIS_BROKEN_SEGMENT_LOG": str(log)}
    env.pop("PYTEST_XDIST_WORKER", None)  # the inner run is its own session ("main"), not a worker of ours
    proc = subprocess.Popen(argv, cwd=KIT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"conformance run against broken-{defect} did not finish in {RUN_TIMEOUT}s:\n{output[-3000:]}")
    path = tmp / "report" / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{output[-3000:]}"
    report = json.loads(path.read_text())
    lines = log.read_text().split() if log.exists() else []
    return Run(
        returncode=proc.returncode,
        output=output,
        report=report,
        cases={c["case_id"]: c for c in report["cases"]},
        harness_pid=proc.pid,
        peer_pids={int(p) for p in lines[0::2]},
        touched=set(lines[1::2]),
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def assert_clean(run: Run) -> None:
    """Nothing of the run is left: no segment in /dev/shm, no peer process."""
    prefix = f"vgis-main-{run.harness_pid}-"
    left = sorted(n for n in os.listdir(SHM) if n.startswith(prefix))
    left += sorted(n.lstrip("/") for n in run.touched if (SHM / n.lstrip("/")).exists() and n.lstrip("/") not in left)
    assert not left, f"the run left segments in /dev/shm: {left}"
    running = sorted(p for p in run.peer_pids if alive(p))
    assert not running, f"broken peer processes still running after the run: {running}"


@pytest.mark.parametrize("defect", list(EXPECT))
def test_suite_catches_defect(defect: str, tmp_path: Path) -> None:
    expect = EXPECT[defect]
    named = [*expect.caught, *expect.passes, *expect.says]
    run = run_broken(defect, expect.select, tmp_path, paths=modules_of(named))
    assert run.returncode == expect.exit_status, (
        f"exit status {run.returncode}, expected {expect.exit_status}:\n{run.output[-3000:]}"
    )
    assert [p["name"] for p in run.report["peers"]] == [f"broken-{defect}"]
    for case_id, outcome in expect.caught.items():
        got = run.outcome(case_id)
        assert got == outcome, f"{case_id}: {got}, expected {outcome}: {run.cases[case_id]['message']}"
        replay = run.cases[case_id]["replay"]
        roles = len(run.cases[case_id]["peers"])  # a pair case (producer, consumer) names the peer twice
        assert replay and replay["peers"] == [f"broken-{defect}"] * roles, f"{case_id} has no replay recipe"
    for case_id, text in expect.says.items():
        message = run.cases[case_id]["message"]
        assert text in message, f"{case_id}: message lacks {text!r}: {message}"
    for case_id in expect.passes:
        got = run.outcome(case_id)
        assert got == PASSED, f"{case_id} (unrelated to {defect}): {got}: {run.cases[case_id]['message']}"
    bad = {c for c, r in run.cases.items() if r["outcome"] not in (PASSED, NOT_APPLICABLE)}
    assert bad >= set(expect.caught), bad
    if expect.restarts:
        assert len(run.peer_pids) >= 2, f"the peer was never restarted: pids {run.peer_pids}"
    assert_clean(run)


def test_broken_peers_cover_every_defect() -> None:
    """Every defect the broken peer offers has an expectation here, and the reverse."""
    out = subprocess.run([sys.executable, str(PEER), "--help"], capture_output=True, text=True, check=True).stdout
    for defect in EXPECT:
        assert defect in out, defect
    hello = subprocess.run(
        [sys.executable, str(PEER), "--defect", "crash"],
        input='{"id": 1, "op": "hello"}\n',
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    reference = subprocess.run(
        [sys.executable, str(KIT / "peers" / "python-reference" / "peer.py")],
        input='{"id": 1, "op": "hello"}\n',
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    mine, theirs = json.loads(hello.splitlines()[0]), json.loads(reference.splitlines()[0])
    assert mine["name"] == "broken-crash"
    assert mine["capabilities"] == theirs["capabilities"]


KF_SELECT = "attach-bad-magic-one-byte or attach-version-0"


def test_empty_known_failures_hide_nothing(tmp_path: Path) -> None:
    """An empty known-failures file does not turn the broken peer's failure into anything else."""
    empty = tmp_path / "known-failures.txt"
    empty.write_text("# nothing is known to fail\n")
    run = run_broken(
        "magic-not-validated",
        KF_SELECT,
        tmp_path,
        "--known-failures",
        f"broken-magic-not-validated={empty}",
        paths=modules_of(["adversarial/"]),
    )
    assert run.returncode == 1, run.output[-3000:]
    assert run.outcome("adversarial/case/headers/attach-bad-magic-one-byte") == FAILED
    assert run.outcome("adversarial/case/headers/attach-version-0") == PASSED
    assert_clean(run)


def test_known_failure_that_passes_is_unexpected_pass(tmp_path: Path) -> None:
    """Listing a case the broken peer passes fails the run as an unexpected pass; its real failure is expected."""
    listed = tmp_path / "known-failures.txt"
    listed.write_text(
        "adversarial/case/headers/attach-version-0  listed although the peer checks the version\n"
        "adversarial/case/headers/attach-bad-magic-one-byte  the peer skips the magic check\n"
    )
    run = run_broken(
        "magic-not-validated",
        KF_SELECT,
        tmp_path,
        "--known-failures",
        f"broken-magic-not-validated={listed}",
        paths=modules_of(["adversarial/"]),
    )
    assert run.returncode == 1, run.output[-3000:]
    assert run.outcome("adversarial/case/headers/attach-version-0") == UNEXPECTED_PASS
    assert run.outcome("adversarial/case/headers/attach-bad-magic-one-byte") == EXPECTED_FAILURE
    assert_clean(run)
