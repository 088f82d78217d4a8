"""Every bench table, for the console and for benchmarks/RESULTS.md, rendered from bench.json and suite.json.

The rendering reads only the JSON (never the live run), so what the console
shows after a run, ``bench --markdown`` prints later and the files hold are the
same figures. One function, :func:`table`, lays out every table through
``tabulate``; the two styles differ only in their frame. Every table is
followed by the machine's load average while its figures were measured
(:func:`load_line`): a ratio from a loaded minute is read differently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from tabulate import DataRow, TableFormat, tabulate

from vgis_conformance.bench.batches import SCHEMAS, human
from vgis_conformance.bench.suite import added_seconds
from vgis_conformance.protocol import Json

Style = Literal["console", "markdown"]

# Console: right-aligned columns two spaces apart, no rules: the layout the bench always printed.
_CONSOLE = TableFormat(
    lineabove=None,
    linebelowheader=None,
    linebetweenrows=None,
    linebelow=None,
    headerrow=None,
    datarow=DataRow("", "  ", ""),
    padding=0,
    with_header_hide=None,
)
# Markdown: unpadded cells and a ``|---|`` rule, so a re-run changes RESULTS.md's values, not its whitespace.
_MARKDOWN = TableFormat(
    lineabove=None,
    linebelowheader=lambda widths, _aligns: "|" + "---|" * len(widths),
    linebetweenrows=None,
    linebelow=None,
    headerrow=DataRow("| ", " | ", " |"),
    datarow=DataRow("| ", " | ", " |"),
    padding=0,
    with_header_hide=None,
)
_ACTIONS = ("write", "resolve", "memcpy", "pipe")
_HEAD = ["write", "resolve", "shm w+r", "memcpy", "pipe", "write/memcpy"]


def table(
    head: Sequence[str], rows: Sequence[Sequence[str]], style: Style, align: Sequence[str] | None = None
) -> list[str]:
    """``rows`` under ``head`` as text lines: indented by two on the console, a pipe table in markdown.

    Cells are already formatted strings (number parsing is off), so a value is
    shown exactly as its caller spelled it. ``align`` (console only) defaults to
    right-aligned columns.
    """
    if style == "markdown":
        text = tabulate(rows, head, tablefmt=_MARKDOWN, disable_numparse=True, stralign=None, numalign=None)
        return text.splitlines()
    colalign = list(align) if align is not None else ["right"] * len(head)
    # The head goes in as a row: tabulate widens a column by two whenever it has headers, which would move it.
    text = tabulate([head, *rows], (), tablefmt=_CONSOLE, disable_numparse=True, colalign=colalign)
    return ["  " + line for line in text.splitlines()]


_Index = tuple[dict[tuple[str, str, int, str], Json], dict[tuple[str, str, int], float | None]]


def _index(bench: Json) -> _Index:
    """bench.json's samples by (peer, schema, size, action) and its shm figures by (peer, schema, size)."""
    by = {(s["peer"], s["schema"], s["size"], s["action"]): s for s in bench["samples"]}
    shm = {(r["peer"], r["schema"], r["size"]): r["gbps"] for r in bench["shm_gbps"]}
    return by, shm


def _throughput_cells(index: _Index, peer: str, schema: str, size: int) -> list[str]:
    """One size's cells, write to write/memcpy, the same on the console and in markdown."""
    by, shm = index
    cells = []
    for action in _ACTIONS:
        got = by.get((peer, schema, size, action))
        g = got["gbps"] if got else None
        cells.append(f"{g['median']:.2f} ({g['min']:.2f}-{g['max']:.2f})" if g else "-")
    w, mc = by.get((peer, schema, size, "write")), by.get((peer, schema, size, "memcpy"))
    ratio = f"{w['gbps']['median'] / mc['gbps']['median']:.2f}" if w and mc and mc["gbps"]["median"] else "-"
    sg = shm.get((peer, schema, size))
    return [cells[0], cells[1], "-" if sg is None else f"{sg:.2f}", cells[2], cells[3], ratio]


def load_line(before: Sequence[float], after: Sequence[float], during: Sequence[float] = ()) -> str:
    """The load average (1, 5, 15 min) before and after a table's measurements, and the 1-min range between."""
    text = "/".join(f"{x:.2f}" for x in before) + " before, " + "/".join(f"{x:.2f}" for x in after) + " after"
    if during:
        text += f"; 1-min {min(during):.2f}-{max(during):.2f} during"
    return f"  load average (1/5/15 min): {text}"


def _visits_load(bench: Json, schema: str | None = None) -> str:
    """The load line of the rounds of one schema (all rounds for None), from bench.json's visits."""
    visits = [v for v in bench.get("visits", []) if schema is None or v["schema"] == schema]
    if not visits:
        return load_line(bench["machine"]["loadavg"], bench["machine_after"]["loadavg"])
    during = [x for v in visits for x in (v["loadavg_before"][0], v["loadavg_after"][0])]
    return load_line(visits[0]["loadavg_before"], visits[-1]["loadavg_after"], during)


_TARGET_HEAD = ["target", "ratio", "floor", "median", "interval", "±", "rounds", "verdict"]


def _target_rows(bench: Json) -> tuple[list[list[str]], list[str]]:
    """The measured target rows as table cells, and a line on the rows that were not measured."""
    rows, unmeasured = [], Counter[str]()
    for t in bench.get("targets", []):
        if t["verdict"] == "not measured":
            unmeasured[t["target"]] += 1
            continue
        rows.append(
            [
                t["target"],
                t["ratio"],
                f"{t['threshold']:.2f}",
                f"{t['median']:.2f}",
                f"{t['lo']:.2f}-{t['hi']:.2f}",
                f"{t['spread'] * 100:.1f}%",
                str(t["rounds"]),
                t["verdict"].upper() if t["verdict"] != "undecidable" else "undecidable",
            ]
        )
    notes = []
    if unmeasured:
        notes.append(
            "not measured (peer, size or action not in this run): "
            + ", ".join(f"{target} x{n}" for target, n in unmeasured.items())
        )
    notes += [f"{peer} does not offer {why}" for peer, why in bench.get("unoffered", {}).items()]
    return rows, notes


def _rounds_line(bench: Json) -> str:
    """How the rounds ended: the bound, the confidence and why the run stopped adding rounds."""
    r = bench.get("rounds")
    if not r:
        return ""
    return (
        f"ratio: median of per-round ratios, {r['confidence']:.0%} interval for it; rounds added until every "
        f"interval is within ±{r['bound']:.0%} or {r['budget_s']:.0f} s: stopped after {r['seconds']:.0f} s, "
        f"{r['stopped']}"
    )


def _crossover_text(cross: int | str | None) -> str:
    """A crossover as a size, ``never``, or ``not measured``."""
    return human(cross) if isinstance(cross, int) else "not measured" if cross is None else str(cross)


def console(bench: Json) -> list[str]:
    """What ``bench`` prints after a run: per peer and schema a table, then overhead, errors and the targets."""
    lines: list[str] = []
    index = _index(bench)
    by = index[0]
    for peer in bench["peers"]:
        for schema in SCHEMAS:
            rows = []
            for size in bench["sizes"]:
                w = by.get((peer, schema, size, "write"))
                rows.append([human(size), str(w["bytes"]) if w else "-", *_throughput_cells(index, peer, schema, size)])
            lines += [
                "",
                f"{peer}, {schema} schema: GB/s median (min-max)",
                *table(["size", "bytes", *_HEAD], rows, "console"),
                _visits_load(bench, schema),
            ]
            cross = bench["crossover"][peer][schema]
            lines.append(
                f"  shm (write+resolve) overtakes the pipe from: {_crossover_text(cross)}"
                if cross is not None
                else "  crossover: not measured"
            )
    lines += ["", "harness overhead (header, length 24, over the protocol)"]
    lines += [
        f"  {name}: {o['requests_per_s']:.0f} requests/s, {o['ms_per_request'] * 1000:.0f} us per request"
        for name, o in bench["overhead"].items()
    ]
    if bench.get("overhead_load"):
        lines.append(load_line(bench["overhead_load"]["before"], bench["overhead_load"]["after"]))
    lines += [f"not benchmarked: {name}: {why}" for name, why in bench["not_benchmarked"].items()]
    lines += [f"ERROR {err}" for err in bench["errors"]]
    rows, notes = _target_rows(bench)
    lines += [
        "",
        "issue 13 ratio targets: met when the whole interval is at or above the floor",
        f"  {_rounds_line(bench)}",
    ]
    lines += table(_TARGET_HEAD, rows, "console", ["left", "left", *["right"] * 6]) if rows else []
    lines += [f"  {n}" for n in notes]
    lines.append(_visits_load(bench))
    lines += ["", "checks"]
    for v in bench.get("checks", []):
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[v["met"]]
        lines.append(f"  {mark} {v['target']}: {v['detail']}")
    return lines


def _suite_rows(suite: Json) -> list[tuple[int, dict[str, Json]]]:
    """For 1, 2, ... peers, that count's runs by mode (``serial``, ``-n auto``)."""
    return [
        (count, {r["mode"]: r for r in suite["runs"] if len(r["peers"]) == count})
        for count in range(1, len(suite["peers"]) + 1)
    ]


def _seconds(got: dict[str, Json], mode: str) -> str:
    """One mode's wall seconds, or ``-`` when that mode did not run."""
    return f"{got[mode]['seconds']:.1f}" if mode in got else "-"


_SUITE_HEAD = ["peers", "-n auto", "added by the last", "serial", "exit", "names"]


def _suite_table_rows(suite: Json) -> list[list[str]]:
    """Per peer count: -n auto seconds, what its last peer added, serial seconds, exit statuses, names."""
    added = {n: a for n, _, a in added_seconds(suite)}
    return [
        [
            str(count),
            _seconds(got, "-n auto"),
            "-" if added.get(count) is None else f"{added[count]:+.1f}",
            _seconds(got, "serial"),
            " / ".join(str(got[md]["exit"]) for md in ("-n auto", "serial") if md in got),
            ", ".join(suite["peers"][:count]),
        ]
        for count, got in _suite_rows(suite)
    ]


def _kit_tests_line(suite: Json) -> str:
    """The kit's own tests' wall time, or why it was not taken."""
    kit = suite.get("kit_tests")
    if not kit:
        return "the kit's own tests: not timed (an installed kit carries none)"
    return f"the kit's own tests (`{kit['command']}`): {kit['seconds']:.1f} s, exit {kit['exit']}: {kit['summary']}"


def suite_console(suite: Json) -> list[str]:
    """The suite timing as ``bench --suite`` prints it."""
    return [
        "",
        "full conformance suite, wall seconds (pytest conformance --require-all-peers, builds cached)",
        *table(_SUITE_HEAD, _suite_table_rows(suite), "console", ["right", "right", "right", "right", "left", "left"]),
        "  " + _kit_tests_line(suite),
        load_line(suite["machine"]["loadavg"], suite["machine_after"]["loadavg"]),
    ]


def _bench_markdown(bench: Json) -> list[str]:
    """RESULTS.md's throughput, crossover and overhead tables."""
    m = bench["machine"]
    lines = [
        f"Throughput run: {m['date']}, {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}, pyarrow {m['pyarrow']}; load average at start "
        f"{m['loadavg'][0]:.2f}, at end {bench['machine_after']['loadavg'][0]:.2f}; "
        f"{bench['repeat']} rounds first, more where a target ratio was wide "
        f"(each round x{bench['small_repeat_factor']} repetitions under 1 MiB).",
        "",
    ]
    index = _index(bench)
    for schema in SCHEMAS:
        rows = [
            [peer, human(size), *_throughput_cells(index, peer, schema, size)]
            for peer in bench["peers"]
            for size in bench["sizes"]
        ]
        lines += [
            f"#### {schema} schema: median GB/s (min-max)",
            "",
            *table(["peer", "size", *_HEAD], rows, "markdown"),
            "",
            _visits_load(bench, schema).strip() + ".",
            "",
        ]
    rows = [[peer, *(_crossover_text(cross[s]) for s in SCHEMAS)] for peer, cross in bench["crossover"].items()]
    lines += ["#### shm (write + resolve) overtakes the pipe from", "", *table(["peer", *SCHEMAS], rows, "markdown")]
    rows = [
        [peer, f"{o['requests_per_s']:.0f}", f"{o['ms_per_request'] * 1000:.0f} us"]
        for peer, o in bench["overhead"].items()
    ]
    lines += [
        "",
        "#### Harness overhead (`header`, length 24, round trip over the protocol)",
        "",
        *table(["peer", "requests/s", "per request"], rows, "markdown"),
    ]
    if bench.get("overhead_load"):
        lines += ["", load_line(bench["overhead_load"]["before"], bench["overhead_load"]["after"]).strip() + "."]
    if bench["not_benchmarked"]:
        skipped = bench["not_benchmarked"].items()
        lines += ["", "Not benchmarked: " + "; ".join(f"{p} ({why})" for p, why in skipped)]
    rows, notes = _target_rows(bench)
    lines += ["", "#### Issue 13 ratio targets (met when the whole interval is at or above the floor)", ""]
    lines += [_rounds_line(bench) + ".", ""] if bench.get("rounds") else []
    lines += [*table(_TARGET_HEAD, rows, "markdown"), ""] if rows else []
    lines += [line for n in notes for line in (f"{n}.", "")] + [_visits_load(bench).strip() + "."]
    return [*lines, ""]


def _suite_markdown(suite: Json) -> list[str]:
    """RESULTS.md's suite timing table."""
    m = suite["machine"]
    return [
        f"#### Full suite, wall seconds (`pytest conformance --require-all-peers`, builds cached; {m['date']})",
        "",
        *table(_SUITE_HEAD, _suite_table_rows(suite), "markdown"),
        "",
        _kit_tests_line(suite)[0].upper() + _kit_tests_line(suite)[1:] + ".",
        "",
        load_line(m["loadavg"], suite["machine_after"]["loadavg"]).strip() + ".",
        "",
    ]


def markdown(bench: Json | None, suite: Json | None) -> str:
    """The tables of benchmarks/RESULTS.md from bench.json and suite.json (the prose is written by hand)."""
    lines = [
        *(_bench_markdown(bench) if bench is not None else []),
        *(_suite_markdown(suite) if suite is not None else []),
    ]
    return "\n".join(lines)
