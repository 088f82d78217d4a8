"""The catalogue of record batches behind the IPC and pointer fixtures.

Every batch is built from explicit values (or from arithmetic sequences for
the large ones), never from unseeded randomness, so that regenerating the
fixtures reproduces them byte for byte. Each entry names the spec clauses it
exercises beyond the framing clauses every region exercises.

Names are kebab-case and become file names under ``fixtures/ipc/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa


@dataclass(frozen=True)
class BatchSpec:
    """One catalogue entry: a named, described, deterministic batch."""

    name: str
    description: str
    build: Callable[[], pa.RecordBatch]
    clauses: tuple[str, ...] = ()


def _batch(columns: dict[str, pa.Array], metadata: dict[str, str] | None = None) -> pa.RecordBatch:
    schema = pa.schema([pa.field(name, array.type) for name, array in columns.items()], metadata=metadata)
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=schema)


# --- non-dictionary batches -------------------------------------------------


def _signed_ints() -> pa.RecordBatch:
    cols: dict[str, pa.Array] = {}
    for bits in (8, 16, 32, 64):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        cols[f"i{bits}"] = pa.array([lo, -1, 0, None, 1, hi], _int(bits, True))
    return _batch(cols)


def _int(bits: int, signed: bool) -> pa.DataType:
    table = {
        (8, True): pa.int8(),
        (16, True): pa.int16(),
        (32, True): pa.int32(),
        (64, True): pa.int64(),
        (8, False): pa.uint8(),
        (16, False): pa.uint16(),
        (32, False): pa.uint32(),
        (64, False): pa.uint64(),
    }
    return table[(bits, signed)]


def _unsigned_ints() -> pa.RecordBatch:
    cols = {
        f"u{bits}": pa.array([0, 1, None, (1 << bits) - 2, (1 << bits) - 1], _int(bits, False))
        for bits in (8, 16, 32, 64)
    }
    return _batch(cols)


def _floats() -> pa.RecordBatch:
    inf = float("inf")
    return _batch(
        {
            "f16": pa.array([0.0, -0.0, 1.5, None, -65504.0, inf, -inf, 6.103515625e-05], pa.float16()),
            "f32": pa.array(
                [0.0, -0.0, 1.5, None, 3.4028234663852886e38, inf, -inf, 1.401298464324817e-45], pa.float32()
            ),
            "f64": pa.array([0.0, -0.0, 1.5, None, 1.7976931348623157e308, inf, -inf, 5e-324], pa.float64()),
        }
    )


def _bools() -> pa.RecordBatch:
    values = [True, False, None, True, True, False, None, False, True, True, False]
    return _batch({"b": pa.array(values, pa.bool_()), "all_true": pa.array([True] * 11, pa.bool_())})


def _strings() -> pa.RecordBatch:
    values = ["", "a", None, "héllo wörld", "日本語テキスト", "emoji 🦀🐍", "tab\tnew\nline", "\u0000nul"]
    return _batch({"utf8": pa.array(values, pa.utf8()), "large_utf8": pa.array(values, pa.large_utf8())})


def _binaries() -> pa.RecordBatch:
    values = [b"", b"\x00", None, b"\xff\xfe\xfd", bytes(range(32)), b"VGIS"]
    fixed = [b"\x00\x01\x02\x03", None, b"\xff\xff\xff\xff", b"abcd", b"VGIS", b"\x80\x00\x00\x7f"]
    return _batch(
        {
            "binary": pa.array(values, pa.binary()),
            "large_binary": pa.array(values, pa.large_binary()),
            "fixed4": pa.array(fixed, pa.binary(4)),
        }
    )


def _decimals() -> pa.RecordBatch:
    d128 = [
        Decimal("0"),
        Decimal("-1.5"),
        None,
        Decimal("1234567890123456789012345678.0123456789"),
        Decimal("-0.0000000001"),
    ]
    d256 = [
        Decimal("0"),
        Decimal("-1.5"),
        None,
        Decimal("12345678901234567890123456789012345678901234567890123456.01234567890123456789"),
        Decimal("-0.00000000000000000001"),
    ]
    return _batch(
        {
            "d128": pa.array(d128, pa.decimal128(38, 10)),
            "d128_small": pa.array(
                [Decimal("1.23"), Decimal("-9.99"), None, Decimal("0.01"), Decimal("5.00")],
                pa.decimal128(5, 2),
            ),
            "d256": pa.array(d256, pa.decimal256(76, 20)),
        }
    )


def _dates_times() -> pa.RecordBatch:
    dates = [dt.date(1970, 1, 1), dt.date(1969, 12, 31), None, dt.date(2000, 2, 29), dt.date(9999, 12, 31)]
    times = [dt.time(0, 0), dt.time(12, 34, 56), None, dt.time(23, 59, 59), dt.time(1, 2, 3)]
    times_frac = [
        dt.time(0, 0),
        dt.time(12, 34, 56, 789000),
        None,
        dt.time(23, 59, 59, 999999),
        dt.time(1, 2, 3, 4),
    ]
    return _batch(
        {
            "date32": pa.array(dates, pa.date32()),
            "date64": pa.array(dates, pa.date64()),
            "time32_s": pa.array(times, pa.time32("s")),
            "time32_ms": pa.array([0, 45_296_789, None, 86_399_999, 1], pa.time32("ms")),
            "time64_us": pa.array(times_frac, pa.time64("us")),
            "time64_ns": pa.array([0, 45_296_789_012_345, None, 86_399_999_999_999, 1], pa.time64("ns")),
        }
    )


def _timestamps() -> pa.RecordBatch:
    raw = [0, -1, None, 1_700_000_000, 253_402_300_799]
    cols: dict[str, pa.Array] = {}
    for unit, scale in (("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)):
        values = [None if v is None else v * scale for v in raw]
        if unit == "ns":
            values[-1] = 9_223_372_036_854_775_807
        cols[f"ts_{unit}"] = pa.array(values, pa.timestamp(unit))
    for label, tz in (("utc", "UTC"), ("new_york", "America/New_York"), ("offset", "+05:30")):
        cols[f"ts_us_{label}"] = pa.array([None if v is None else v * 1_000_000 for v in raw], pa.timestamp("us", tz))
    cols["ts_ns_utc"] = pa.array([0, 1, None, 1_700_000_000_123_456_789, -1], pa.timestamp("ns", "UTC"))
    return _batch(cols)


def _durations() -> pa.RecordBatch:
    values = [0, -1, None, 1, 9_223_372_036_854_775_807, -9_223_372_036_854_775_808]
    return _batch({f"dur_{unit}": pa.array(values, pa.duration(unit)) for unit in ("s", "ms", "us", "ns")})


def _lists() -> pa.RecordBatch:
    return _batch(
        {
            "list_i32": pa.array([[1, 2, 3], [], None, [None, 4], [5]], pa.list_(pa.int32())),
            "large_list_utf8": pa.array([["a"], None, [], ["b", None, ""], ["c", "d"]], pa.large_list(pa.utf8())),
            "fixed_list_f32": pa.array(
                [[1.0, 2.0, 3.0], None, [0.0, -0.0, 0.5], [None, 1.0, 2.0], [7.0, 8.0, 9.0]],
                pa.list_(pa.float32(), 3),
            ),
            "list_list_i8": pa.array([[[1], [2, 3]], [[]], None, [None, [4]], []], pa.list_(pa.list_(pa.int8()))),
        }
    )


def _structs() -> pa.RecordBatch:
    inner = pa.struct([pa.field("x", pa.float64()), pa.field("tags", pa.list_(pa.utf8()))])
    outer = pa.struct(
        [pa.field("id", pa.int32(), nullable=False), pa.field("name", pa.utf8()), pa.field("inner", inner)]
    )
    rows = [
        {"id": 1, "name": "one", "inner": {"x": 1.0, "tags": ["a", "b"]}},
        None,
        {"id": 3, "name": None, "inner": None},
        {"id": 4, "name": "", "inner": {"x": None, "tags": []}},
    ]
    return _batch({"s": pa.array(rows, outer)})


def _maps() -> pa.RecordBatch:
    rows = [[("a", 1), ("b", 2)], [], None, [("c", None)], [("d", 4), ("e", 5), ("f", 6)]]
    return _batch(
        {
            "map_utf8_i64": pa.array(rows, pa.map_(pa.utf8(), pa.int64())),
            "map_sorted": pa.array(
                [[(1, "x")], None, [], [(2, "y"), (3, None)], [(4, "z")]],
                pa.map_(pa.int32(), pa.utf8(), keys_sorted=True),
            ),
        }
    )


def _unions() -> pa.RecordBatch:
    dense = pa.UnionArray.from_dense(
        pa.array([0, 1, 0, 2, 1, 0], pa.int8()),
        pa.array([0, 0, 1, 0, 1, 2], pa.int32()),
        [pa.array([1, None, 3], pa.int64()), pa.array(["x", "y"], pa.utf8()), pa.array([True], pa.bool_())],
        ["int", "str", "bool"],
    )
    sparse = pa.UnionArray.from_sparse(
        pa.array([5, 7, 7, 5, 5, 7], pa.int8()),
        [
            pa.array([10, 11, 12, None, 14, 15], pa.int16()),
            pa.array([0.5, 1.5, None, 3.5, 4.5, 5.5], pa.float64()),
        ],
        ["i16", "f64"],
        [5, 7],
    )
    return _batch({"dense": dense, "sparse": sparse})


def _union_code_127() -> pa.RecordBatch:
    """Type codes at the ends of the int8 range: a writer that widens or sums them in int8 overflows."""
    dense = pa.UnionArray.from_dense(
        pa.array([127, 0, 127, 127], pa.int8()),
        pa.array([0, 0, 1, 2], pa.int32()),
        [pa.array([1, 2], pa.int32()), pa.array(["a", None, "c"], pa.utf8())],
        ["zero", "max"],
        [0, 127],
    )
    sparse = pa.UnionArray.from_sparse(
        pa.array([126, 127, 127, 126], pa.int8()),
        [pa.array([True, None, False, True], pa.bool_()), pa.array([1.0, 2.0, None, 4.0], pa.float32())],
        ["b", "f"],
        [126, 127],
    )
    return _batch({"dense": dense, "sparse": sparse})


_ALL_NULL_TYPES: tuple[tuple[str, pa.DataType], ...] = (
    ("null", pa.null()),
    ("bool", pa.bool_()),
    ("i8", pa.int8()),
    ("u64", pa.uint64()),
    ("f16", pa.float16()),
    ("f64", pa.float64()),
    ("utf8", pa.utf8()),
    ("large_binary", pa.large_binary()),
    ("fixed3", pa.binary(3)),
    ("d128", pa.decimal128(10, 2)),
    ("date32", pa.date32()),
    ("ts_tz", pa.timestamp("ms", "UTC")),
    ("list", pa.list_(pa.int32())),
    ("fixed_list", pa.list_(pa.int8(), 2)),
    ("struct", pa.struct([pa.field("a", pa.int32()), pa.field("b", pa.utf8())])),
    ("map", pa.map_(pa.utf8(), pa.int32())),
)


def _nulls_everywhere() -> pa.RecordBatch:
    return _batch({name: pa.array([None] * 7, t) for name, t in _ALL_NULL_TYPES})


def _empty_strings() -> pa.RecordBatch:
    n = 6
    return _batch(
        {
            "utf8": pa.array([""] * n, pa.utf8()),
            "large_utf8": pa.array([""] * n, pa.large_utf8()),
            "binary": pa.array([b""] * n, pa.binary()),
            "large_binary": pa.array([b""] * n, pa.large_binary()),
            "list": pa.array([[]] * n, pa.list_(pa.utf8())),
        }
    )


def _mixed(rows: int) -> pa.RecordBatch:
    return _batch(
        {
            "i": pa.array([None if i % 5 == 3 else i * 7 - 20 for i in range(rows)], pa.int32()),
            "b": pa.array([None if i % 7 == 2 else i % 3 == 0 for i in range(rows)], pa.bool_()),
            "s": pa.array([None if i % 4 == 1 else "v" * (i % 6) for i in range(rows)], pa.utf8()),
            "l": pa.array([None if i % 6 == 5 else list(range(i % 4)) for i in range(rows)], pa.list_(pa.int16())),
            "st": pa.array(
                [None if i % 8 == 0 else {"k": i, "v": str(i)} for i in range(rows)],
                pa.struct([pa.field("k", pa.int64()), pa.field("v", pa.utf8())]),
            ),
        }
    )


def _sliced() -> pa.RecordBatch:
    return _mixed(40).slice(3, 17)


def _single_row() -> pa.RecordBatch:
    return _batch({"x": pa.array([42], pa.int64()), "s": pa.array(["only"], pa.utf8())})


def _wide() -> pa.RecordBatch:
    kinds: tuple[pa.DataType, ...] = (pa.int32(), pa.utf8(), pa.float64(), pa.bool_(), pa.list_(pa.int8()))
    fields = []
    arrays = []
    for c in range(200):
        t = kinds[c % len(kinds)]
        name = f"column_{c:03d}_with_a_deliberately_long_field_name_to_stretch_the_schema_message"
        metadata = {"ordinal": str(c)} if c % 50 == 0 else None
        fields.append(pa.field(name, t, metadata=metadata))
        if t == pa.int32():
            values: list[object] = [c, -c, None]
        elif t == pa.utf8():
            values = [f"r0c{c}", None, ""]
        elif t == pa.float64():
            values = [c / 4, None, -c / 8]
        elif t == pa.bool_():
            values = [c % 2 == 0, None, True]
        else:
            values = [[c % 128], [], None]
        arrays.append(pa.array(values, t))
    schema = pa.schema(
        fields,
        metadata={
            "origin": "vgis-conformance fixtures",
            "description": "a 200-column batch with long field names and schema metadata",
            "empty": "",
        },
    )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _large() -> pa.RecordBatch:
    rows = 1 << 18
    return _batch(
        {
            "seq": pa.array(range(rows), pa.int64()),
            "half": pa.array([i * 0.5 for i in range(rows)], pa.float64()),
        }
    )


def _view_types() -> pa.RecordBatch:
    values = ["", "short", None, "a string longer than twelve bytes, stored out of line", "x" * 13]
    return _batch(
        {
            "string_view": pa.array(values, pa.string_view()),
            "binary_view": pa.array([None if v is None else v.encode() for v in values], pa.binary_view()),
        }
    )


def _list_views() -> pa.RecordBatch:
    return _batch(
        {
            "list_view": pa.array([[1, 2], [], None, [3]], pa.list_view(pa.int32())),
            "large_list_view": pa.array([["a"], None, [], ["b", "c"]], pa.large_list_view(pa.utf8())),
        }
    )


def _run_end_encoded() -> pa.RecordBatch:
    ree = pa.RunEndEncodedArray.from_arrays(pa.array([2, 3, 6], pa.int32()), pa.array(["a", None, "b"], pa.utf8()))
    return _batch({"ree": ree})


def _intervals() -> pa.RecordBatch:
    values = [pa.MonthDayNano([1, 2, 3]), None, pa.MonthDayNano([-1, 0, -1]), pa.MonthDayNano([0, 0, 0])]
    return _batch({"mdn": pa.array(values, pa.month_day_nano_interval())})


# --- dictionary batches -----------------------------------------------------


def _dictionary(indices: pa.Array, values: pa.Array, ordered: bool = False) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(indices, values, ordered=ordered)


def _dict_int8_utf8() -> pa.RecordBatch:
    col = _dictionary(pa.array([0, 1, 2, 1, 0, 0], pa.int8()), pa.array(["red", "green", "blue"], pa.utf8()))
    return _batch({"color": col})


def _dict_int32_int64() -> pa.RecordBatch:
    col = _dictionary(pa.array([3, 0, 2, 2, 1, 3, 0], pa.int32()), pa.array([-1, 1_000_000_007, 0, 42], pa.int64()))
    return _batch({"code": col, "plain": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int16())})


def _dict_null_indices() -> pa.RecordBatch:
    col = _dictionary(pa.array([0, None, 1, None, 0], pa.int16()), pa.array(["yes", "no"], pa.utf8()))
    return _batch({"answer": col})


def _dict_null_values() -> pa.RecordBatch:
    col = _dictionary(pa.array([0, 1, 2, 1, 3], pa.int32()), pa.array(["a", None, "", "d"], pa.utf8()))
    return _batch({"v": col})


def _dict_ordered() -> pa.RecordBatch:
    col = _dictionary(pa.array([2, 0, 1, 2], pa.int8()), pa.array(["low", "medium", "high"], pa.utf8()), ordered=True)
    return _batch({"level": col})


def _dict_two_columns() -> pa.RecordBatch:
    a = _dictionary(pa.array([0, 1, 0, 1, 2], pa.int8()), pa.array(["x", "y", "z"], pa.utf8()))
    b = _dictionary(pa.array([1, 1, 0, None, 0], pa.int32()), pa.array([10, 20], pa.int32()))
    return _batch({"a": a, "plain": pa.array(["p", "q", None, "r", "s"], pa.utf8()), "b": b})


def _dict_unused_values() -> pa.RecordBatch:
    col = _dictionary(pa.array([1, 1, 1], pa.uint8()), pa.array(["never", "always", "unused"], pa.large_utf8()))
    return _batch({"u": col})


def _nested_dict_struct() -> pa.RecordBatch:
    d = _dictionary(pa.array([0, 1, None, 0], pa.int32()), pa.array(["alpha", "beta"], pa.utf8()))
    s = pa.StructArray.from_arrays([d, pa.array([1, 2, 3, 4], pa.int64())], names=["kind", "n"])
    return _batch({"s": s})


def _nested_dict_list() -> pa.RecordBatch:
    d = _dictionary(pa.array([0, 1, 1, 2, 0, 2], pa.int16()), pa.array(["u", "v", "w"], pa.utf8()))
    lst = pa.ListArray.from_arrays(pa.array([0, 2, 2, 5, 6], pa.int32()), d)
    return _batch({"l": lst})


def _dict_top_and_nested() -> pa.RecordBatch:
    top = _dictionary(pa.array([0, 0, 1], pa.int8()), pa.array(["t0", "t1"], pa.utf8()))
    inner = _dictionary(pa.array([1, 0, 1], pa.int32()), pa.array(["n0", "n1"], pa.utf8()))
    s = pa.StructArray.from_arrays([inner], names=["inner"])
    return _batch({"top": top, "s": s})


NESTED = ("FRAME-4",)
NEWER = "Newer Arrow layout; libraries without it are expected to fail this case. "

CATALOG: tuple[BatchSpec, ...] = (
    BatchSpec("signed-ints", "int8/16/32/64 with min, max, -1, 0, 1 and a null", _signed_ints),
    BatchSpec("unsigned-ints", "uint8/16/32/64 with 0, 1, max-1, max and a null", _unsigned_ints),
    BatchSpec("floats", "float16/32/64: signed zeros, infinities, extremes, subnormals, a null", _floats),
    BatchSpec("bools", "booleans with nulls across a byte boundary", _bools),
    BatchSpec("strings", "utf8 and large_utf8: empty, multi-byte, control characters, a null", _strings),
    BatchSpec("binaries", "binary, large_binary and fixed_size_binary(4) with empty and null values", _binaries),
    BatchSpec("decimals", "decimal128(38,10), decimal128(5,2) and decimal256(76,20), negatives and nulls", _decimals),
    BatchSpec("dates-times", "date32, date64, time32 s/ms, time64 us/ns", _dates_times),
    BatchSpec("timestamps", "timestamps s/ms/us/ns without zone; UTC, America/New_York and +05:30", _timestamps),
    BatchSpec("durations", "durations s/ms/us/ns including int64 extremes", _durations),
    BatchSpec("lists", "list<int32>, large_list<utf8>, fixed_size_list<float32,3>, list<list<int8>>", _lists),
    BatchSpec("structs", "struct with a non-nullable child, a nested struct and a list child", _structs),
    BatchSpec("maps", "map<utf8,int64> and a keys-sorted map<int32,utf8>", _maps),
    BatchSpec("unions", "a dense union (int64|utf8|bool) and a sparse union with type codes 5 and 7", _unions),
    BatchSpec(
        "union-type-code-127", "a dense union with type codes 0 and 127, a sparse one with 126 and 127", _union_code_127
    ),
    BatchSpec("nulls-everywhere", "sixteen columns of many types, every value null", _nulls_everywhere),
    BatchSpec(
        "empty-strings",
        "utf8, large_utf8, binary, large_binary and lists made only of empty values",
        _empty_strings,
    ),
    BatchSpec("sliced", "rows 3 to 19 of a 40-row mixed batch: bitmaps and offsets start mid-buffer", _sliced),
    BatchSpec("single-row", "one row, two columns", _single_row),
    BatchSpec(
        "wide-200-columns",
        "200 columns of five types, 80-character field names, schema and field metadata",
        _wide,
    ),
    BatchSpec("large-4mb", "262,144 rows of int64 and float64 (about 4 MiB)", _large),
    BatchSpec("view-types", NEWER + "string_view and binary_view with inline and out-of-line values", _view_types),
    BatchSpec("list-views", NEWER + "list_view<int32> and large_list_view<utf8>", _list_views),
    BatchSpec("run-end-encoded", NEWER + "run_end_encoded<int32, utf8>", _run_end_encoded),
    BatchSpec("interval-month-day-nano", NEWER + "month_day_nano interval", _intervals),
    BatchSpec("dict-int8-utf8", "top-level dictionary: int8 indices, utf8 values", _dict_int8_utf8),
    BatchSpec(
        "dict-int32-int64",
        "top-level dictionary: int32 indices, int64 values, next to a plain column",
        _dict_int32_int64,
    ),
    BatchSpec("dict-null-indices", "top-level dictionary with null indices (int16)", _dict_null_indices),
    BatchSpec(
        "dict-null-values",
        "top-level dictionary whose values hold a null and an empty string",
        _dict_null_values,
    ),
    BatchSpec("dict-ordered", "top-level ordered dictionary", _dict_ordered),
    BatchSpec("dict-two-columns", "two top-level dictionary columns around a plain column", _dict_two_columns),
    BatchSpec(
        "dict-unused-values",
        "uint8 indices; the dictionary holds values no row uses (large_utf8)",
        _dict_unused_values,
    ),
    BatchSpec(
        "nested-dict-struct",
        "a struct with a dictionary child: stream framing with a dictionary message",
        _nested_dict_struct,
        NESTED,
    ),
    BatchSpec(
        "nested-dict-list",
        "a list of dictionary-encoded strings: stream framing with a dictionary message",
        _nested_dict_list,
        NESTED,
    ),
    BatchSpec(
        "dict-top-and-nested",
        "a top-level dictionary next to a struct with a dictionary child",
        _dict_top_and_nested,
    ),
)
