"""Every bench table, for the console and for benchmarks/RESULTS.md, rendered from bench.json and suite.json.

The rendering reads only the JSON (never the live run), so what the console
shows after a run, ``bench --markdown`` prints later and the files hold are the
same figures. One function, :func:`table`, lays out every table through
``tabulate``; the two styles differ only in their frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tabulate import DataRow, TableFormat, tabulate

from vgis_conformance.bench.batches import SCHEMAS, human
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
    lines += [f"not benchmarked: {name}: {why}" for name, why in bench["not_benchmarked"].items()]
    lines += [f"ERROR {err}" for err in bench["errors"]]
    lines += ["", "targets"]
    for v in bench["verdicts"]:
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


def suite_console(suite: Json) -> list[str]:
    """The suite timing as ``bench --suite`` prints it."""
    rows = [
        [str(count), _seconds(got, "serial"), _seconds(got, "-n auto"), ", ".join(suite["peers"][:count])]
        for count, got in _suite_rows(suite)
    ]
    return [
        "",
        "full conformance suite, wall seconds (pytest conformance, builds cached)",
        *table(["peers", "serial", "-n auto", "names"], rows, "console", ["right", "right", "right", "left"]),
    ]


def _bench_markdown(bench: Json) -> list[str]:
    """RESULTS.md's throughput, crossover and overhead tables."""
    m = bench["machine"]
    lines = [
        f"Throughput run: {m['date']}, {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}, pyarrow {m['pyarrow']}; load average at start "
        f"{m['loadavg'][0]:.2f}, at end {bench['machine_after']['loadavg'][0]:.2f}; "
        f"{bench['repeat']} repetitions (x{bench['small_repeat_factor']} under 1 MiB).",
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
    if bench["not_benchmarked"]:
        skipped = bench["not_benchmarked"].items()
        lines += ["", "Not benchmarked: " + "; ".join(f"{p} ({why})" for p, why in skipped)]
    return [*lines, ""]


def _suite_markdown(suite: Json) -> list[str]:
    """RESULTS.md's suite timing table."""
    m = suite["machine"]
    rows = [
        [
            str(count),
            _seconds(got, "serial"),
            _seconds(got, "-n auto"),
            " / ".join(str(got[md]["exit"]) if md in got else "-" for md in ("serial", "-n auto")),
            ", ".join(suite["peers"][:count]),
        ]
        for count, got in _suite_rows(suite)
    ]
    return [
        f"#### Full suite, wall seconds (`pytest conformance`, builds cached; {m['date']}, "
        f"load average at start {m['loadavg'][0]:.2f}, at end {suite['machine_after']['loadavg'][0]:.2f})",
        "",
        *table(["peers", "serial", "-n auto", "exit (serial / -n auto)", "names"], rows, "markdown"),
        "",
    ]


def markdown(bench: Json | None, suite: Json | None) -> str:
    """The tables of benchmarks/RESULTS.md from bench.json and suite.json (the prose is written by hand)."""
    lines = [
        *(_bench_markdown(bench) if bench is not None else []),
        *(_suite_markdown(suite) if suite is not None else []),
    ]
    return "\n".join(lines)
