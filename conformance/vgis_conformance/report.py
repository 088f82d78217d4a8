"""Terminal matrices, the JSON report and the static HTML report (docs/reports.md)."""

from __future__ import annotations

import html
import json
import platform
import shlex
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vgis_conformance import sources
from vgis_conformance.manifest import Manifest
from vgis_conformance.outcomes import (
    BAD,
    CATEGORIES,
    EXPECTED_FAILURE,
    FAILED,
    NOT_APPLICABLE,
    OUTCOMES,
    PASSED,
    RECOMMENDED_NOT_MET,
    SHORT,
    UNAVAILABLE,
    UNEXPECTED_PASS,
    CaseResult,
)

REPORT_SCHEMA = "vgis-conformance-report/1"
KIT_VERSION = "0.1.0"
PEER_CMD_PREFIX = "--peer-cmd "


def _cell(results: Iterable[CaseResult]) -> str:
    counts = Counter(r.outcome for r in results)
    if not counts:
        return "-"
    bad = sum(n for o, n in counts.items() if o in BAD)
    ok = counts.get(PASSED, 0)
    parts = [f"{ok} ok"]
    if bad:
        parts.append(f"{bad} BAD")
    if counts.get(EXPECTED_FAILURE):
        parts.append(f"{counts[EXPECTED_FAILURE]} xf")
    if counts.get(NOT_APPLICABLE):
        parts.append(f"{counts[NOT_APPLICABLE]} n/a")
    if counts.get(RECOMMENDED_NOT_MET):
        parts.append(f"{counts[RECOMMENDED_NOT_MET]} warn")
    return " ".join(parts)


def _table(title: str, rows: list[str], cols: list[str], cell: dict[tuple[str, str], str]) -> list[str]:
    head = [title, *cols]
    body = [[r, *(cell.get((r, c), "-") for c in cols)] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*head), fmt.format(*("-" * w for w in widths)), *(fmt.format(*b) for b in body)]


def peer_group_matrix(results: list[CaseResult]) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    """Peers (rows) by case group (columns), single-peer cases only."""
    by: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for r in results:
        if len(r.peers) == 1:
            by[(r.peers[0], r.group)].append(r)
    peers = sorted({k[0] for k in by})
    groups = sorted({k[1] for k in by})
    return peers, groups, {k: _cell(v) for k, v in by.items()}


def pair_matrix(results: list[CaseResult]) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    """Producer (rows) by consumer (columns), cross-attach cases."""
    by: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for r in results:
        if len(r.peers) == 2:
            by[(r.peers[0], r.peers[1])].append(r)
    names = sorted({n for k in by for n in k})
    return names, names, {k: _cell(v) for k, v in by.items()}


def readable(message: str) -> str:
    """A case's message without the ``assert ...`` explanation pytest appends to an assertion's own message.

    The explanation repeats the message as a Python literal (``assert not
    'recipe no-gap: header differs...'``), which buries a field-by-field diff;
    a bare assertion, whose whole message is the explanation, is kept. The
    report.json keeps the message as it was.
    """
    lines = message.splitlines()
    cut = next((i for i, line in enumerate(lines) if i and line.startswith("assert ")), len(lines))
    return "\n".join(lines[:cut]) if lines and not lines[0].startswith("assert ") else message


def known_by_category(results: list[CaseResult]) -> dict[str, Counter[str]]:
    """Per peer, its expected failures by category: what the kit calls a defect of the port and what not."""
    out: dict[str, Counter[str]] = {}
    for r in results:
        for peer, line in r.known.items():
            out.setdefault(peer, Counter())[line.category or "uncategorised"] += 1
    return out


def _category_text(counts: Counter[str]) -> str:
    return ", ".join(f"{counts[c]} {c}" for c in (*CATEGORIES, "uncategorised") if counts[c])


def summary_lines(results: list[CaseResult], unavailable: dict[str, str]) -> list[str]:
    """What the terminal shows at the end of a run."""
    lines = ["", "=" * 30 + " VGIS conformance " + "=" * 30]
    for name, why in sorted(unavailable.items()):
        lines.append(f"!!! PEER UNAVAILABLE: {name}: {why}")
    counts = Counter(r.outcome for r in results)
    lines.append("outcomes: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o]))
    rows, cols, cells = peer_group_matrix(results)
    if rows:
        lines += ["", *_table("peer \\ group", rows, cols, cells)]
    rows, cols, cells = pair_matrix(results)
    if rows:
        lines += ["", *_table("producer \\ consumer", rows, cols, cells)]
    known = known_by_category(results)
    if known:
        lines += [
            "",
            "expected failures by category (bug: a defect of the port; policy: its choice; adapter: "
            "the adapter's limit):",
        ]
        lines += [f"  {peer}: {_category_text(counts)}" for peer, counts in sorted(known.items())]
    unreachable = Counter(p for r in results if r.outcome == UNAVAILABLE for p in r.peers if p in unavailable)
    bad = [r for r in results if r.outcome in BAD and r.outcome != UNAVAILABLE]
    if unreachable:
        lines += ["", "cases not run because a peer is unavailable (see !!! above):"]
        lines += [f"  {name}: {count} cases" for name, count in sorted(unreachable.items())]
    if bad:
        lines += ["", "problems:"]
        for r in sorted(bad, key=lambda r: (r.peers, r.case_id)):
            message = readable(r.message).strip().splitlines()
            first = message[0] if message else ""
            lines.append(f"  [{SHORT[r.outcome]}] {'->'.join(r.peers)} {r.case_id}: {first[:160]}")
            lines += [f"      {d.strip()[:160]}" for d in message[1:] if " @ byte " in d][:3]
    warned = [r for r in results if r.outcome == RECOMMENDED_NOT_MET]
    if warned:
        lines += ["", "recommended (SHOULD) not met: warnings, not failures:"]
        for r in sorted(warned, key=lambda r: (r.peers, r.case_id)):
            first = (readable(r.message).strip().splitlines() or [""])[0]
            lines.append(f"  [{SHORT[r.outcome]}] {'->'.join(r.peers)} {r.case_id}: {first[:160]}")
    if any(r.outcome in (UNEXPECTED_PASS, FAILED) for r in results):
        lines += [
            "",
            "to update the known-failures files from this run:",
            "  vgis-conformance known-failures --rewrite",
        ]
    return lines


def peer_lines(manifests: list[Manifest], peer_info: dict[str, Any], built_from: dict[str, Any]) -> list[str]:
    """One line per peer: the version its hello gave and what it was built from (registry or checkout)."""
    lines = ["peers:"]
    for m in manifests:
        info = peer_info.get(m.name, {})
        language = info.get("language") or m.language
        lines.append(f"  {m.name} ({language}) {info.get('version', '?')}: {sources.describe(built_from.get(m.name))}")
    return lines


def segment_totals(peer_info: dict[str, Any], left_in_dev_shm: list[str]) -> dict[str, int]:
    """The run's segment counts: created by peers, removed by the harness after a peer failed, left at the end."""
    return {
        "created": sum(int(i.get("segments_created", 0)) for i in peer_info.values()),
        "removed_after_failure": sum(int(i.get("segments_removed_after_failure", 0)) for i in peer_info.values()),
        "left_in_dev_shm": len(left_in_dev_shm),
    }


def write_reports(
    report_dir: Path,
    results: list[CaseResult],
    *,
    manifests: list[Manifest],
    unavailable: dict[str, str],
    started: float,
    known_files: dict[str, Path | None],
    peer_info: dict[str, Any],
    left_in_dev_shm: list[str] | None = None,
    built_from: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write report.json and report.html; returns their paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    peers = []
    for m in manifests:
        info = peer_info.get(m.name, {})
        peers.append(
            {
                "name": m.name,
                "language": info.get("language") or m.language,
                "version": info.get("version"),
                "built_from": (built_from or {}).get(m.name),
                "arrow": info.get("arrow"),
                "capabilities": info.get("capabilities"),
                "available": m.name not in unavailable,
                "unavailable_reason": unavailable.get(m.name),
                "known_failures_file": str(known_files.get(m.name)) if known_files.get(m.name) else None,
                "restarts": info.get("restarts", 0),
                "segments_created": info.get("segments_created", 0),
                "segments_removed_after_failure": info.get("segments_removed_after_failure", 0),
                "peer_cmd": m.description.removeprefix(PEER_CMD_PREFIX)
                if m.description.startswith(PEER_CMD_PREFIX)
                else None,
            }
        )
    data = {
        "schema": REPORT_SCHEMA,
        "kit_version": KIT_VERSION,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration": round(time.time() - started, 3),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "peers": peers,
        "totals": dict(Counter(r.outcome for r in results)),
        "segments": segment_totals(peer_info, left_in_dev_shm or []),
        "cases": [r.to_json() for r in sorted(results, key=lambda r: (r.case_id, r.peers))],
    }
    json_path = report_dir / "report.json"
    json_path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    html_path = report_dir / "report.html"
    html_path.write_text(render_html(data, results, json_path))
    return {"json": json_path, "html": html_path}


def _html_table(
    element_id: str,
    title: str,
    corner: str,
    rows: list[str],
    cols: list[str],
    cells: dict[tuple[str, str], str],
    languages: dict[str, str],
) -> str:
    def cls(text: str) -> str:
        return "bad" if "BAD" in text else ("ok" if text.endswith("ok") or " ok" in text else "")

    def label(name: str) -> str:
        language = languages.get(name)
        return html.escape(name) + (f' <span class="lang">({html.escape(language)})</span>' if language else "")

    head = "".join(f"<th>{label(c)}</th>" for c in cols)
    body = "".join(
        f"<tr><th>{label(r)}</th>"
        + "".join(f'<td class="{cls(cells.get((r, c), "-"))}">{html.escape(cells.get((r, c), "-"))}</td>' for c in cols)
        + "</tr>"
        for r in rows
    )
    return (
        f'<h2>{html.escape(title)}</h2><table id="{element_id}"><tr><th class="corner">{html.escape(corner)}'
        f"</th>{head}</tr>{body}</table>"
    )


def _known_text(result: CaseResult) -> str:
    """``peer: category(witness) reason`` for each peer that lists the case."""
    return "; ".join(
        f"{peer}: {line.category or 'uncategorised'}{f'({line.witness})' if line.witness else ''} {line.reason}"
        for peer, line in sorted(result.known.items())
    )


def replay_command(result: CaseResult, report_json: Path, peer_cmds: dict[str, str]) -> str:
    """The command that replays one case, pasteable as it stands.

    It names the report.json the run wrote (``replay`` resolves a relative
    ``--report`` against the folder it runs in) and repeats ``--peer-cmd`` for
    a peer that has no peer.toml, which replay cannot find otherwise.
    """
    argv = [
        "vgis-conformance",
        "replay",
        "--report",
        str(report_json),
        "--case",
        result.case_id,
        "--peers",
        ",".join(result.peers),
    ]
    for name in dict.fromkeys(result.peers):
        if name in peer_cmds:
            argv += ["--peer-cmd", f"{name}={peer_cmds[name]}"]
    return shlex.join(argv)


def render_html(data: dict[str, Any], results: list[CaseResult], report_json: Path = Path("report.json")) -> str:
    """A single static page: peers, both matrices, and every problem with its diff and replay.

    No script, and nothing a reader needs is collapsed: the page is read as it
    comes out of a CI artifact, and tests/test_report_browser.py checks in
    Chromium that the matrices, a failure's diff and its replay command are on
    screen. Only the raw header bytes, up to 65,528 of them, wait behind a
    <summary>; the diff above them already says which fields differ.
    """
    languages = {str(p["name"]): str(p["language"]) for p in data["peers"] if p.get("language")}
    peer_cmds = {str(p["name"]): str(p["peer_cmd"]) for p in data["peers"] if p.get("peer_cmd")}
    parts = [
        "<!doctype html><meta charset=utf-8><title>VGIS conformance report</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}tr>th:first-child{text-align:left}"
        ".bad{background:#fbb}.ok{background:#cfc}"
        ".lang{font-weight:normal;color:#555}.corner{font-weight:normal;color:#555}"
        "pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}"
        ".problem{border-left:4px solid #d33;padding-left:1em;margin:1.5em 0}"
        ".replay code{display:block;white-space:pre-wrap;word-break:break-all;background:#eef;padding:6px}",
        "</style><h1>VGIS conformance report</h1>",
        f"<p>kit {html.escape(str(data['kit_version']))}, started {html.escape(str(data['started']))}, "
        f"{data['duration']} s, totals {html.escape(json.dumps(data['totals']))}, "
        f"segments {html.escape(json.dumps(data['segments']))}</p>",
        '<h2>Peers</h2><table id="peers"><tr><th>peer</th><th>language</th><th>version</th><th>built from</th>'
        "<th>Arrow</th><th>available</th></tr>",
    ]
    for p in data["peers"]:
        arrow = p["arrow"] or {}
        parts.append(
            f"<tr><td>{html.escape(p['name'])}</td><td>{html.escape(str(p['language']))}</td>"
            f"<td>{html.escape(str(p['version']))}</td><td>{html.escape(sources.describe(p.get('built_from')))}</td>"
            f"<td>{html.escape(str(arrow.get('library')))} {html.escape(str(arrow.get('version')))}</td>"
            f"<td>{'yes' if p['available'] else html.escape('NO: ' + str(p['unavailable_reason']))}</td></tr>"
        )
    parts.append("</table>")
    parts.append(
        _html_table("peer-matrix", "Peers × case groups", "peer \\ group", *peer_group_matrix(results), languages)
    )
    parts.append(
        _html_table(
            "pair-grid", "Cross-attach: producer × consumer", "producer \\ consumer", *pair_matrix(results), languages
        )
    )
    known = known_by_category(results)
    if known:
        parts.append(
            '<h2>Known failures by category</h2><table id="known-categories"><tr><th>peer</th>'
            + "".join(f"<th>{c}</th>" for c in (*CATEGORIES, "uncategorised"))
            + "</tr>"
        )
        for peer, counts in sorted(known.items()):
            parts.append(
                f"<tr><td>{html.escape(peer)}</td>"
                + "".join(f"<td>{counts[c]}</td>" for c in (*CATEGORIES, "uncategorised"))
                + "</tr>"
            )
        parts.append(
            "</table><p>bug: a defect of the port against a MUST clause, with a witness that "
            "<code>vgis-conformance known-failures --verify</code> runs; policy: the port's deliberate "
            "choice; adapter: what the peer adapter cannot express.</p>"
        )
    bad = [r for r in results if r.outcome in BAD]
    parts.append(f'<h2 id="problems">Problems ({len(bad)})</h2>')
    for n, r in enumerate(sorted(bad, key=lambda r: (r.peers, r.case_id))):
        parts.append(
            f'<section class="problem" id="problem-{n}" data-case="{html.escape(r.case_id)}" '
            f'data-peers="{html.escape(",".join(r.peers))}">'
            f"<h3>[{html.escape(r.outcome)}] {html.escape(' -> '.join(r.peers))} {html.escape(r.case_id)}</h3>"
            f"<p>clauses {html.escape(', '.join(r.clauses))}; oracle {html.escape(r.oracle)}</p>"
            f'<pre class="diff">{html.escape(readable(r.message))}</pre>'
            f'<p class="replay">replay: <code>{html.escape(replay_command(r, report_json, peer_cmds))}</code></p>'
        )
        if r.replay and r.replay.get("header_hex"):
            raw = str(r.replay["header_hex"])
            parts.append(
                f'<details class="header-hex"><summary>header bytes at failure ({len(raw) // 2} bytes)'
                f"</summary><pre>{html.escape(raw)}</pre></details>"
            )
        parts.append("</section>")
    parts.append(
        '<h2>All cases</h2><table id="cases">'
        "<tr><th>case</th><th>peers</th><th>outcome</th><th>clauses</th><th>known failure</th></tr>"
    )
    for r in sorted(results, key=lambda r: (r.case_id, r.peers)):
        klass = "bad" if r.outcome in BAD else ("ok" if r.outcome == PASSED else "")
        parts.append(
            f"<tr><td>{html.escape(r.case_id)}</td><td>{html.escape(' -> '.join(r.peers))}</td>"
            f'<td class="{klass}">{html.escape(r.outcome)}</td><td>{html.escape(", ".join(r.clauses))}</td>'
            f"<td>{html.escape(_known_text(r))}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)
