"""Witnesses: the proof behind each ``bug`` line of a known-failures file.

A port's maintainers trust an accusation they can reproduce. Every ``bug``
line names a witness in ``peers/<peer>/witnesses.toml``: the smallest case
that shows the behaviour when run alone, a regular expression its failure
message must match (the wrong answer the port gives), and the upstream
function the line is about. ``vgis-conformance known-failures --verify`` runs
every witness case on its peer, alone (``--case``), and fails when a case no
longer fails as its line claims: the port was fixed, or the line was wrong.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from vgis_conformance.layout import suite_argv
from vgis_conformance.manifest import Manifest
from vgis_conformance.outcomes import CATEGORIES, EXPECTED_FAILURE, KnownFailure, read_known_failures

WITNESSES_FILE = "witnesses.toml"


@dataclass(frozen=True)
class Witness:
    """One ``[name]`` table of a witnesses file."""

    name: str
    case: str
    shows: str
    about: str

    @property
    def case_id(self) -> str:
        """The case ID without a ``@producer``/``@consumer`` role."""
        return self.case.partition("@")[0]

    @property
    def role(self) -> str:
        """``producer``, ``consumer`` or empty: which side of a cross case the peer plays."""
        return self.case.partition("@")[2]


def witnesses_path(manifest: Manifest) -> Path:
    """Where a peer keeps its witnesses: beside its known-failures file."""
    return manifest.folder / WITNESSES_FILE


def read_witnesses(path: Path) -> dict[str, Witness]:
    """Every witness of a file (none when the file is missing); a malformed table raises ValueError."""
    if not path.exists():
        return {}
    out: dict[str, Witness] = {}
    for name, table in tomllib.loads(path.read_text()).items():
        missing = [k for k in ("case", "shows", "about") if not isinstance(table.get(k), str) or not table[k]]
        if missing:
            raise ValueError(f"{path}: witness {name!r} needs {missing} (strings)")
        out[name] = Witness(name, table["case"], table["shows"], table["about"])
    return out


def known_lines(manifest: Manifest) -> dict[str, KnownFailure]:
    """The peer's known failures as the run reads them (its release overlay included)."""
    overlay = manifest.release_known_failures
    return read_known_failures(manifest.known_failures, *([overlay] if overlay else []))


def lint(manifest: Manifest, *, require_categories: bool) -> list[str]:
    """What is wrong with a peer's lines and witnesses, without running anything.

    A bug line without a defined witness, a witness no line uses, a witness
    whose case the peer does not list, or a pattern that does not compile; and,
    with ``require_categories`` (every registered peer), a line without one.
    """
    try:
        witnesses = read_witnesses(witnesses_path(manifest))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        return [str(exc)]
    lines = known_lines(manifest)
    problems: list[str] = []
    used: set[str] = set()
    for case, line in sorted(lines.items()):
        if line.category is None:
            if require_categories:
                problems.append(f"{manifest.name}: {case}: no category ({', '.join(CATEGORIES)}) in {line.text!r}")
            continue
        if line.category == "bug":
            if line.witness is None:
                problems.append(f"{manifest.name}: {case}: a bug line names its witness: bug(<name>)")
            elif line.witness not in witnesses:
                problems.append(f"{manifest.name}: {case}: witness {line.witness!r} is not in {WITNESSES_FILE}")
            else:
                used.add(line.witness)
        elif line.witness is not None:
            problems.append(f"{manifest.name}: {case}: only a bug line names a witness")
    for name, witness in sorted(witnesses.items()):
        if name not in used:
            problems.append(f"{manifest.name}: witness {name!r} is named by no bug line")
        listed = lines.get(witness.case)
        if listed is None or listed.category != "bug":
            problems.append(f"{manifest.name}: witness {name!r}: its case {witness.case} is not a bug line of the peer")
        try:
            re.compile(witness.shows)
        except re.error as exc:
            problems.append(f"{manifest.name}: witness {name!r}: shows is not a regular expression ({exc})")
    return problems


def lint_overlays(manifest: Manifest) -> list[str]:
    """Every line of a peer's release overlays (``known-failures@VERSION.txt``) has a category.

    Witnesses are run against the default release only, so an overlay's bug
    line may name none; one it names must exist.
    """
    witnesses = read_witnesses(witnesses_path(manifest))
    problems: list[str] = []
    for overlay in sorted(manifest.folder.glob("known-failures@*.txt")):
        for case, line in sorted(read_known_failures(overlay).items()):
            if case.startswith("-"):
                continue
            if line.category is None:
                problems.append(f"{overlay.name}: {case}: no category ({', '.join(CATEGORIES)}) in {line.text!r}")
            elif line.witness is not None and line.witness not in witnesses:
                problems.append(f"{overlay.name}: {case}: witness {line.witness!r} is not in {WITNESSES_FILE}")
    return problems


def _run(manifests: list[Manifest], cases: list[str], report_dir: Path, jobs: str, extra: list[str]) -> int:
    argv = [*suite_argv(), "-q", "--report-dir", str(report_dir), *extra]
    if jobs != "0":
        argv += ["-n", jobs]
    for manifest in manifests:
        argv += ["--peer", manifest.name]
    for case in sorted(set(cases)):
        argv += ["--case", case]
    return subprocess.call(argv, stdout=subprocess.DEVNULL)


def check(witness: Witness, peer: str, results: list[dict[str, object]]) -> str:
    """Why ``witness`` no longer shows its claim in a run's results, or "" when it does."""
    mine = [r for r in results if r["case_id"] == witness.case_id and peer in r["peers"]]  # type: ignore[operator]
    if witness.role:
        mine = [r for r in mine if r["peers"][0 if witness.role == "producer" else 1] == peer]  # type: ignore[index]
    if not mine:
        return f"the run has no case {witness.case} for {peer}"
    for result in mine:
        if result["outcome"] != EXPECTED_FAILURE:
            return f"{witness.case} was {result['outcome']}, not an expected failure"
        if re.search(witness.shows, str(result["message"])) is None:
            first = (str(result["message"]).splitlines() or [""])[0][:200]
            return f"{witness.case} failed, but its message does not match {witness.shows!r}: {first}"
    return ""


def verify(
    manifests: list[Manifest], *, jobs: str = "2", report_dir: Path | None = None, extra: list[str] | None = None
) -> int:
    """Run every witness case on its peer and say, per witness, whether it still shows its line's claim."""
    problems = [p for m in manifests for p in lint(m, require_categories=True)]
    witnesses = {m.name: read_witnesses(witnesses_path(m)) for m in manifests if witnesses_path(m).exists()}
    cases = [w.case_id for per_peer in witnesses.values() for w in per_peer.values()]
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        where = report_dir or Path(tmp)
        if cases:
            _run([m for m in manifests if witnesses.get(m.name)], cases, where, jobs, extra or [])
            report = where / "report.json"
            if report.exists():
                results = json.loads(report.read_text())["cases"]
            else:
                problems.append(f"the witness run wrote no {report}")
    failed = 0
    for name, per_peer in sorted(witnesses.items()):
        for witness in per_peer.values():
            why = check(witness, name, results)
            print(f"{'FAIL' if why else 'ok  '} {name} {witness.name} ({witness.about}): {why or witness.case}")
            failed += bool(why)
    for problem in problems:
        print(f"problem: {problem}")
    print(
        f"witnesses: {len(cases) - failed} of {len(cases)} show their lines' claims; {len(problems)} other problem(s)"
    )
    return 1 if failed or problems else 0
