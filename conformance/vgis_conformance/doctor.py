"""``vgis-conformance doctor``: a new peer's first check, step by step, before the full suite.

The suite reports hundreds of cases at once; an implementer starting out
needs the one thing to fix next. Doctor runs a short chain of named steps in
the order a peer is usually written (handshake, create, attach, allocate,
write, resolve, close and unlink), prints ``ok``, ``FAIL`` or ``skip`` for
each, and on failure names the spec clauses (docs/SPEC.md) and the section
of docs/peer-protocol.md to read. A failed step skips the steps that need
it, so the first FAIL is the one to look at.

Exit status: 0 when no step failed and every required step ran; 1 when a
step failed; 3 when nothing failed but a required operation answered
``unsupported`` (a peer still being written). ``--handshake-only`` stops
after the handshake, which a fresh ``new-peer`` template passes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgis.header import HEADER_SIZE, MAGIC, VERSION
from vgis.pointer import LENGTH_KEY, OFFSET_KEY, SOURCE_KEY, empty_batch
from vgis_conformance import memory
from vgis_conformance.builder import PeerUnavailable
from vgis_conformance.checks import check_write
from vgis_conformance.fixtures import IpcCase, ipc_cases
from vgis_conformance.kit import Seg
from vgis_conformance.manifest import Manifest
from vgis_conformance.peer import Peer, load_batch, save_batch, segment_name
from vgis_conformance.protocol import Json, PeerError, PeerFailure

SEGMENT_SIZE = HEADER_SIZE + (1 << 20)
FRAMINGS = {"stream": "signed-ints", "dictionary": "dict-int8-utf8"}
"""The golden fixture (fixtures/ipc) used for each framing: small, and every Arrow library reads them."""
FIXTURE_FRAMING = {"stream": "stream", "dictionary": "messages"}

OK, FAIL, SKIP = "ok", "FAIL", "skip"
EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3


class StepFailed(Exception):
    """A step's check did not hold; the message says what was seen."""


class NotImplementedYet(Exception):
    """The peer answered ``unsupported`` to a required operation."""


@dataclass
class State:
    """What the steps share: the peer, the segment it created, and the harness's view of it."""

    peer: Peer
    workdir: Path
    seg: Seg | None = None
    attached: str | None = None
    files: int = 0

    def file(self, stem: str) -> Path:
        """A fresh path in the doctor's temporary folder."""
        self.files += 1
        return self.workdir / f"{stem}-{self.files}.arrows"

    @property
    def segment(self) -> Seg:
        """The created segment; steps that use it depend on ``create``."""
        assert self.seg is not None
        return self.seg

    def handle(self) -> str:
        """The creator's handle."""
        return self.segment.handles[self.peer.name]


@dataclass(frozen=True)
class Step:
    """One named check: what it exercises, where to read about it, and what it needs first."""

    key: str
    title: str
    run: Callable[[State], str]
    clauses: tuple[str, ...] = ()
    section: str = "Operations"
    needs: tuple[str, ...] = ()
    capability: str | None = None


@dataclass
class Result:
    """The outcome of one step as printed."""

    step: Step
    status: str
    detail: str
    not_implemented: bool = False


@dataclass
class Report:
    """Every step's result, in order."""

    results: list[Result] = field(default_factory=list)
    capabilities: frozenset[str] = frozenset()

    def status_of(self, key: str) -> str | None:
        """The status of the step ``key``, or None before it ran."""
        return next((r.status for r in self.results if r.step.key == key), None)

    def exit_status(self) -> int:
        """1 if a step failed, 3 if a required step is not implemented yet, else 0."""
        if any(r.status == FAIL for r in self.results):
            return EXIT_FAILED
        if any(r.not_implemented for r in self.results):
            return EXIT_INCOMPLETE
        return EXIT_OK


def call(state: State, op: str, **args: Any) -> Json:
    """A request whose ``unsupported`` answer means the peer has not got that far, and any other error fails."""
    try:
        return state.peer.call(op, **args)
    except PeerError as exc:
        if exc.kind == "unsupported":
            raise NotImplementedYet(f"not implemented yet ({op} answered unsupported: {exc.message})") from None
        raise StepFailed(f"{op} answered {exc.kind}: {exc.message}") from None


def check(condition: bool, message: str) -> None:
    """Fail the step with ``message`` unless ``condition``."""
    if not condition:
        raise StepFailed(message)


# --- the steps ---------------------------------------------------------------------------------------------


def step_handshake(state: State) -> str:
    """Start the peer (building it first) and check what ``hello`` says; ``Peer.start`` checks the manifest."""
    try:
        state.peer.start()
    except PeerUnavailable as exc:
        raise StepFailed(f"cannot build or start the peer: {exc}") from exc
    info = state.peer.info
    language = info.get("language")
    check(isinstance(language, str) and bool(language), f"hello lacks a language (got {language!r})")
    check(info.get("protocol") == 1, f"hello says protocol {info.get('protocol')!r}, expected 1")
    arrow = info.get("arrow")
    if not isinstance(arrow, dict) or "library" not in arrow:
        raise StepFailed(f"hello's arrow is not {{library, version}}: {arrow!r}")
    caps = sorted(state.peer.capabilities)
    return (
        f"{info['name']} {info['version']}, language {language}, arrow {arrow.get('library')} "
        f"{arrow.get('version', '?')}, capabilities {caps or 'none'}"
    )


def step_create(state: State) -> str:
    """The peer creates a segment; the harness maps it and checks the fresh header byte by byte."""
    answer = call(state, "create", name=segment_name("doctor"), size=SEGMENT_SIZE)
    check({"segment", "name", "size"} <= answer.keys(), f"create result lacks segment/name/size: {answer}")
    name, size = str(answer["name"]), int(answer["size"])
    state.seg = Seg(name, size, {state.peer.name: str(answer["segment"])}, state.peer)
    check(memory.exists(name), f"create answered {answer} but {memory.shm_path(name)} does not exist")
    check(
        size == memory.shm_path(name).stat().st_size,
        f"create says size {size}, the object is {memory.shm_path(name).stat().st_size} bytes",
    )
    head = state.segment.map.header()
    expected = (MAGIC, VERSION, size - HEADER_SIZE, 0, 0)
    got = (head.magic, head.version, head.data_size, head.num_allocs, head.padding)
    check(
        got == expected, f"fresh header (magic, version, data_size, num_allocs, padding) is {got}, expected {expected}"
    )
    return f"{name}, {size} bytes, handle {answer['segment']}"


def step_attach(state: State) -> str:
    """The same peer attaches its segment by name: a second, independent handle that sees the same header."""
    seg = state.segment
    answer = call(state, "attach", name=seg.name, size=seg.size)
    check({"segment", "name", "size"} <= answer.keys(), f"attach result lacks segment/name/size: {answer}")
    state.attached = str(answer["segment"])
    check(state.attached != state.handle(), f"attach returned the creator's handle {state.attached!r}")
    check(int(answer["size"]) == seg.size, f"attach says size {answer['size']}, the segment is {seg.size}")
    shown = call(state, "header", segment=state.attached, length=24)
    expected = seg.map.header_bytes()[:24].hex()
    check(
        shown.get("hex") == expected,
        f"header through the second handle is {shown.get('hex')}, the segment holds {expected}",
    )
    return f"handle {state.attached}; its header matches the segment's"


def step_allocate(state: State) -> str:
    """First-fit allocate on the creator's handle; free through the second handle (same table, two mappings)."""
    seg = state.segment
    answer = call(state, "allocate", segment=state.handle(), size=100)
    offset = answer.get("offset")
    check(offset == HEADER_SIZE, f"allocate 100 on a fresh segment returned {offset}, expected {HEADER_SIZE}")
    entries = list(seg.map.header().entries)
    check(entries == [(HEADER_SIZE, 100)], f"after allocate the table is {entries}, expected [({HEADER_SIZE}, 100)]")
    call(state, "free", segment=state.attached or state.handle(), offset=offset)
    entries = list(seg.map.header().entries)
    check(not entries, f"after free the table is {entries}, expected empty")
    return f"allocate 100 -> {offset}, free -> empty table"


def _free(state: State, offset: int) -> None:
    """Free through the peer when it can, else with the reference allocator (as the cases do)."""
    if "allocate" in state.peer.capabilities:
        call(state, "free", segment=state.handle(), offset=offset)
    else:
        state.segment.map.free(offset)


def _golden(framing: str) -> IpcCase:
    cases = {c.name: c for c in ipc_cases()}
    case = cases[FRAMINGS[framing]]
    assert case.framing == FIXTURE_FRAMING[framing], case
    return case


def step_write(state: State) -> str:
    """The peer's own write path, one batch of each framing, checked byte by byte by the harness."""
    seg = state.segment
    lines = []
    for framing in FRAMINGS:
        case = _golden(framing)
        seg.map.fill_data()
        before = list(seg.map.header().entries)
        answer = call(state, "write", segment=state.handle(), batch=str(case.arrows_path))
        try:
            check_write(seg, before, answer.get("offset"), answer.get("length"), case.batch, None)
        except AssertionError as exc:
            raise StepFailed(f"{framing} framing ({case.name}): {exc}") from None
        _free(state, int(answer["offset"]))
        lines.append(f"{framing} ({case.name}) at {answer['offset']}+{answer['length']}")
    return "; ".join(lines)


def resolve_step(framing: str) -> Callable[[State], str]:
    """A step that plants the golden region of ``framing`` with the reference and has the peer resolve it."""

    def run(state: State) -> str:
        seg = state.segment
        case = _golden(framing)
        offset = seg.map.place(case.region)
        if offset is None:
            raise StepFailed("the reference could not place the golden region (is the segment full?)")
        out = state.file("resolved")
        answer = call(
            state,
            "resolve",
            segment=state.handle(),
            batch=str(save_batch(state.file("pointer"), empty_batch(case.batch.schema))),
            metadata={OFFSET_KEY.decode(): str(offset), LENGTH_KEY.decode(): str(len(case.region))},
            out=str(out),
        )
        check(answer.get("pointer") is True, f"resolve says pointer={answer.get('pointer')!r} for a pointer batch")
        check(
            answer.get("release_offset") == offset,
            f"release_offset is {answer.get('release_offset')!r}, expected {offset} (PTR-6)",
        )
        source = {SOURCE_KEY.decode(): seg.name}
        check(
            answer.get("metadata") == source,
            f"metadata after resolve is {answer.get('metadata')}, expected {source} (PTR-5)",
        )
        try:
            batch = load_batch(out)
        except (OSError, ValueError, PeerFailure) as exc:
            raise StepFailed(f"the out file is not a batch file: {exc}") from None
        check(batch.equals(case.batch), f"resolved {case.name} to\n{batch}\nexpected (pyarrow)\n{case.batch}")
        _free(state, offset)
        return f"{case.name}: {len(case.region)} bytes at {offset} decode equal to pyarrow's"

    return run


def step_close_unlink(state: State) -> str:
    """Close every handle, then unlink through the creator's: the object must be gone from /dev/shm."""
    seg = state.segment
    if seg._mapping is not None:
        seg._mapping.close()
        seg._mapping = None
    if state.attached is not None:
        call(state, "close", segment=state.attached)
    call(state, "close", segment=state.handle())
    call(state, "unlink", segment=state.handle())
    state.peer.forget(seg.name)
    check(not memory.exists(seg.name), f"{memory.shm_path(seg.name)} still exists after unlink")
    return f"{seg.name} removed"


STEPS = (
    Step("1", "handshake", step_handshake, section="Transport; Operations (hello); Peer manifests"),
    Step("2", "create", step_create, ("LIFE-1", "LIFE-2", "LIFE-3", "HDR-1", "HDR-4"), needs=("1",)),
    Step(
        "3",
        "attach from a second handle",
        step_attach,
        ("LIFE-9", "HDR-1"),
        "Segment handles; Operations (attach, header)",
        needs=("2",),
    ),
    Step(
        "4",
        "allocate/free",
        step_allocate,
        ("ALLOC-1", "ALLOC-2", "ALLOC-5"),
        "Operations (optional: allocate)",
        needs=("2",),
        capability="allocate",
    ),
    Step(
        "5",
        "write",
        step_write,
        ("WRITE-1", "WRITE-3", "FRAME-1", "FRAME-2", "FRAME-3"),
        "Operations (write); Binary payloads are files",
        needs=("2",),
    ),
    Step(
        "6a",
        "resolve a golden region, stream framing",
        resolve_step("stream"),
        ("FRAME-1", "PTR-5", "PTR-6"),
        "Operations (resolve); Binary payloads are files",
        needs=("2",),
    ),
    Step(
        "6b",
        "resolve a golden region, dictionary framing",
        resolve_step("dictionary"),
        ("FRAME-3", "PTR-5", "PTR-6"),
        "Operations (resolve); Binary payloads are files",
        needs=("2",),
    ),
    Step("7", "close then unlink", step_close_unlink, ("LIFE-10",), "Operations (close, unlink)", needs=("2",)),
)


# --- running them ------------------------------------------------------------------------------------------


def _blocker(step: Step, report: Report, dead: str | None, handshake_only: bool) -> str | None:
    """Why ``step`` cannot run now, or None."""
    if dead is not None:
        return dead
    if handshake_only and step.needs:
        return "--handshake-only"
    if step.capability is not None and report.status_of("1") == OK and step.capability not in report.capabilities:
        return f"not declared (capability {step.capability!r})"
    for key in step.needs:
        if report.status_of(key) != OK:
            title = next(s.title for s in STEPS if s.key == key)
            return f"needs step {key} ({title})"
    return None


def _run_one(step: Step, state: State) -> Result:
    """Run one step and turn what it raised into a result."""
    try:
        return Result(step, OK, step.run(state))
    except NotImplementedYet as exc:
        if step.capability is not None:
            return Result(step, FAIL, f"the peer declares {step.capability!r}, but {exc}")
        return Result(step, SKIP, str(exc), not_implemented=True)
    except (StepFailed, PeerFailure) as exc:
        return Result(step, FAIL, str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        return Result(step, FAIL, f"malformed result: {type(exc).__name__}: {exc}")


def run_steps(state: State, handshake_only: bool = False, echo: Callable[[Result], None] | None = None) -> Report:
    """Every step in order; a failure skips its dependants, a dead peer skips the rest."""
    report = Report()
    dead: str | None = None
    for step in STEPS:
        why = _blocker(step, report, dead, handshake_only)
        result = Result(step, SKIP, why) if why is not None else _run_one(step, state)
        if step.key == "1" and result.status == OK:
            report.capabilities = state.peer.capabilities
        if result.status == FAIL and (state.peer.process is None or not state.peer.process.alive):
            dead = f"the peer is not running after step {step.key} failed"
        report.results.append(result)
        if echo is not None:
            echo(result)
    return report


def format_result(result: Result) -> str:
    """``ok   2 create: ...``, and for a FAIL the clauses and the protocol section to read."""
    step = result.step
    line = f"{result.status:<4} {step.key:<2} {step.title}: {result.detail}"
    if result.status == FAIL:
        clauses = ", ".join(step.clauses) or "no spec clause (protocol only)"
        line += f"\n       see docs/SPEC.md [{clauses}]; docs/peer-protocol.md section {step.section!r}"
    return line


def summary(report: Report) -> str:
    """One closing line that says what the exit status means."""
    counts = {s: sum(r.status == s for r in report.results) for s in (OK, FAIL, SKIP)}
    todo = sum(r.not_implemented for r in report.results)
    text = f"doctor: {counts[OK]} ok, {counts[FAIL]} FAIL, {counts[SKIP]} skip"
    if todo:
        text += f" ({todo} not implemented yet: the peer answered unsupported)"
    return text


def doctor(manifest: Manifest, timeout: float = 10.0, handshake_only: bool = False) -> int:
    """Run the steps against the peer ``manifest`` describes, print each, return the exit status."""
    with tempfile.TemporaryDirectory(prefix="vgis-doctor-") as tmp:
        peer = Peer(manifest, Path(tmp), timeout=timeout)
        state = State(peer, Path(tmp))
        try:
            report = run_steps(state, handshake_only, echo=lambda r: print(format_result(r), flush=True))
        finally:
            if state.seg is not None and state.seg._mapping is not None:
                state.seg._mapping.close()
            peer.stop()
            if state.seg is not None:
                memory.unlink(state.seg.name)
    print(summary(report))
    return report.exit_status()
