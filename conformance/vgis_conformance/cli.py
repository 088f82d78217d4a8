"""``vgis-conformance``: run the matrix, check a new peer, replay a failure, manage fixtures."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from vgis_conformance.layout import suite_argv
from vgis_conformance.manifest import Manifest, cache_root, lookup, parse_peer_cmd, registry
from vgis_conformance.outcomes import (
    EXPECTED_FAILURE,
    FAILED,
    UNEXPECTED_PASS,
    KnownFailure,
    read_known_failures,
    write_known_failures,
)
from vgis_conformance.sources import SourceError, add_source_argument, with_sources

DEFAULT_REPORT = "reports/report.json"  # relative to the folder the command runs in


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    """The main job: the conformance matrix over the default peers, reports in ./reports (or --report-dir)."""
    argv = [*suite_argv(), "-q"]
    if args.jobs != "0":
        argv += ["-n", args.jobs]
    if args.require_all_peers:
        argv.append("--require-all-peers")
    for name in args.peer:
        argv += ["--peer", name]
    for command in args.peer_cmd:
        argv += ["--peer-cmd", command]
    for known in args.known_failures:
        argv += ["--known-failures", known]
    for source in args.peer_source:
        argv += ["--peer-source", source]
    report_dir = Path(args.report_dir).resolve()
    passthrough = extra[1:] if extra[:1] == ["--"] else extra
    code = subprocess.call([*argv, "--report-dir", str(report_dir), *passthrough])
    print(f"[vgis-conformance] reports: {report_dir} (report.json, report.html, junit.xml)")
    return code


def _manifest(args: argparse.Namespace) -> Manifest:
    if args.peer_cmd:
        return parse_peer_cmd(args.peer_cmd)
    peers = registry()
    if args.peer.partition("@")[0] not in peers:
        raise SystemExit(f"unknown peer {args.peer!r}; registered: {sorted(peers)}")
    try:
        return with_sources([lookup(args.peer, peers)], args.peer_source)[0]
    except (SourceError, ValueError) as exc:
        raise SystemExit(str(exc)) from exc


def cmd_doctor(args: argparse.Namespace, extra: list[str]) -> int:
    """Check a peer step by step before the suite runs (vgis_conformance.doctor)."""
    from vgis_conformance.doctor import doctor
    from vgis_conformance.manifest import load

    manifest = load(Path(args.peer_dir).resolve() / "peer.toml") if args.peer_dir else _manifest(args)
    return doctor(manifest, timeout=args.timeout, handshake_only=args.handshake_only)


def cmd_new_peer(args: argparse.Namespace, extra: list[str]) -> int:
    """Write a peer template (vgis_conformance.new_peer)."""
    from vgis_conformance.new_peer import new_peer

    return new_peer(args.lang, Path(args.dir), name=args.name, force=args.force)


def cmd_replay(args: argparse.Namespace, extra: list[str]) -> int:
    """Send a failed case's recorded requests to fresh peers and print every answer."""
    from vgis_conformance.peer import Peer
    from vgis_conformance.protocol import PeerError, PeerFailure

    data = json.loads(Path(args.report).read_text())
    matches = [
        c
        for c in data["cases"]
        if c["case_id"] == args.case and (not args.peers or c["peers"] == args.peers.split(","))
    ]
    if not matches or not matches[0].get("replay"):
        print(f"no replay recipe for {args.case} in {args.report}")
        return 2
    recipe = matches[0]["replay"]
    print(f"header at failure: {recipe.get('header_hex')}")
    peers = {**registry(), **{m.name: m for m in map(parse_peer_cmd, args.peer_cmd)}}
    unknown = sorted(set(recipe["requests"]) - set(peers))
    if unknown:
        print(f"peer(s) {unknown} are not registered: give each as --peer-cmd NAME=CMD")
        return 2
    for name, requests in recipe["requests"].items():
        with tempfile.TemporaryDirectory() as tmp:
            peer = Peer(peers[name], Path(tmp))
            try:
                for req in requests:
                    args_ = {k: v for k, v in req.items() if k not in ("id", "op")}
                    try:
                        answer = peer.call(req["op"], **args_)
                        print(f"{name} {req['op']} {json.dumps(args_)}\n  -> {json.dumps(answer)}")
                    except PeerError as exc:
                        print(f"{name} {req['op']} {json.dumps(args_)}\n  -> ERROR {exc.kind}: {exc.message}")
            except PeerFailure as exc:
                print(f"{name}: {exc}")
            finally:
                peer.stop()
    return 0


def cmd_known_failures(args: argparse.Namespace, extra: list[str]) -> int:
    """Rewrite known-failures files from a report (add new failures, drop what now passes), or verify witnesses."""
    if args.verify:
        return _verify_witnesses(args, extra)
    data = json.loads(Path(args.report).read_text())
    files = {m.name: m.known_failures or m.folder / "known-failures.txt" for m in registry().values()}
    if args.file:
        if len(args.peer) != 1:
            raise SystemExit("--file PATH needs exactly one --peer NAME (registered or --peer-cmd)")
        files[args.peer[0]] = Path(args.file)
    by_peer: dict[str, dict[str, KnownFailure]] = {}
    outcome = {(c["case_id"], tuple(c["peers"])): c["outcome"] for c in data["cases"]}
    for case in data["cases"]:
        names = case["peers"]
        roles = ["producer", "consumer"] if len(names) == 2 else [""]
        for name, role in zip(names, roles):
            if name not in files or (args.peer and name not in args.peer):
                continue
            key = f"{case['case_id']}@{role}" if role else case["case_id"]
            if role and outcome.get((case["case_id"], (name, name))) not in (FAILED, EXPECTED_FAILURE):
                continue
            listed = by_peer.setdefault(name, dict(read_known_failures(files[name])))
            if case["outcome"] == UNEXPECTED_PASS:
                listed.pop(key, None)
                listed.pop(case["case_id"], None)
            elif case["outcome"] == FAILED and key not in listed:
                first = (case["message"].strip().splitlines() or ["failed"])[0]
                listed[key] = KnownFailure.parse(f"TODO categorise and explain: {first[:120]}")
    if not by_peer:
        wanted = ", ".join(args.peer) if args.peer else "any registered peer"
        in_report = sorted({n for c in data["cases"] for n in c["peers"]})
        print(
            f"{args.report} has no case of {wanted} (it has {in_report}); an unregistered peer needs "
            "--peer NAME --file PATH: nothing written"
        )
        return 1
    for name, entries in sorted(by_peer.items()):
        path = files[name]
        if args.rewrite:
            write_known_failures(path, entries, name)
            print(f"rewrote {path} ({len(entries)} cases)")
        else:
            print(f"{name}: {len(entries)} known failures (use --rewrite to write {path})")
    return 0


def _verify_witnesses(args: argparse.Namespace, extra: list[str]) -> int:
    """``known-failures --verify``: every registered peer with known failures, or the ``--peer``s."""
    from vgis_conformance.witnesses import known_lines, verify

    peers = registry()
    unknown = [n for n in args.peer if n.partition("@")[0] not in peers]
    if unknown:
        raise SystemExit(f"unknown peer(s) {unknown}; registered: {sorted(peers)}")
    chosen = [lookup(n, peers) for n in args.peer] or [m for m in peers.values() if known_lines(m)]
    try:
        chosen = with_sources(chosen, args.peer_source)
    except (SourceError, ValueError) as exc:
        raise SystemExit(str(exc)) from exc
    passthrough = [f"--peer-source={s}" for s in args.peer_source] + (extra[1:] if extra[:1] == ["--"] else extra)
    report_dir = Path(args.report_dir).resolve() if args.report_dir else None
    return verify(chosen, jobs=args.jobs, report_dir=report_dir, extra=passthrough)


def cmd_cache(args: argparse.Namespace, extra: list[str]) -> int:
    """List the peers built in the cache (``VGIS_CACHE_DIR``), or remove them."""
    root = cache_root()
    builds = sorted(p for p in (root / "build").glob("*") if p.is_dir())
    if args.action == "clean":
        shutil.rmtree(root, ignore_errors=True)
        print(f"removed {root} ({len(builds)} peer builds)")
        return 0
    print(f"cache: {root}")
    for folder in builds:
        stamp = folder / ".build-stamp"
        state = f"built, key {stamp.read_text().strip()[:12]}" if stamp.exists() else "not built"
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
        print(f"  {folder.name:<28} {size / 2**20:9.1f} MiB  {state}")
    return 0


def cmd_fixtures(args: argparse.Namespace, extra: list[str]) -> int:
    """Regenerate, check or adopt fixtures (vgis_conformance.fixtures.command)."""
    from vgis_conformance.fixtures.command import run

    if extra:
        print(f"vgis-conformance fixtures: unrecognized arguments: {' '.join(extra)}")
        return 2
    return run(args)


def cmd_bench(args: argparse.Namespace, extra: list[str]) -> int:
    """Throughput of the peers' write and resolve paths against memcpy and a pipe; the harness's own speed."""
    from vgis_conformance import bench

    return bench.main(args, extra)


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and its options (the docs' commands are checked against it, tests/test_ci_docs.py)."""
    parser = argparse.ArgumentParser(prog="vgis-conformance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="build the peers and run the conformance matrix (extra args go to pytest)")
    run.add_argument("--peer", action="append", default=[])
    run.add_argument(
        "--peer-cmd",
        action="append",
        default=[],
        metavar="[NAME=]CMD",
        help="an unregistered peer: the command that starts it (repeatable)",
    )
    run.add_argument(
        "--known-failures",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="the known-failures list of a --peer-cmd peer",
    )
    run.add_argument("--require-all-peers", action="store_true")
    run.add_argument("-n", "--jobs", default="auto", help="xdist workers (0: serial)")
    run.add_argument("--report-dir", default="reports", help="where the reports go (default: ./reports)")
    add_source_argument(run)
    doctor = sub.add_parser(
        "doctor",
        help="check a new peer step by step: handshake, create, attach, allocate, "
        "write, resolve, close and unlink (exit 0 ok, 1 a step failed, 3 not implemented yet)",
    )
    group = doctor.add_mutually_exclusive_group(required=True)
    group.add_argument("--peer-cmd")
    group.add_argument("--peer")
    group.add_argument("--peer-dir", help="a folder with a peer.toml (a new-peer template): built, then checked")
    doctor.add_argument("--timeout", type=float, default=10.0)
    doctor.add_argument("--handshake-only", action="store_true", help="stop after the handshake step")
    add_source_argument(doctor)
    from vgis_conformance.new_peer import LANGUAGES

    new = sub.add_parser("new-peer", help="write a peer template that answers hello and shutdown")
    new.add_argument("--lang", required=True, choices=LANGUAGES)
    new.add_argument("--name", help="the peer's name in peer.toml and hello (default: the folder's name)")
    new.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    new.add_argument("dir")
    replay = sub.add_parser("replay", help="re-run a failed case's requests from a report")
    replay.add_argument("--report", default=str(DEFAULT_REPORT))
    replay.add_argument("--case", required=True)
    replay.add_argument("--peers", default="")
    replay.add_argument(
        "--peer-cmd",
        action="append",
        default=[],
        metavar="NAME=CMD",
        help="an unregistered peer of the report, as it was given to the run (repeatable)",
    )
    known = sub.add_parser("known-failures", help="update known-failures files from a report")
    known.add_argument("--report", default=str(DEFAULT_REPORT))
    known.add_argument("--peer", action="append", default=[])
    known.add_argument("--rewrite", action="store_true")
    known.add_argument("--file", help="the known-failures file of the one --peer (needed for a --peer-cmd peer)")
    known.add_argument(
        "--verify",
        action="store_true",
        help="run every bug line's witness (peers/<peer>/witnesses.toml) alone on its peer and fail "
        "when one no longer shows its claim; also lints categories and witnesses",
    )
    known.add_argument("-n", "--jobs", default="2", help="xdist workers for --verify (0: serial)")
    known.add_argument("--report-dir", help="keep the --verify run's reports here")
    add_source_argument(known)
    cache = sub.add_parser("cache", help="list or remove the peers built in the cache (VGIS_CACHE_DIR)")
    cache.add_argument("action", choices=["list", "clean"])
    from vgis_conformance.fixtures.command import add_arguments as fixtures_arguments

    fixtures_arguments(sub.add_parser("fixtures", help="regenerate, check or adopt the golden fixtures"))
    from vgis_conformance.bench import add_arguments as bench_arguments

    bench_arguments(sub.add_parser("bench", help="throughput benchmarks (benchmarks/out/) and the harness's own speed"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vgis-conformance`` console script."""
    args, extra = build_parser().parse_known_args(argv)
    handlers = {
        "run": cmd_run,
        "doctor": cmd_doctor,
        "replay": cmd_replay,
        "known-failures": cmd_known_failures,
        "fixtures": cmd_fixtures,
        "bench": cmd_bench,
        "cache": cmd_cache,
        "new-peer": cmd_new_peer,
    }
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return handlers[args.command](args, extra)


if __name__ == "__main__":
    raise SystemExit(main())
