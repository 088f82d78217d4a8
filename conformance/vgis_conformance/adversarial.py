"""The adversarial corpus: hostile headers, tables, pointers, regions and names, as data.

Every case is a JSON recipe in ``fixtures/adversarial/<group>/<name>.json``,
sometimes with ``.bin`` files of bytes to plant. This module is the source of
truth: ``regenerate()`` writes every recipe and ``check()`` lists what differs
from the checked-in files. ``load_cases()`` reads them back for
``conformance/cases/test_adversarial.py``. The recipe format, the groups and
how to add a case are in ``fixtures/adversarial/README.md``.

Generation is deterministic (explicit values, one fixed seed for the garbage
regions) given the pyarrow version that wrote ``fixtures/ipc``.
"""

from __future__ import annotations

import json
import random
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from vgis.framing import region_size, walk
from vgis.header import HEADER_SIZE, MAX_ALLOCS
from vgis.pointer import LENGTH_KEY, LOG_LEVEL_KEY, OFFSET_KEY
from vgis_conformance.array_faults import FAULTS
from vgis_conformance.array_faults import regions as fault_regions
from vgis_conformance.fixtures import FIXTURES_DIR, dump_json, ipc_cases

CORPUS_DIR: Path = FIXTURES_DIR / "adversarial"
GROUPS = ("headers", "tables", "pointers", "regions", "arrays", "shrunk", "names")
SEED = 20_260_601
"""The seed of every random byte in the corpus."""

OUTCOMES = frozenset(
    {
        "bad_header",
        "bad_name",
        "out_of_bounds",
        "bad_pointer",
        "no_allocation",
        "ipc_error",
        "schema_mismatch",
        "bad_request",
        "unsupported",
        "ok",
        "null",
        "allocated",
        "written",
        "decoded",
        "passed-through",
    }
)
"""What a step may be expected to answer (README.md, "Outcomes")."""

OPS = frozenset({"attach", "create", "allocate", "free", "shrink", "write", "resolve", "read", "truncate"})
"""``truncate`` is the harness's own step: it shrinks the object under the peer (``size`` bytes)."""
TIERS = ("required", "recommended")
"""A recipe's ``tier``: ``recommended`` cases check a SHOULD, and a failure is a warning ("recommended not met")."""

D = HEADER_SIZE
S = D + 65_536
"""The size of most corpus segments: one header and 64 KiB of data."""
OFF, LEN, LOG = OFFSET_KEY.decode(), LENGTH_KEY.decode(), LOG_LEVEL_KEY.decode()
U64 = (1 << 64) - 1


# --- the loaded form ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One recipe as the runner sees it; ``bins`` maps a ``.bin`` file name to its bytes."""

    group: str
    name: str
    description: str
    clauses: list[str]
    needs: list[str]
    segment: dict[str, Any]
    plant: list[dict[str, Any]]
    table: dict[str, Any] | None
    steps: list[dict[str, Any]]
    bins: dict[str, bytes]
    tier: str = "required"

    @property
    def case_id(self) -> str:
        """``<group>/<name>``: the test id, and the tail of the report's case ID."""
        return f"{self.group}/{self.name}"


def _load_json(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return value


def validate_recipe(doc: dict[str, Any], where: str) -> None:
    """Raise ValueError when a recipe is malformed (unknown op, outcome or group)."""
    required = ("name", "group", "description", "clauses", "segment", "steps")
    missing = [k for k in required if k not in doc]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    if doc["group"] not in GROUPS:
        raise ValueError(f"{where}: unknown group {doc['group']!r}")
    if not doc["clauses"] or not doc["steps"]:
        raise ValueError(f"{where}: needs clauses and at least one step")
    if doc["segment"].get("by") not in ("peer", "harness", "raw", "none"):
        raise ValueError(f"{where}: segment.by must be peer, harness, raw or none")
    if doc.get("tier", "required") not in TIERS:
        raise ValueError(f"{where}: tier must be one of {', '.join(TIERS)}, not {doc['tier']!r}")
    for i, step in enumerate(doc["steps"]):
        if step.get("op") not in OPS:
            raise ValueError(f"{where}: step {i} has unknown op {step.get('op')!r}")
        if not isinstance(step.get("probe", False), bool) or (step.get("probe") and i == 0):
            raise ValueError(f"{where}: step {i}: probe must be a boolean, and the first step is no probe")
        if step["op"] == "write" and ("batch" in step) == ("batch_bin" in step):
            raise ValueError(f"{where}: step {i}: a write names exactly one of batch and batch_bin")
        expect = step.get("expect")
        if not isinstance(expect, list) or not expect or set(expect) - OUTCOMES:
            raise ValueError(f"{where}: step {i} expects {expect!r}, not a list of known outcomes")


def load_cases(root: Path = CORPUS_DIR) -> list[Case]:
    """Every recipe under ``root``, sorted by group then name."""
    cases: list[Case] = []
    for path in sorted(root.glob("*/*.json")):
        doc = _load_json(path)
        validate_recipe(doc, str(path))
        if (doc["group"], doc["name"]) != (path.parent.name, path.stem):
            raise ValueError(f"{path}: group/name {doc['group']}/{doc['name']} disagree with the file's place")
        wanted = [p["bin"] for p in doc.get("plant", []) if "bin" in p]
        wanted += [s[k] for s in doc["steps"] for k in ("schema_bin", "expect_bin", "batch_bin") if k in s]
        bins = {name: (path.parent / name).read_bytes() for name in wanted}
        cases.append(
            Case(
                group=doc["group"],
                name=doc["name"],
                description=doc["description"],
                clauses=list(doc["clauses"]),
                needs=list(doc.get("needs", [])),
                segment=dict(doc["segment"]),
                plant=list(doc.get("plant", [])),
                table=doc.get("table"),
                steps=list(doc["steps"]),
                bins=bins,
                tier=str(doc.get("tier", "required")),
            )
        )
    return sorted(cases, key=lambda c: (GROUPS.index(c.group), c.name))


# --- building recipes ------------------------------------------------------------------


class _Corpus:
    """Collects recipes and their ``.bin`` files, relative path to bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def add(
        self,
        group: str,
        name: str,
        description: str,
        clauses: Iterable[str],
        steps: list[dict[str, Any]],
        segment: dict[str, Any] | None = None,
        plant: list[dict[str, Any]] | None = None,
        table: dict[str, Any] | None = None,
        needs: Iterable[str] = (),
        bins: dict[str, bytes] | None = None,
        tier: str = "required",
    ) -> None:
        rel = f"{group}/{name}.json"
        if rel in self.files:
            raise RuntimeError(f"two adversarial cases are called {group}/{name}")
        ops = {s["op"] for s in steps}
        caps = set(needs) | ({"allocate"} if ops & {"allocate", "free"} else set()) | ({"shrink"} & ops)
        doc: dict[str, Any] = {
            "name": name,
            "group": group,
            "description": description,
            "clauses": sorted(set(clauses), key=_clause_key),
            "needs": sorted(caps),
            "segment": segment or {"by": "peer", "size": S},
        }
        if tier != "required":
            doc["tier"] = tier
        if plant:
            doc["plant"] = plant
        if table is not None:
            doc["table"] = table
        doc["steps"] = steps
        validate_recipe(doc, rel)
        self.files[rel] = (dump_json(doc) + "\n").encode()
        for bin_name, data in (bins or {}).items():
            bin_rel = f"{group}/{bin_name}"
            if bin_rel in self.files and self.files[bin_rel] != data:
                raise RuntimeError(f"two different {bin_rel}")
            self.files[bin_rel] = data


def _clause_key(clause: str) -> tuple[str, int]:
    prefix, _, number = clause.partition("-")
    return prefix, int(number)


def _u32(value: int) -> str:
    return struct.pack("<I", value).hex()


def _u64(value: int) -> str:
    return struct.pack("<Q", value).hex()


def _step(op: str, expect: list[str], **args: Any) -> dict[str, Any]:
    return {"op": op, **args, "expect": expect}


def _attach(expect: list[str], size: int | None = S, name: str = "{name}") -> dict[str, Any]:
    return _step("attach", expect, name=name, size=size)


# headers ------------------------------------------------------------------------------


def _headers(c: _Corpus) -> None:
    harness = {"by": "harness", "size": S}
    bad: list[tuple[str, str, str, int, str]] = [
        ("bad-magic-one-byte", "LIFE-4", "magic VGIX", 0, b"VGIX".hex()),
        ("bad-magic-sigv", "LIFE-4", "magic SIGV (byte-swapped)", 0, b"SIGV".hex()),
        ("bad-magic-zeros", "LIFE-4", "magic 00 00 00 00", 0, "00000000"),
        ("bad-magic-lowercase", "LIFE-4", "magic vgis", 0, b"vgis".hex()),
        ("version-0", "LIFE-5", "version 0", 4, _u32(0)),
        ("version-2", "LIFE-5", "version 2", 4, _u32(2)),
        ("version-max", "LIFE-5", "version 0xFFFFFFFF", 4, _u32(0xFFFFFFFF)),
        ("version-big-endian-1", "LIFE-5", "version 1 written big-endian (00 00 00 01)", 4, "00000001"),
        ("data-size-plus-one", "LIFE-6", "data_size one more than the object's data", 8, _u64(S - D + 1)),
        ("data-size-minus-one", "LIFE-6", "data_size one less than the object's data", 8, _u64(S - D - 1)),
        ("data-size-plus-page", "LIFE-6", "data_size a 4 KiB page more", 8, _u64(S - D + 4096)),
        ("data-size-minus-page", "LIFE-6", "data_size a 4 KiB page less", 8, _u64(S - D - 4096)),
        ("data-size-zero", "LIFE-6", "data_size 0", 8, _u64(0)),
        ("data-size-max", "LIFE-6", "data_size 2^64-1", 8, _u64(U64)),
        ("data-size-total", "LIFE-6", "data_size holding the total size S instead of S - 65,536", 8, _u64(S)),
        ("num-allocs-4095", "LIFE-7", "num_allocs 4,095, one past MAX_ALLOCS", 16, _u32(4095)),
        ("num-allocs-4096", "LIFE-7", "num_allocs 4,096", 16, _u32(4096)),
        ("num-allocs-5000", "LIFE-7", "num_allocs 5,000", 16, _u32(5000)),
        ("num-allocs-max", "LIFE-7", "num_allocs 0xFFFFFFFF", 16, _u32(0xFFFFFFFF)),
    ]
    for name, clause, what, at, hexed in bad:
        c.add(
            "headers",
            f"attach-{name}",
            f"The harness plants {what} in a valid segment; attach must refuse it",
            [clause, "ERR-1", "ERR-2", "LIFE-12"],
            [_attach(["bad_header"])],
            harness,
            [{"at": at, "hex": hexed}],
        )
    _advertised_grid(c)
    c.add(
        "headers",
        "attach-object-65537-bytes",
        "The smallest valid segment (one data byte) must attach",
        ["LIFE-1", "LIFE-8"],
        [_attach(["ok"], size=D + 1), _step("allocate", ["allocated"], size=1), _step("allocate", ["null"], size=1)],
        {"by": "harness", "size": D + 1},
    )
    full = D + 8 * MAX_ALLOCS + 1024
    c.add(
        "headers",
        "attach-num-allocs-4094",
        "A full, valid table (4,094 entries) must attach; allocate is null",
        ["LIFE-7", "HDR-5", "ALLOC-3"],
        [_attach(["ok"], size=full), _step("allocate", ["null"], size=8)],
        {"by": "harness", "size": full},
        table={"run": {"start": D, "length": 8, "count": MAX_ALLOCS}},
    )
    c.add(
        "headers",
        "padding-ff",
        "Padding bytes 20..24 set to FF: attach, allocate and free behave, padding stays",
        ["HDR-6", "ALLOC-9"],
        [_attach(["ok"]), _step("allocate", ["allocated"], size=100), _step("free", ["ok"], offset=D)],
        {"by": "harness", "size": S},
        [{"at": 20, "hex": "ffffffff"}],
    )
    c.add(
        "headers",
        "unused-tail-garbage",
        "Bytes 65,528..65,536 hold garbage: attach and allocate ignore them",
        ["HDR-7", "ALLOC-9"],
        [_attach(["ok"]), _step("allocate", ["allocated"], size=100)],
        {"by": "harness", "size": S},
        [{"at": D - 8, "hex": "deadbeefcafef00d"}],
    )
    c.add(
        "headers",
        "stale-slots-plausible",
        "Stale slots past num_allocs cover the data; allocate ignores them",
        ["HDR-9", "ALLOC-1"],
        [_attach(["ok"]), _step("allocate", ["allocated"], size=1000)],
        {"by": "harness", "size": S},
        table={"entries": [[D, 100]], "stale": [[D + 100, S - D - 100]]},
    )


# the advertised-size grid (LIFE-8) ----------------------------------------------------

PAGE = 4096
GRID_OBJECTS = (0, 10, 23, 24, 4096, D, D + 1, 2 * D)
"""Object sizes: six too small to be a segment (three too small to hold data_size), the smallest valid one, 128 KiB."""
FIXED_FIELDS = 24
"""Magic, version, data_size, num_allocs and padding: the bytes a raw object can hold before it holds a header."""


def _dedupe(labelled: Iterable[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """Drop negative values and later labels of a value already listed (the first label names it)."""
    seen: set[int | None] = set()
    out: list[tuple[str, int | None]] = []
    for label, value in labelled:
        if (value is not None and value < 0) or value in seen:
            continue
        seen.add(value)
        out.append((label, value))
    return out


def advertisements(size: int) -> list[tuple[str, int | None]]:
    """The advertised sizes crossed with an object of ``size`` bytes, as (label, value); ``none`` is none at all."""
    fixed: list[tuple[str, int | None]] = [("none", None), *((str(v), v) for v in (0, 1, 16, 23, 24, 4096, D))]
    relative: list[tuple[str, int | None]] = [
        ("obj-less-1", size - 1),
        ("obj", size),
        ("obj-plus-1", size + 1),
        ("obj-plus-4096", size + PAGE),
        ("obj-times-2", 2 * size),
        ("2p63", 1 << 63),
        ("u64max", U64),
    ]
    return _dedupe([*fixed, *relative])


def data_sizes(size: int, advertised: int | None) -> list[tuple[str, int]]:
    """The data_size values planted in an object of ``size`` bytes advertised as ``advertised``.

    ``obj`` is S_obj - 65,536 (wrapped to 64 bits below 65,536: what unsigned arithmetic computes), ``ad`` is
    A - 65,536 (what a reader trusting the advertisement computes, for A >= 65,536). ``0`` and ``u64max``, which
    match neither, are crossed only with no advertisement, A = S_obj and A = 2 S_obj: whatever A is, LIFE-6 refuses
    them, so more advertisements would repeat those cells. An object under 24 bytes has no data_size field.
    """
    if size < FIXED_FIELDS:
        return []
    ad = None if advertised is None or advertised < D else advertised - D
    values: list[tuple[str, int | None]] = [("obj", (size - D) % (1 << 64)), ("ad", ad)]
    if advertised in (None, size, 2 * size):
        values += [("0", 0), ("u64max", U64)]
    return [(label, value) for label, value in _dedupe(values) if value is not None]


def grid_expect(size: int, advertised: int | None, data_size: int | None) -> list[str]:
    """LIFE-8 and LIFE-6 at the MUST tier: a valid header attaches when A is absent or S_obj, may be refused else."""
    if size <= D or data_size != size - D:
        return ["bad_header"]
    return ["ok"] if advertised in (None, size) else ["ok", "bad_header"]


def _grid_probes(size: int, advertised: int | None) -> list[dict[str, Any]]:
    """Steps run only once the peer attached: they touch bytes past the object only if the peer trusted A.

    The first reads the object's last data byte (in bounds: the object governs, even for A < S_obj). Only where
    A > S_obj, the second points at the first byte past the object, page-aligned where the advertisement reaches
    that far, so a peer that mapped A bytes reads past the object's end (SIGBUS, or zeros) instead of answering
    out_of_bounds; for A <= S_obj no byte past the object is believed, and PTR-9's own cases cover that pointer.
    """
    believed = advertised if advertised is not None and advertised > size else size
    start = max(size, D)
    page = -(-start // PAGE) * PAGE
    start = page if page < believed else start
    length = max(1, min(PAGE, believed - start))
    probes = [] if size <= D else [{**_resolve("signed-ints", size - 1, 1, ["ipc_error"]), "probe": True}]
    if believed > size:
        probes.append({**_resolve("signed-ints", start, length, ["out_of_bounds"]), "probe": True})
    return probes


def _grid_object(size: int, data_size: int | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The segment and plant of one grid cell: a harness-made header, or a raw object holding what fits of one."""
    if size > D:
        return {"by": "harness", "size": size}, [{"at": 8, "hex": _u64(data_size or 0)}]
    fields = b"VGIS" + struct.pack("<IQII", 1, data_size or 0, 0, 0)
    prefix = fields[: min(size, FIXED_FIELDS)]
    return {"by": "raw", "size": size}, ([{"at": 0, "hex": prefix.hex()}] if prefix else [])


def _describe_cell(size: int, advertised: int | None, data_size: int | None, expect: list[str]) -> str:
    what = "segment" if size > D else "raw object (too small to be a segment)"
    ds = "no data_size field" if data_size is None else f"data_size {data_size}"
    ad = "no advertised size" if advertised is None else f"advertised size {advertised}"
    return f"A {size}-byte {what} with {ds}, attached with {ad}: {' or '.join(expect)} (LIFE-8, LIFE-6)"


def _advertised_grid(c: _Corpus) -> None:
    """Every object size x advertisement x data_size, named attach-obj-<S>-ad-<A>[-ds-<data_size>]."""
    clauses = ["LIFE-6", "LIFE-8", "ERR-2", "LIFE-12"]
    for size in GRID_OBJECTS:
        for ad_label, advertised in advertisements(size):
            cells: list[tuple[str, int | None]] = (
                [("", None)]
                if size < FIXED_FIELDS
                else [(f"-ds-{label}", value) for label, value in data_sizes(size, advertised)]
            )
            for ds_label, data_size in cells:
                expect = grid_expect(size, advertised, data_size)
                segment, plant = _grid_object(size, data_size)
                name = f"attach-obj-{size}-ad-{ad_label}{ds_label}"
                probes = _grid_probes(size, advertised)
                cited = [*clauses, *(["PTR-9"] if any(p["expect"] == ["out_of_bounds"] for p in probes) else [])]
                c.add(
                    "headers",
                    name,
                    _describe_cell(size, advertised, data_size, expect),
                    cited,
                    [_attach(expect, size=advertised), *probes],
                    segment,
                    plant,
                )
                if "ok" in expect and advertised is not None and advertised > size:
                    c.add(
                        "headers",
                        f"{name}-refused",
                        f"A valid {size}-byte segment advertised as {advertised} bytes: the advertisement "
                        "promises bytes the object lacks (a truncated or replaced object), so attach should "
                        "refuse it (bad_header; LIFE-13, a SHOULD)",
                        ["LIFE-13", "LIFE-8"],
                        [_attach(["bad_header"], size=advertised)],
                        segment,
                        plant,
                        tier="recommended",
                    )


# tables -------------------------------------------------------------------------------


HOSTILE_TABLES: dict[str, tuple[str, list[tuple[int, int]]]] = {
    "unsorted": ("two entries in descending order", [(S - 8, 8), (D, 8)]),
    "unsorted-three": ("three entries out of order", [(D + 1000, 100), (D, 100), (D + 500, 100)]),
    "overlapping": ("two entries that overlap", [(D, 1000), (D + 500, 1000)]),
    "contained": ("an entry inside another", [(D, 4096), (D + 100, 8)]),
    "entry-past-end": ("an entry wholly past the segment's end", [(D, 8), (S + 4096, 100)]),
    "entry-straddles-end": ("an entry that crosses the segment's end", [(D, 8), (S - 100, 1000)]),
    "entry-far-past-end": ("one entry at 10^9 (SPEC D1)", [(10**9, 16)]),
    "entry-inside-header": ("an entry at (0, 16), inside the header (SPEC D1)", [(0, 16), (D + 64, 8)]),
    "entry-from-header-into-data": (
        "an entry from byte 100 reaching 100 bytes into the data",
        [(100, D), (D + 200, 8)],
    ),
    "zero-length": ("a zero-length entry before another", [(D, 0), (D + 16, 8)]),
    "zero-length-only": ("a single zero-length entry", [(D + 8, 0)]),
    "duplicate-offsets": ("two entries at one offset", [(D, 100), (D, 200)]),
    "length-overflows": ("an entry whose offset + length overflows 64 bits", [(D + 8, U64)]),
    "offset-near-u64-max": ("an entry at 2^64 - 16", [(D, 8), (U64 - 15, 16)]),
}


def _listed_target(entries: list[tuple[int, int]]) -> tuple[int, int] | None:
    """A listed entry inside the data with length >= 2, for free and shrink."""
    for o, n in entries:
        if o >= D and n >= 2 and o + n <= S:
            return o, n
    return None


def free_runs(entries: Iterable[tuple[int, int]], total: int = S) -> list[tuple[int, int]]:
    """The free ranges (offset, length) of the data area under the listed entries, as ALLOC-8 counts them.

    Each entry occupies the bytes it claims, its end computed without overflow, clipped to 65,536..total; a
    zero-length entry occupies no byte.
    """
    occupied = sorted((max(o, D), min(o + n, total)) for o, n in entries if n and o + n > D and o < total)
    runs: list[tuple[int, int]] = []
    p = D
    for lo, hi in occupied:
        if lo > p:
            runs.append((p, lo - p))
        p = max(p, hi)
    if total > p:
        runs.append((p, total - p))
    return runs


EDGE_SKIP = frozenset({0, 8, 4096, S - D - 16})
"""Request sizes the edge cases leave out: 0 (ALLOC-4's own case) and the sizes every table is already asked."""


def _edge_allocations(entries: list[tuple[int, int]]) -> list[tuple[str, str, list[dict[str, Any]], list[str]]]:
    """Requests at the edges of what a planted table leaves free: the largest gap, the tail, the sum, each + 1.

    ALLOC-8 allows "does not fit" or any safe range while a free range is big enough; a request bigger than
    every free range has no safe answer but "does not fit" (ALLOC-3). Sizes that coincide keep the first label.
    """
    runs = free_runs(entries)
    largest = max((n for _, n in runs), default=0)
    tail = runs[-1][1] if runs and runs[-1][0] + runs[-1][1] == S else 0
    sizes = [
        ("largest-gap", largest),
        ("largest-gap-plus-1", largest + 1),
        ("tail", tail),
        ("tail-plus-1", tail + 1),
        ("sum-of-gaps", sum(n for _, n in runs)),
    ]
    seen = set(EDGE_SKIP)
    ops: list[tuple[str, str, list[dict[str, Any]], list[str]]] = []
    for label, size in sizes:
        if size in seen:
            continue
        seen.add(size)
        fits = size <= largest
        verb = (
            f"allocate {size} bytes ({label.replace('-', ' ')}; the largest free range is {largest} bytes, "
            f"so {'any safe range or null' if fits else 'only null'})"
        )
        ops.append(
            (
                f"allocate-{label}",
                verb,
                [_step("allocate", ["allocated", "null"] if fits else ["null"], size=size)],
                ["ALLOC-1"] if fits else ["ALLOC-3"],
            )
        )
    return ops


def _wide_batch(int8: int, utf8: int, rows: int, metadata: int = 0) -> pa.RecordBatch:
    """A batch of many narrow columns: its IPC size is mostly schema and per-column framing, not buffers."""
    columns: dict[str, pa.Array] = {
        f"i{i}": pa.array([(i + r) % 100 for r in range(rows)], pa.int8()) for i in range(int8)
    }
    columns.update({f"s{i}": pa.array([f"v{i}-{r}" for r in range(rows)], pa.utf8()) for i in range(utf8)})
    batch = pa.RecordBatch.from_pydict(columns)
    return batch.replace_schema_metadata({"blob": "m" * metadata}) if metadata else batch


WIDE_BATCHES: dict[str, tuple[int, int, int, int]] = {
    "int8-50": (50, 0, 1, 0),
    "utf8-200": (0, 200, 2, 0),
    "mixed-400": (200, 200, 1, 0),
    "int8-100-metadata-16k": (100, 0, 1, 16_384),
}
"""Late-failing write shapes: (int8 columns, utf8 columns, rows, bytes of schema metadata)."""
GAP_DELTAS = {"less-64": -64, "less-1": -1, "exact": 0, "plus-1": 1, "plus-64": 64, "plus-4096": 4096}
"""The end gap's size relative to the reference's region of the batch."""


def _late_failing_writes(c: _Corpus) -> None:
    """WRITE-6 and WRITE-3 when the batch fails late: wide batches into a gap at the end near their region size.

    A writer that reserves from a cheap estimate (buffers + 4,096, memory size) finds the encoded batch larger
    than the reservation only after its entry exists; it must then stop at the entry's end and leave no entry
    behind. Every other writer answers from the exact size. Either way the answer is written or null.
    """
    for shape, spec in WIDE_BATCHES.items():
        batch = _wide_batch(*spec)
        region = region_size(batch)
        bin_name = f"batch-{shape}.bin"
        estimate = batch.get_total_buffer_size() + 4096
        for label, delta in GAP_DELTAS.items():
            gap = region + delta
            c.add(
                "tables",
                f"wide-{shape}-end-gap-{label}",
                f"A {spec[0] + spec[1]}-column, {spec[2]}-row batch ({region}-byte region in the reference, "
                f"{estimate} by buffers + 4,096) written where the only free space is a {gap}-byte gap at the "
                "end: written inside a new entry, or null leaving no entry; no byte outside the entry changes",
                ["WRITE-1", "WRITE-3", "WRITE-6", "ALLOC-1", "ALLOC-3", "ERR-2"],
                [_step("write", ["written", "null"], batch_bin=bin_name)],
                table={"entries": [[D, S - D - gap]]},
                bins={bin_name: _stream([batch])},
            )


def _tables(c: _Corpus, regions: dict[str, bytes]) -> None:
    base = ["ALLOC-8", "HDR-10", "ERR-2", "ALLOC-9"]
    for tname, (what, entries) in HOSTILE_TABLES.items():
        table: dict[str, Any] = {"entries": [list(e) for e in entries]}
        ops: list[tuple[str, str, list[dict[str, Any]], list[str]]] = [
            ("allocate-8", "allocate 8 bytes", [_step("allocate", ["allocated", "null"], size=8)], []),
            ("allocate-4096", "allocate 4,096 bytes", [_step("allocate", ["allocated", "null"], size=4096)], []),
            (
                "allocate-all",
                "allocate the whole data area less 16 bytes",
                [_step("allocate", ["allocated", "null"], size=S - D - 16)],
                [],
            ),
            (
                "write",
                "write a small batch",
                [_step("write", ["written", "null"], batch="signed-ints")],
                ["WRITE-1", "WRITE-3", "WRITE-6"],
            ),
        ]
        ops += _edge_allocations(entries)
        target = _listed_target(entries)
        if target is not None:
            ops.append(
                (
                    "free",
                    f"free the listed entry at {target[0]}",
                    [_step("free", ["ok"], offset=target[0])],
                    ["ALLOC-5"],
                )
            )
            ops.append(
                (
                    "shrink",
                    f"shrink the listed entry at {target[0]} to 1 byte",
                    [_step("shrink", ["ok"], offset=target[0], length=1)],
                    ["ALLOC-6"],
                )
            )
        ops.append(
            (
                "free-unlisted",
                "free an offset no entry starts at",
                [_step("free", ["no_allocation"], offset=D + 4)],
                ["ALLOC-5", "ERR-1"],
            )
        )
        for opname, verb, steps, extra in ops:
            c.add(
                "tables",
                f"{tname}-{opname}",
                f"The peer creates a segment, the harness plants {what}; the peer is asked to {verb}",
                [*base, *extra],
                steps,
                table=table,
            )
    _late_failing_writes(c)
    # the same tables met by an attacher
    for tname in ("unsorted", "overlapping", "entry-past-end", "duplicate-offsets"):
        what, entries = HOSTILE_TABLES[tname]
        c.add(
            "tables",
            f"attached-{tname}-allocate",
            f"The harness makes a segment with {what}; the peer attaches and allocates 8 and 4,096 bytes",
            ["ALLOC-8", "HDR-10", "ERR-2", "ALLOC-9"],
            [
                _attach(["ok"]),
                _step("allocate", ["allocated", "null"], size=8),
                _step("allocate", ["allocated", "null"], size=4096),
            ],
            {"by": "harness", "size": S},
            table={"entries": [list(e) for e in entries]},
        )
    # over capacity: a valid full table with a count past MAX_ALLOCS
    size = D + 8 * MAX_ALLOCS + 4096
    run = {"start": D, "length": 8, "count": MAX_ALLOCS}
    for count in (4095, 4096, 5000, 0xFFFFFFFF):
        label = "max" if count == 0xFFFFFFFF else str(count)
        table = {"run": run, "count": count}
        seg: dict[str, Any] = {"by": "peer", "size": size}
        why = f"num_allocs {count} over a full table of 8-byte entries"
        c.add(
            "tables",
            f"num-allocs-{label}-allocate",
            f"{why}: allocate must not fit (ALLOC-3)",
            ["ALLOC-3", "ALLOC-8", "ERR-2"],
            [_step("allocate", ["null"], size=8)],
            seg,
            table=table,
        )
        c.add(
            "tables",
            f"num-allocs-{label}-write",
            f"{why}: a write must not fit (WRITE-6)",
            ["ALLOC-3", "ALLOC-8", "WRITE-6", "ERR-2"],
            [_step("write", ["null"], batch="signed-ints")],
            seg,
            table=table,
        )
        c.add(
            "tables",
            f"num-allocs-{label}-free",
            f"{why}: free answers bad_header, or acts on the listed entries only (nothing past byte 65,528)",
            ["ALLOC-8", "ALLOC-5", "ERR-2"],
            [_step("free", ["bad_header", "ok"], offset=D + 8)],
            seg,
            table=table,
        )
        c.add(
            "tables",
            f"num-allocs-{label}-shrink",
            f"{why}: shrink answers bad_header, or acts on the listed entries only",
            ["ALLOC-8", "ALLOC-6", "ERR-2"],
            [_step("shrink", ["bad_header", "ok"], offset=D + 8, length=1)],
            seg,
            table=table,
        )
    # resolve does not read the table: a region under a hostile table still resolves
    region = regions["signed-ints"]
    resolve_tables: list[tuple[str, list[tuple[int, int]], int | None]] = [
        ("unsorted", [(S - 8, 8), (D, len(region))], None),
        ("overlapping", [(D, len(region)), (D + 8, 8)], None),
        ("duplicate-offsets", [(D, len(region)), (D, 8)], None),
        ("num-allocs-max", [(D, len(region))], 0xFFFFFFFF),
    ]
    for tname, entries, over in resolve_tables:
        t: dict[str, Any] = {"entries": [list(e) for e in entries]}
        if over is not None:
            t["count"] = over
        c.add(
            "tables",
            f"{tname}-resolve",
            "A valid region under a hostile table: resolve decodes it and changes no header byte",
            ["PTR-6", "ALLOC-8", "ERR-2"],
            [_resolve("signed-ints", D, len(region), ["decoded"])],
            plant=[{"at": D, "bin": "signed-ints.bin"}],
            table=t,
            bins={"signed-ints.bin": region},
        )


# pointers -----------------------------------------------------------------------------


def _resolve(
    schema_of: str, offset: int | str, length: int | str | None, expect: list[str], **extra: Any
) -> dict[str, Any]:
    metadata: dict[str, str] = {OFF: str(offset)}
    if length is not None:
        metadata[LEN] = str(length)
    metadata.update(extra.pop("metadata", {}))
    step: dict[str, Any] = {"op": "resolve", "schema_of": schema_of, "rows": extra.pop("rows", 0), "metadata": metadata}
    step.update(extra)
    if "decoded" in expect and "expect_batch" not in step and "expect_bin" not in step:
        step["expect_batch"] = schema_of
    step["expect"] = expect
    return step


def _pointers(c: _Corpus, regions: dict[str, bytes], schemas: dict[str, pa.Schema]) -> None:
    region = regions["signed-ints"]
    n = len(region)
    plant = [{"at": D, "bin": "signed-ints.bin"}]
    table = {"entries": [[D, n]]}
    bins = {"signed-ints.bin": region}

    def add(name: str, description: str, clauses: list[str], step: dict[str, Any], **kw: Any) -> None:
        c.add(
            "pointers",
            name,
            description,
            [*clauses, "ERR-2"],
            [step],
            plant=kw.get("plant", plant),
            table=kw.get("table", table),
            bins=kw.get("bins", bins),
            needs=kw.get("needs", ()),
        )

    oob = ["PTR-9", "ERR-1"]
    for name, o_bad, n_bad, what in [
        ("offset-zero", 0, n, "offset 0"),
        ("offset-24", 24, n, "offset 24, the first slot"),
        ("offset-65535", D - 1, n, "offset 65,535, the header's last byte"),
        ("end-past-segment-by-one", D, S - D + 1, "offset + length = S + 1"),
        ("offset-at-end", S, 1, "offset = S, length 1"),
        ("offset-past-end", S + 4096, n, "an offset a page past the end"),
        ("offset-u64-max", U64, 1, "offset 2^64-1, length 1 (the end overflows)"),
        ("offset-and-length-2-pow-63", 1 << 63, 1 << 63, "offset = length = 2^63 (the sum wraps to 0)"),
        ("length-u64-max", D, U64, "length 2^64-1 (the end overflows)"),
        ("end-wraps-into-data", U64 - 100, D + 200, "an offset + length that wraps around 2^64 into the data"),
    ]:
        add(
            f"out-of-bounds-{name}",
            f"A pointer with {what} must be out_of_bounds before any byte is read",
            oob,
            _resolve("signed-ints", o_bad, n_bad, ["out_of_bounds"]),
        )
    add(
        "zero-length-in-bounds",
        "A pointer with length 0 inside the data: not out_of_bounds, fails to decode",
        ["PTR-9", "PTR-10", "ERR-1"],
        _resolve("signed-ints", D, 0, ["ipc_error"]),
    )
    add(
        "region-ends-at-segment-end",
        "A region ending exactly at S resolves (the bound is inclusive)",
        ["PTR-9", "FRAME-10"],
        _resolve("signed-ints", S - n, n, ["decoded"]),
        plant=[{"at": S - n, "bin": "signed-ints.bin"}],
        table={"entries": [[S - n, n]]},
    )
    bad_values = [
        ("negative", "-{v}"),
        ("minus-zero", "-0"),
        ("non-numeric", "abc"),
        ("empty", ""),
        ("space-only", " "),
        ("leading-space", " {v}"),
        ("trailing-space", "{v} "),
        ("tab", "\t{v}"),
        ("newline", "{v}\n"),
        ("plus", "+{v}"),
        ("leading-zero", "0{v}"),
        ("double-zero", "00"),
        ("hex", "0x{h}"),
        ("hex-upper", "0X{H}"),
        ("overflow-u64", str(1 << 64)),
        ("exponent", "{v}e0"),
        ("decimal-point", "{v}.0"),
        ("underscore", "{u}"),
        ("fullwidth-digits", "{w}"),
        ("nul", "{v}\u0000"),
    ]
    for key, good in (("offset", D), ("length", n)):
        for name, pattern in bad_values:
            value = pattern.format(
                v=good,
                h=f"{good:x}",
                H=f"{good:X}",
                u=f"{str(good)[0]}_{str(good)[1:]}",
                w="".join(chr(0xFF10 + int(ch)) for ch in str(good)),
            )
            o: int | str = value if key == "offset" else D
            length: int | str = value if key == "length" else n
            add(
                f"{key}-{name}",
                f"The {key} value {value!r} is not canonical decimal: bad_pointer",
                ["PTR-2", "PTR-8", "ERR-1"],
                _resolve("signed-ints", o, length, ["bad_pointer"]),
            )
    add(
        "missing-length",
        "A pointer without vgi_rpc.shm_length: bad_pointer",
        ["PTR-8", "ERR-1"],
        _resolve("signed-ints", D, None, ["bad_pointer"]),
    )
    add(
        "missing-length-bad-offset",
        "No length key and a junk offset: bad_pointer (PTR-8 before PTR-9)",
        ["PTR-8", "ERR-1"],
        _resolve("signed-ints", "junk", None, ["bad_pointer"]),
    )
    add(
        "non-canonical-beats-bounds",
        "A non-canonical offset inside the header: PTR-8 is checked before PTR-9",
        ["PTR-8", "PTR-9", "ERR-1"],
        _resolve("signed-ints", "+0", n, ["bad_pointer"]),
    )
    add(
        "log-level-and-offset",
        "Zero rows, offset and length keys, and vgi_rpc.log_level: a log batch, passed through",
        ["PTR-3", "PTR-7"],
        _resolve("signed-ints", D, n, ["passed-through"], metadata={LOG: "INFO"}),
    )
    add(
        "log-level-bad-values",
        "A log batch with junk pointer values is passed through, not validated",
        ["PTR-3", "PTR-7"],
        _resolve("signed-ints", "junk", "-1", ["passed-through"], metadata={LOG: "ERROR"}),
    )
    add(
        "rows-with-offset",
        "A batch with rows and pointer keys is data: passed through",
        ["PTR-3", "PTR-7"],
        _resolve("signed-ints", D, n, ["passed-through"], rows="data"),
    )
    add(
        "rows-with-bad-values",
        "A batch with rows and junk pointer keys is data: passed through",
        ["PTR-3", "PTR-7"],
        _resolve("signed-ints", "+x", "", ["passed-through"], rows="data"),
    )
    add(
        "length-only",
        "Zero rows and only vgi_rpc.shm_length: not a pointer, passed through",
        ["PTR-3", "PTR-7"],
        {**_resolve("signed-ints", D, n, ["passed-through"]), "metadata": {LEN: str(n)}},
    )
    # schema disagreements
    base = schemas["signed-ints"]
    mismatch: dict[str, pa.Schema] = {
        "other-types": schemas["strings"],
        "one-type": base.set(3, pa.field("i64", pa.uint64())),
        "one-name": base.set(0, pa.field("renamed", pa.int8())),
        "nullability": base.set(1, pa.field("i16", pa.int16(), nullable=False)),
        "extra-field": base.append(pa.field("extra", pa.int8())),
        "missing-field": base.remove(3),
        "field-order": pa.schema([base.field(1), base.field(0), base.field(2), base.field(3)]),
        "dictionary-schema": pa.schema([pa.field("i8", pa.dictionary(pa.int8(), pa.utf8()))]),
    }
    for name, schema in mismatch.items():
        expect = ["schema_mismatch"] if name != "dictionary-schema" else ["ipc_error", "schema_mismatch"]
        bin_name = f"schema-{name}.bin"
        add(
            f"schema-{name}",
            f"A stream region resolved under a pointer schema that differs ({name}): {' or '.join(expect)}",
            ["PTR-11", "PTR-10", "ERR-1"],
            {**_resolve("signed-ints", D, n, expect), "schema_bin": bin_name, "schema_text": str(schema)},
            bins={**bins, bin_name: _schema_bytes(schema)},
        )
    meta = base.with_metadata({"app": "differs"})
    add(
        "schema-metadata-only",
        "A pointer schema that differs only in custom metadata resolves",
        ["PTR-11"],
        {
            **_resolve("signed-ints", D, n, ["decoded"]),
            "schema_bin": "schema-metadata-only.bin",
            "schema_text": str(meta),
        },
        bins={**bins, "schema-metadata-only.bin": _schema_bytes(meta)},
    )
    dict_region = regions["dict-int8-utf8"]
    other = pa.schema([pa.field("color", pa.dictionary(pa.int8(), pa.int64()))])
    add(
        "schema-dictionary-value-type",
        "A message-framed region under a dictionary of another value type: ipc_error or schema_mismatch",
        ["PTR-11", "PTR-10", "ERR-1"],
        {
            **_resolve("dict-int8-utf8", D, len(dict_region), ["ipc_error", "schema_mismatch"]),
            "schema_bin": "schema-dictionary-value-type.bin",
            "schema_text": str(other),
        },
        plant=[{"at": D, "bin": "dict-int8-utf8.bin"}],
        table={"entries": [[D, len(dict_region)]]},
        bins={"dict-int8-utf8.bin": dict_region, "schema-dictionary-value-type.bin": _schema_bytes(other)},
    )


def _schema_bytes(schema: pa.Schema) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, schema):
        pass
    data: bytes = sink.getvalue().to_pybytes()
    return data


# regions ------------------------------------------------------------------------------


def _stream(batches: list[pa.RecordBatch], options: ipc.IpcWriteOptions | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batches[0].schema, options=options) as writer:
        for b in batches:
            writer.write_batch(b)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _messages_only(stream: bytes) -> bytes:
    """A stream without its Schema message and EOS: the FRAME-3 form."""
    messages, _ = walk(stream)
    assert messages[0].kind == "schema" and messages[-1].kind == "eos"
    return stream[messages[0].end : messages[-1].offset]


def _field_pos(buf: bytes, table: int, field: int) -> int | None:
    """Absolute position in ``buf`` of field ``field`` of the flatbuffer table at ``table``, or None."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vsize = struct.unpack_from("<H", buf, vtable)[0]
    if 4 + 2 * field >= vsize:
        return None
    at = struct.unpack_from("<H", buf, vtable + 4 + 2 * field)[0]
    return None if at == 0 else table + at


def _metadata_span(region: bytes, index: int) -> tuple[int, bytes]:
    messages, _ = walk(region)
    m = messages[index]
    start = m.offset + m.prefix
    return start, region[start : start + m.metadata_length]


def record_batch_field(region: bytes, index: int, field: int) -> int | None:
    """Position in ``region`` of field ``field`` of message ``index``'s RecordBatch (or DictionaryBatch) table."""
    start, meta = _metadata_span(region, index)
    root = struct.unpack_from("<I", meta, 0)[0]
    header = _field_pos(meta, root, 2)
    if header is None:
        return None
    table = header + struct.unpack_from("<I", meta, header)[0]
    pos = _field_pos(meta, table, field)
    return None if pos is None else start + pos


def _set_body_length(region: bytes, index: int, value: int) -> bytes:
    """``region`` with message ``index``'s Message.bodyLength (field 3, int64) set to ``value``."""
    start, meta = _metadata_span(region, index)
    pos = _field_pos(meta, struct.unpack_from("<I", meta, 0)[0], 3)
    if pos is None:
        raise RuntimeError("message has no bodyLength field to change")
    at = start + pos
    return region[:at] + struct.pack("<q", value) + region[at + 8 :]


def _set_last_buffer(region: bytes, index: int, offset: int | None, length: int | None) -> bytes:
    """``region`` with the last Buffer {offset, length} of record batch message ``index`` changed."""
    pos = record_batch_field(region, index, 2)
    if pos is None:
        raise RuntimeError("record batch has no buffers")
    vector = pos + struct.unpack_from("<I", region, pos)[0]
    count = struct.unpack_from("<I", region, vector)[0]
    at = vector + 4 + 16 * (count - 1)
    old_offset, old_length = struct.unpack_from("<qq", region, at)
    new = struct.pack("<qq", old_offset if offset is None else offset, old_length if length is None else length)
    return region[:at] + new + region[at + 16 :]


def _regions(c: _Corpus, regions: dict[str, bytes], batches: dict[str, pa.RecordBatch]) -> None:
    def add(
        name: str, description: str, clauses: list[str], data: bytes, source: str, expect: list[str], **extra: Any
    ) -> None:
        bin_name = f"{name}.bin"
        files = {bin_name: data, **extra.pop("bins", {})}
        c.add(
            "regions",
            name,
            description,
            [*clauses, "ERR-2"],
            [_resolve(source, D, len(data), expect, **extra)],
            segment={"by": "peer", "size": S},
            plant=[{"at": D, "bin": bin_name}],
            table={"entries": [[D, max(len(data), 1)]]},
            bins=files,
        )

    for source, tag in (("signed-ints", "stream"), ("dict-int8-utf8", "dict")):
        region = regions[source]
        messages, _ = walk(region + (b"" if tag == "stream" else b"\xff\xff\xff\xff\x00\x00\x00\x00"))
        cuts: list[tuple[int, str]] = []
        for i, m in enumerate(messages):
            if m.kind == "eos" and tag == "dict":
                continue
            cuts.append((m.offset, f"at-message-{i}-{m.kind.replace(' ', '-')}"))
            if m.kind != "eos":
                cuts.append((m.offset + 6, f"in-prefix-of-message-{i}"))
                cuts.append((m.offset + m.prefix + m.metadata_length // 2, f"in-metadata-of-message-{i}"))
                if m.body_length:
                    cuts.append(
                        (m.offset + m.prefix + m.metadata_length + m.body_length // 2, f"in-body-of-message-{i}")
                    )
            else:
                cuts.append((m.offset + 4, "in-eos"))
        rb_end = next(m.end for m in messages if m.kind == "record batch")
        for cut, label in cuts:
            if cut == 0:
                continue  # a zero-length region is pointers/zero-length-in-bounds
            decodes = cut >= rb_end
            expect = ["decoded"] if decodes else ["ipc_error"]
            clauses = ["FRAME-6"] if decodes else ["PTR-10", "ERR-1"]
            add(
                f"{tag}-truncated-{label}",
                f"The {source} region ({tag} framing) cut to {cut} of {len(region)} "
                f"bytes: {'the record batch is whole, so it decodes' if decodes else 'ipc_error'}",
                clauses,
                region[:cut],
                source,
                expect,
            )
        rng = random.Random(f"{SEED}-{tag}")
        for size in (64, 1024):
            add(
                f"{tag}-random-{size}",
                f"{size} random bytes (seed {SEED}) under the {source} schema: ipc_error",
                ["PTR-10", "ERR-1"],
                rng.randbytes(size),
                source,
                ["ipc_error"],
            )
        add(
            f"{tag}-continuation-then-random",
            f"FF FF FF FF then random bytes under the {source} schema",
            ["PTR-10", "ERR-1"],
            b"\xff\xff\xff\xff" + rng.randbytes(120),
            source,
            ["ipc_error"],
        )
        add(
            f"{tag}-zeros",
            f"256 zero bytes under the {source} schema: ipc_error",
            ["PTR-10", "ERR-1"],
            bytes(256),
            source,
            ["ipc_error"],
        )
        add(
            f"{tag}-eos-only",
            f"Just an EOS under the {source} schema: no record batch, ipc_error",
            ["PTR-10", "ERR-1"],
            b"\xff\xff\xff\xff\x00\x00\x00\x00",
            source,
            ["ipc_error"],
        )
        for trailer, data in [
            ("zeros", bytes(64)),
            ("ff", b"\xff" * 64),
            ("text", b"trailing text, not IPC!!"),
            ("second-eos", b"\xff\xff\xff\xff\x00\x00\x00\x00"),
            ("random", random.Random(f"{SEED}-trailer-{tag}").randbytes(100)),
        ]:
            add(
                f"{tag}-trailing-{trailer}",
                f"The {source} region followed by {trailer} bytes: the first batch decodes, the rest is ignored",
                ["FRAME-6"],
                region + data,
                source,
                ["decoded"],
            )
        ms = messages
        first = ms[0]
        huge_m = region[: first.offset + 4] + struct.pack("<i", len(region) + 4096) + region[first.offset + 8 :]
        add(
            f"{tag}-metadata-length-past-end",
            "The first message's metadata length M points past the region",
            ["PTR-10", "ERR-1"],
            huge_m,
            source,
            ["ipc_error"],
        )
        neg_m = region[: first.offset + 4] + struct.pack("<i", -8) + region[first.offset + 8 :]
        add(
            f"{tag}-metadata-length-negative",
            "The first message's metadata length M is -8",
            ["PTR-10", "ERR-1"],
            neg_m,
            source,
            ["ipc_error"],
        )
        rb_index = next(i for i, m in enumerate(ms) if m.kind == "record batch")
        for label, value in [("past-end", 1 << 20), ("negative", -8), ("huge", (1 << 63) - 8)]:
            add(
                f"{tag}-body-length-{label}",
                f"The record batch's bodyLength set to {value}",
                ["PTR-10", "ERR-1"],
                _set_body_length(region, rb_index, value),
                source,
                ["ipc_error"],
            )
        for label, buf_offset, buf_length in [
            ("offset-past-body", 1 << 16, None),
            ("length-past-body", None, 1 << 16),
            ("negative-offset", -64, None),
        ]:
            add(
                f"{tag}-buffer-{label}",
                f"The record batch's last buffer gets {label.replace('-', ' ')}: a buffer outside the body",
                ["PTR-10", "ERR-1"],
                _set_last_buffer(region, rb_index, buf_offset, buf_length),
                source,
                ["ipc_error"],
            )
        compressed = ["decoded", "ipc_error"]
        for codec in ("lz4", "zstd"):
            stream = _stream([batches[source]], ipc.IpcWriteOptions(compression=codec))
            data = stream if tag == "stream" else _messages_only(stream)
            add(
                f"{tag}-compressed-{codec}",
                f"The {source} batch with {codec.upper()} buffers: decoded correctly, or ipc_error (FRAME-7)",
                ["FRAME-7"],
                data,
                source,
                compressed,
            )
        second = batches[source].slice(1)
        two = _stream([batches[source], second])
        data = two if tag == "stream" else _messages_only(two)
        add(
            f"{tag}-two-record-batches",
            f"The {source} region holding two record batches: the first decodes",
            ["FRAME-6"],
            data,
            source,
            ["decoded"],
        )
    stream, dict_region = regions["signed-ints"], regions["dict-int8-utf8"]
    ms, _ = walk(stream)
    add(
        "stream-without-eos",
        "A stream region with no EOS decodes (FRAME-6)",
        ["FRAME-6", "FRAME-1"],
        stream[: ms[-1].offset],
        "signed-ints",
        ["decoded"],
    )
    add(
        "stream-schema-only",
        "A stream region with a Schema message and EOS but no batch: ipc_error",
        ["PTR-10", "ERR-1"],
        _schema_bytes(batches["signed-ints"].schema),
        "signed-ints",
        ["ipc_error"],
    )
    add(
        "stream-record-batch-only",
        "A stream-framed schema but no Schema message in the region: ipc_error",
        ["PTR-10", "FRAME-1", "ERR-1"],
        stream[ms[0].end :],
        "signed-ints",
        ["ipc_error"],
    )
    dms, _ = walk(dict_region + b"\xff\xff\xff\xff\x00\x00\x00\x00")
    add(
        "dict-without-dictionary",
        "A dictionary-framed region with its record batch but not its dictionary",
        ["PTR-10", "FRAME-3", "ERR-1"],
        dict_region[dms[1].offset :],
        "dict-int8-utf8",
        ["ipc_error"],
    )
    dict_stream = _stream([batches["dict-int8-utf8"]])
    add(
        "dict-with-schema-message",
        "A dictionary-framed schema but the region is a whole stream (Schema message first): ipc_error",
        ["PTR-10", "FRAME-3", "ERR-1"],
        dict_stream,
        "dict-int8-utf8",
        ["ipc_error"],
    )
    add(
        "dict-region-under-stream-schema",
        "A message-framed dictionary region under a stream schema",
        ["PTR-10", "PTR-11", "ERR-1"],
        dict_region,
        "signed-ints",
        ["ipc_error", "schema_mismatch"],
    )


# arrays -------------------------------------------------------------------------------


def _arrays(c: _Corpus) -> None:
    """PTR-12: invalid array data inside valid framing (array_faults), one case per fault and framing."""
    for fault in FAULTS:
        for framing, (batch, data) in fault_regions(fault).items():
            name = f"{fault.name}-{framing}"
            bins = {f"{name}.bin": data, f"{name}-schema.bin": _schema_bytes(batch.schema)}
            step = {
                **_resolve("signed-ints", D, len(data), fault.expect),
                "schema_bin": f"{name}-schema.bin",
                "schema_text": str(batch.schema),
            }
            if "decoded" in fault.expect:
                step.pop("expect_batch", None)
                step["expect_bin"] = f"{name}-batch.bin"
                bins[f"{name}-batch.bin"] = _stream([batch])
            allowed = "decoded or ipc_error (PTR-12 group 3)" if fault.group == 3 else "ipc_error"
            for op, extra in (("resolve", []), ("read", ["read"])):
                c.add(
                    "arrays",
                    name if op == "resolve" else f"{name}-read",
                    f"{fault.what}, {framing}-framed, by {op}: {allowed}; never a read outside the region",
                    ["PTR-12", "PTR-10", "ERR-2"],
                    [{**step, "op": op}],
                    segment={"by": "peer", "size": S},
                    plant=[{"at": D, "bin": f"{name}.bin"}],
                    table={"entries": [[D, len(data)]]},
                    bins=bins,
                    needs=extra,
                )


# shrunk -------------------------------------------------------------------------------


SHRUNK_ERRORS = ["bad_header", "out_of_bounds", "ipc_error"]
"""What a reader may answer for a mapping whose object shrank (LIFE-14): any typed error, never a death."""


def _shrunk(c: _Corpus, regions: dict[str, bytes]) -> None:
    """LIFE-14 and ERR-2: the creator truncates the object after the peer attached, then the peer is asked to
    touch the part that is gone. Touching it through the old mapping is SIGBUS; the peer must not die.

    The recommended tier (LIFE-14 is a SHOULD): an answer other than a typed error is a warning, while a peer
    that dies is still a crash, a failure of ERR-2."""
    region = regions["signed-ints"]
    n = len(region)
    plant, table, bins = [{"at": D, "bin": "signed-ints.bin"}], {"entries": [[D, n]]}, {"signed-ints.bin": region}
    operations: list[tuple[str, str, dict[str, Any], list[str]]] = [
        ("resolve", "resolve the planted region", _resolve("signed-ints", D, n, SHRUNK_ERRORS), []),
        ("allocate", "allocate 8 bytes", _step("allocate", SHRUNK_ERRORS, size=8), ["allocate"]),
        ("free", "free the planted region's entry", _step("free", SHRUNK_ERRORS, offset=D), ["allocate"]),
        ("write", "write a small batch", _step("write", SHRUNK_ERRORS, batch="signed-ints"), []),
    ]
    for to, what in ((D, "65,536 bytes (the header only)"), (4096, "4,096 bytes (one page of the header)")):
        for op, verb, step, needs in operations:
            if to == D and op in ("allocate", "free"):
                continue  # the table is all in the header, which is still there: nothing to tell
            c.add(
                "shrunk",
                f"to-{to}-then-{op}",
                f"The peer attaches a valid {S}-byte segment, the harness truncates the object to {what}, then "
                f"the peer is asked to {verb}: a typed error ({', '.join(SHRUNK_ERRORS)}), never a fault",
                ["LIFE-14", "ERR-2"],
                [_attach(["ok"]), _step("truncate", ["ok"], size=to), step],
                {"by": "harness", "size": S},
                plant,
                table=table,
                needs=needs,
                bins=bins,
                tier="recommended",
            )


# names --------------------------------------------------------------------------------


def _names(c: _Corpus) -> None:
    harness = {"by": "harness", "size": S}
    attach_cases = [
        (
            "extra-leading-slash",
            "//{bare}",
            ["ok", "bad_name"],
            "two leading slashes: opened as given (glibc strips them) or refused",
        ),
        ("trailing-slash", "{name}/", ["bad_name"], "a '/' after the name"),
        ("inner-slash", "/a/{bare}", ["bad_name"], "a '/' inside the name"),
        ("double-inner-slash", "{name}//x", ["bad_name"], "'//' after the name"),
        ("only-slash", "/", ["bad_name"], "just '/'"),
        ("only-slashes", "///", ["bad_name"], "only slashes"),
        ("empty", "", ["bad_name"], "the empty name"),
        ("embedded-nul", "{name}\u0000x", ["bad_name"], "the name with an embedded NUL"),
        ("trailing-nul", "{name}\u0000", ["bad_name"], "the name with a trailing NUL"),
        ("overlong-300", "/" + "a" * 300, ["bad_name"], "a 300-byte name (> 255)"),
        ("overlong-256", "/" + "b" * 256, ["bad_name"], "a 256-byte name (one past 255)"),
        ("missing", "{missing}", ["bad_name"], "a name that does not exist"),
        ("missing-without-slash", "{missing_bare}", ["bad_name"], "a missing name without its slash"),
        ("missing-255-bytes", "/" + "m" * 255, ["bad_name"], "a missing 255-byte name (the longest allowed)"),
        ("dot-dot", "/../{bare}", ["bad_name"], "'/../' then the name"),
    ]
    for name, pattern, expect, what in attach_cases:
        c.add(
            "names",
            f"attach-{name}",
            f"Attach {what}: {' or '.join(expect)}",
            ["LIFE-9", "ERR-2"],
            [_attach(expect, name=pattern)],
            harness,
        )
    c.add(
        "names",
        "attach-mode-0000",
        "Attach an object whose mode is 0000. bad_name when the OS refuses; a peer running as root (CI) may "
        "open it, so success is also accepted",
        ["LIFE-9", "LIFE-11", "ERR-2"],
        [_attach(["bad_name", "ok"])],
        {"by": "harness", "size": S, "mode": 0},
    )
    create_cases = [
        ("existing", "{name}", "the name of an existing object (it must stay untouched)"),
        ("existing-without-slash", "{bare}", "an existing object's name without its slash"),
        ("inner-slash", "{missing}/x", "a name with a '/' inside"),
        ("embedded-nul", "{missing}\u0000x", "a name with an embedded NUL"),
        ("overlong-300", "/" + "c" * 300, "a 300-byte name"),
        ("empty", "", "the empty name"),
        ("only-slash", "/", "just '/'"),
    ]
    for name, pattern, what in create_cases:
        c.add(
            "names",
            f"create-{name}",
            f"Create {what}: bad_name, and no new object is left behind",
            ["LIFE-1", "LIFE-9", "ERR-2"],
            [_step("create", ["bad_name"], name=pattern, size=S)],
            harness,
            needs=["named_create"],
        )


# --- generation ----------------------------------------------------------------------


def generate() -> dict[str, bytes]:
    """Every corpus file, relative path (``<group>/<file>``) to bytes."""
    ipc_by_name = {case.name: case for case in ipc_cases()}
    regions = {n: ipc_by_name[n].region for n in ("signed-ints", "dict-int8-utf8", "strings")}
    batches = {n: ipc_by_name[n].batch for n in regions}
    schemas = {n: b.schema for n, b in batches.items()}
    corpus = _Corpus()
    builders: list[Callable[[], None]] = [
        lambda: _headers(corpus),
        lambda: _tables(corpus, regions),
        lambda: _pointers(corpus, regions, schemas),
        lambda: _regions(corpus, regions, batches),
        lambda: _arrays(corpus),
        lambda: _shrunk(corpus, regions),
        lambda: _names(corpus),
    ]
    for build in builders:
        build()
    return dict(sorted(corpus.files.items()))


def owned_files(root: Path = CORPUS_DIR) -> list[str]:
    """Generated files under ``root`` (everything in the group folders; README.md is not one)."""
    return sorted(
        p.relative_to(root).as_posix()
        for g in GROUPS
        if (root / g).is_dir()
        for p in (root / g).iterdir()
        if p.is_file()
    )


def regenerate(root: Path = CORPUS_DIR) -> list[Path]:
    """Write the corpus under ``root``, removing stale generated files; the paths written."""
    files = generate()
    for rel in owned_files(root):
        if rel not in files:
            (root / rel).unlink()
    written: list[Path] = []
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    return written


def check(root: Path = CORPUS_DIR) -> list[str]:
    """Differences between the checked-in corpus and a fresh generation; [] when identical."""
    with tempfile.TemporaryDirectory(prefix="vgis-adversarial-") as tmp:
        fresh = Path(tmp)
        regenerate(fresh)
        want = {rel: (fresh / rel).read_bytes() for rel in owned_files(fresh)}
    have = owned_files(root)
    problems = [f"{rel}: missing (the generator writes it)" for rel in sorted(set(want) - set(have))]
    problems += [f"{rel}: stale (the generator no longer writes it)" for rel in sorted(set(have) - set(want))]
    problems += [
        f"{rel}: differs from the generator's output"
        for rel in sorted(set(want) & set(have))
        if (root / rel).read_bytes() != want[rel]
    ]
    return problems


def main(argv: list[str]) -> int:
    """``--regenerate`` writes the corpus; ``--check`` lists differences (exit 1 if any)."""
    if argv == ["--regenerate"]:
        written = regenerate()
        print(f"wrote {len(written)} files under {CORPUS_DIR}")
        return 0
    if argv == ["--check"]:
        problems = check()
        for line in problems:
            print(line)
        return 1 if problems else 0
    print("usage: python -m vgis_conformance.adversarial --regenerate | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
