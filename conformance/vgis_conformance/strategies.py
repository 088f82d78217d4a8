"""Hypothesis strategies for Arrow data types, schemas and record batches.

Shared by the reference's own tests (``tests/``) and the conformance suite.
Types cover every layout the framing has to carry: primitives, variable-size
binary, struct, list, large_list, fixed_size_list, map, sparse and dense
unions, and dictionary types both top-level (FRAME-3) and nested inside the
other nested types (FRAME-4). Arrays are built bottom-up with the Arrow
constructors, so that every generated batch is valid and has exactly the
requested type. Sizes stay small so that generation is fast.

Floats never include NaN, so that ``RecordBatch.equals`` is a usable oracle
for round trips.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

MAX_ROWS = 5
MAX_LIST = 3

_INT_RANGES: dict[Any, tuple[int, int]] = {
    pa.int8(): (-(1 << 7), (1 << 7) - 1),
    pa.int16(): (-(1 << 15), (1 << 15) - 1),
    pa.int32(): (-(1 << 31), (1 << 31) - 1),
    pa.int64(): (-(1 << 63), (1 << 63) - 1),
    pa.uint8(): (0, (1 << 8) - 1),
    pa.uint16(): (0, (1 << 16) - 1),
    pa.uint32(): (0, (1 << 32) - 1),
    pa.uint64(): (0, (1 << 64) - 1),
}

DECIMAL = pa.decimal128(10, 2)

# Types whose Python values pa.array() accepts directly; temporal types take integers.
PRIMITIVE_TYPES: tuple[Any, ...] = (
    pa.null(),
    pa.bool_(),
    *_INT_RANGES,
    pa.float32(),
    pa.float64(),
    pa.string(),
    pa.large_string(),
    pa.binary(),
    pa.large_binary(),
    pa.binary(3),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("ms", tz="UTC"),
    pa.time64("us"),
    pa.duration("ns"),
    DECIMAL,
)

MAP_KEY_TYPES: tuple[Any, ...] = (pa.int32(), pa.int64(), pa.string(), pa.binary())
DICTIONARY_INDEX_TYPES: tuple[Any, ...] = (pa.int8(), pa.int16(), pa.int32(), pa.int64())
DICTIONARY_VALUE_TYPES: tuple[Any, ...] = (pa.string(), pa.large_string(), pa.binary(), pa.int64(), pa.float64())


@functools.lru_cache(maxsize=256)
def _values(dtype: Any) -> st.SearchStrategy[Any]:
    """Non-null Python values of a primitive type, as pa.array() takes them."""
    if pa.types.is_null(dtype):
        return st.none()
    if pa.types.is_boolean(dtype):
        return st.booleans()
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        return st.integers(low, high)
    if pa.types.is_float32(dtype):
        return st.floats(allow_nan=False, width=32)
    if pa.types.is_float64(dtype):
        return st.floats(allow_nan=False)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return st.text(max_size=6)
    if pa.types.is_fixed_size_binary(dtype):
        return st.binary(min_size=dtype.byte_width, max_size=dtype.byte_width)
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return st.binary(max_size=6)
    if pa.types.is_date32(dtype):
        return st.integers(-100_000, 100_000)
    if pa.types.is_timestamp(dtype) or pa.types.is_duration(dtype):
        return st.integers(-(1 << 50), 1 << 50)
    if pa.types.is_time64(dtype):
        return st.integers(0, 86_400 * 1_000_000 - 1)
    if pa.types.is_decimal(dtype):
        bound = 10**dtype.precision - 1
        return st.integers(-bound, bound).map(lambda i: decimal.Decimal(i).scaleb(-dtype.scale))
    raise ValueError(f"no value strategy for {dtype}")


@functools.cache
def dictionary_types() -> st.SearchStrategy[Any]:
    """Dictionary types over primitive value types, signed indices, unordered."""
    return st.builds(
        pa.dictionary,
        st.sampled_from(DICTIONARY_INDEX_TYPES),
        st.sampled_from(DICTIONARY_VALUE_TYPES),
    )


def _struct(children: list[Any]) -> Any:
    return pa.struct([pa.field(f"f{i}", t) for i, t in enumerate(children)])


def _union(mode: str) -> Callable[[tuple[list[Any], list[int]]], Any]:
    def build(args: tuple[list[Any], list[int]]) -> Any:
        children, codes = args
        fields = [pa.field(f"u{i}", t) for i, t in enumerate(children)]
        return pa.union(fields, mode, sorted(codes[: len(fields)]))

    return build


@functools.cache
def data_types(dictionaries: bool = True, max_leaves: int = 3) -> st.SearchStrategy[Any]:
    """Arrow data types: primitives, optionally dictionaries, and nested types of them."""
    leaves: st.SearchStrategy[Any] = st.sampled_from(PRIMITIVE_TYPES)
    if dictionaries:
        leaves = st.one_of(leaves, dictionary_types())

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        union_args = st.tuples(
            st.lists(children, min_size=1, max_size=3),
            st.lists(st.integers(0, 127), min_size=3, max_size=3, unique=True),
        )
        return st.one_of(
            st.lists(children, min_size=1, max_size=3).map(_struct),
            children.map(pa.list_),
            children.map(pa.large_list),
            st.builds(pa.list_, children, st.integers(1, 3)),
            st.builds(pa.map_, st.sampled_from(MAP_KEY_TYPES), children),
            union_args.map(_union("sparse")),
            union_args.map(_union("dense")),
        )

    # Leaves drawn directly as often as nested types, so that top-level
    # dictionaries and primitives are common and not only deep nestings.
    return st.one_of(leaves, st.recursive(leaves, extend, max_leaves=max_leaves))


@functools.lru_cache(maxsize=256)
def _mask(length: int) -> st.SearchStrategy[Any]:
    """None (no nulls) or a boolean validity mask, True meaning null."""
    return st.one_of(
        st.none(),
        st.lists(st.booleans(), min_size=length, max_size=length).map(lambda m: pa.array(m, pa.bool_())),
    )


def _offsets(draw: st.DrawFn, length: int) -> list[int]:
    sizes = draw(st.lists(st.integers(0, MAX_LIST), min_size=length, max_size=length))
    offsets = [0]
    for size in sizes:
        offsets.append(offsets[-1] + size)
    return offsets


@functools.lru_cache(maxsize=4096)
def arrays(dtype: Any, length: int, nullable: bool = True) -> st.SearchStrategy[Any]:
    """Arrays of exactly ``dtype`` and ``length``; ``nullable=False`` draws no top-level null.

    Strategies are cached per arguments: building and validating a fresh
    strategy object for every node of every example dominates the run time.
    """
    return _arrays(dtype, length, nullable)


@st.composite
def _arrays(draw: st.DrawFn, /, dtype: Any, length: int, nullable: bool) -> Any:
    if pa.types.is_dictionary(dtype):
        size = draw(st.integers(1, 4))
        dictionary = draw(arrays(dtype.value_type, size, nullable=False))
        index = st.integers(0, size - 1)
        indices = draw(st.lists(st.one_of(st.none(), index) if nullable else index, min_size=length, max_size=length))
        return pa.DictionaryArray.from_arrays(pa.array(indices, dtype.index_type), dictionary)
    if pa.types.is_struct(dtype):
        children = [draw(arrays(field.type, length)) for field in dtype]
        mask = draw(_mask(length)) if nullable else None
        return pa.StructArray.from_arrays(children, fields=list(dtype), mask=mask)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_map(dtype):
        offsets = _offsets(draw, length)
        mask = draw(_mask(length)) if nullable else None
        if pa.types.is_map(dtype):
            keys = draw(arrays(dtype.key_type, offsets[-1], nullable=False))
            items = draw(arrays(dtype.item_type, offsets[-1]))
            return pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), keys, items, type=dtype, mask=mask)
        values = draw(arrays(dtype.value_type, offsets[-1]))
        if pa.types.is_list(dtype):
            return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=dtype, mask=mask)
        return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values, type=dtype, mask=mask)
    if pa.types.is_fixed_size_list(dtype):
        values = draw(arrays(dtype.value_type, length * dtype.list_size))
        mask = draw(_mask(length)) if nullable else None
        return pa.FixedSizeListArray.from_arrays(values, type=dtype, mask=mask)
    if pa.types.is_union(dtype):
        codes = list(dtype.type_codes)
        names = [field.name for field in dtype]
        ids = draw(st.lists(st.sampled_from(range(len(codes))), min_size=length, max_size=length))
        types = pa.array([codes[i] for i in ids], pa.int8())
        if dtype.mode == "sparse":
            children = [draw(arrays(field.type, length)) for field in dtype]
            return pa.UnionArray.from_sparse(types, children, names, codes)
        counts = [0] * len(codes)
        value_offsets = []
        for i in ids:
            value_offsets.append(counts[i])
            counts[i] += 1
        children = [draw(arrays(field.type, n)) for field, n in zip(dtype, counts, strict=True)]
        return pa.UnionArray.from_dense(types, pa.array(value_offsets, pa.int32()), children, names, codes)
    values = _values(dtype)
    if nullable and not pa.types.is_null(dtype):
        values = st.one_of(st.none(), values)
    return pa.array(draw(st.lists(values, min_size=length, max_size=length)), type=dtype)


@functools.cache
def _field_types(dictionaries: bool, no_top_level_dictionary: bool) -> st.SearchStrategy[Any]:
    types = data_types(dictionaries=dictionaries)
    if no_top_level_dictionary:
        types = types.filter(lambda t: not pa.types.is_dictionary(t))
    return types


@st.composite
def schemas(
    draw: st.DrawFn,
    /,
    min_fields: int = 1,
    max_fields: int = 3,
    dictionaries: bool = True,
    top_level_dictionary: bool | None = None,
) -> Any:
    """Schemas of ``c0..cN`` fields.

    ``top_level_dictionary`` True forces at least one top-level dictionary
    field (the FRAME-3 framing), False forbids them (FRAME-1 framing; nested
    dictionaries are still drawn when ``dictionaries``), None leaves it free.
    """
    types = _field_types(dictionaries, top_level_dictionary is False)
    fields = draw(st.lists(types, min_size=min_fields, max_size=max_fields))
    if top_level_dictionary and not any(pa.types.is_dictionary(t) for t in fields):
        position = draw(st.integers(0, len(fields)))
        fields.insert(position, draw(dictionary_types()))
    return pa.schema([pa.field(f"c{i}", t) for i, t in enumerate(fields)])


@st.composite
def record_batches(
    draw: st.DrawFn,
    /,
    schema: Any = None,
    min_rows: int = 1,
    max_rows: int = MAX_ROWS,
    **schema_options: Any,
) -> Any:
    """A record batch of ``schema`` (or a drawn schema) with ``min_rows..max_rows`` rows."""
    if schema is None:
        schema = draw(schemas(**schema_options))
    length = draw(st.integers(min_rows, max_rows))
    columns = [draw(arrays(field.type, length)) for field in schema]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def contains_dictionary(dtype: Any) -> bool:
    """True when ``dtype`` is or nests a dictionary type."""
    if pa.types.is_dictionary(dtype):
        return True
    return any(contains_dictionary(dtype.field(i).type) for i in range(dtype.num_fields))
