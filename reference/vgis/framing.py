"""How a batch is laid out as bytes in a region (FRAME-*).

Two framings: a complete IPC stream for schemas without a top-level
dictionary field, and only the dictionary and record-batch messages for
schemas with one (the reader rebuilds the stream from the pointer batch's
schema). Arrow itself does the encoding; this module only frames it.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa
import pyarrow.ipc as ipc

from vgis.errors import IpcError, SchemaMismatch

CONTINUATION = b"\xff\xff\xff\xff"
EOS = CONTINUATION + b"\x00\x00\x00\x00"


class Framing(StrEnum):
    """The two region framings."""

    STREAM = "stream"
    MESSAGES = "messages"


def has_top_level_dictionary(schema: pa.Schema) -> bool:
    """True when any top-level field is dictionary-encoded (FRAME-3)."""
    return any(pa.types.is_dictionary(field.type) for field in schema)


def framing_of(schema: pa.Schema) -> Framing:
    """Which framing a schema's regions use (FRAME-1, FRAME-3, FRAME-4)."""
    return Framing.MESSAGES if has_top_level_dictionary(schema) else Framing.STREAM


# The options ``ipc.new_stream`` would derive, stated once: a writer built with them skips new_stream's
# per-call environment lookups (ARROW_PRE_0_15_IPC_FORMAT), which cost as much as writing a 16 KiB batch.
_WRITE_OPTIONS = ipc.IpcWriteOptions()

# What BufferedOutputStream gathers before the message-framing sink sees it: metadata, padding and small
# buffers reach Python as one write, and buffers at least this large go straight through uncopied.
_GATHER = 64 * 1024

# Message framing of a batch up to this many bytes is written once into memory and copied, not sized by
# a mock pass and then streamed through Python (``Encoding``): measured, the crossover lies near 1 MiB.
_SCRATCH_LIMIT = 512 * 1024

# Message-framed regions from this size on are decoded zero-copy, smaller ones copied (``decode_region``).
_ZERO_COPY_FROM = 256 * 1024


class Validation(StrEnum):
    """How much of Arrow's validation ``decode_region`` runs on the batch it decoded (PTR-10, PTR-12).

    The stream reader itself checks the framing whatever the mode: flatbuffer verification, message
    lengths against the region's end, and that every buffer lies inside its message body. What the
    modes add is validation of the array data inside those buffers:

    ``FULL``: ``RecordBatch.validate(full=True)`` (Arrow's ``ValidateFull``): every element, groups 1, 2
    and 3 of PTR-12. The harness's oracle uses it, so that a region the kit calls valid is valid to Arrow.

    ``SAFE`` (the default): ``RecordBatch.validate()`` (structural: buffer sizes against lengths and offsets,
    child lengths, first and last offsets, null counts not above lengths, the last run end), then
    ``validate(full=True)`` of every column viewed with its text types as the binary types of the same
    layout (utf8 as binary, large_utf8 as large_binary, string_view as binary_view, at any depth but
    inside dictionaries, whose values keep the UTF-8 check). That
    still checks every offset, view, dictionary index, union type id and offset and run end (groups 1 and
    2: everything that lets an access leave its buffers, so a hostile writer cannot make the caller read
    outside the region), and skips only the UTF-8 scan, which is most of ValidateFull's cost on text and
    cannot move an access (group 3: invalid UTF-8 is accepted; null counts and decimal precision are still
    checked). This is the mode a reader of someone else's segment uses.

    ``TRUSTED``: ``RecordBatch.validate()`` only (group 1). For a caller that vouches for the writer (its
    own process, or a peer it trusts not to be hostile or buggy): a region with decreasing offsets or a
    dictionary index past the dictionary (group 2) is handed back, and the caller's first access to it
    can read outside the region.
    """

    FULL = "full"
    SAFE = "safe"
    TRUSTED = "trusted"


def _write_stream(sink: pa.NativeFile, batch: pa.RecordBatch | None, schema: pa.Schema) -> None:
    with ipc.RecordBatchStreamWriter(sink, schema, options=_WRITE_OPTIONS) as writer:
        if batch is not None:
            writer.write_batch(batch)


def _has_dictionary(datatype: pa.DataType) -> bool:
    if pa.types.is_dictionary(datatype):
        return True
    return any(_has_dictionary(datatype.field(i).type) for i in range(datatype.num_fields))


def schema_message(schema: pa.Schema) -> bytes:
    """The encapsulated schema message alone, as a dictionary-framing reader rebuilds it.

    ``Schema.serialize`` is the stream writer's own schema message (same payload, same default options),
    in about a microsecond; that is cheaper than looking it up in a cache keyed by schema, and a cache
    keyed by ``pa.Schema`` would be wrong besides: schema equality ignores metadata, which the message
    carries.
    """
    return bytes(schema.serialize().to_pybytes())


class _MessagesSink:
    """A file that writes the stream written through it into ``dest``, less the schema message and EOS.

    The stream writer emits the schema message, the dictionary and record-batch messages, then EOS; the
    message framing is the middle part. The sink drops the first ``skip`` bytes, holds back the last
    eight until the next write shows they were not the end, and forwards the rest to a
    ``FixedSizeBufferWriter`` over ``dest``, which refuses to write past it (WRITE-3).
    """

    def __init__(self, dest: pa.Buffer, skip: int) -> None:
        self._out = pa.FixedSizeBufferWriter(dest)
        self._skip = skip
        self.held = b""
        self.pos = 0
        self.closed = False

    def write(self, data: bytes | pa.Buffer) -> int:
        view = memoryview(data)
        n = view.nbytes
        view = view[min(max(self._skip - self.pos, 0), n) :]
        self.pos += n
        if len(view) >= len(EOS):
            if self.held:
                self._out.write(self.held)
            if len(view) > len(EOS):
                self._out.write(view[: -len(EOS)])
            self.held = bytes(view[-len(EOS) :])
        elif len(view):
            held = self.held + bytes(view)
            if len(held) > len(EOS):
                self._out.write(held[: -len(EOS)])
            self.held = held[-len(EOS) :]
        return n

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    @property
    def kept(self) -> int:
        return int(self._out.tell())


@dataclass(frozen=True)
class Encoding:
    """A batch's region, sized exactly and ready to be written once into a buffer of at least ``size`` bytes.

    A writer must know the size before it allocates (WRITE-1), and each way of knowing it is chosen to
    cost the least serialisation:

    * stream framing without any dictionary: the stream is the schema message, one record-batch message
      and EOS, so the size is ``ipc.get_record_batch_size`` (Arrow's sizing of that message) plus the
      other two, and ``write`` runs the stream writer once, straight into the destination;
    * any other stream, and message framing of a batch over ``_SCRATCH_LIMIT`` bytes: one pass of the
      stream writer into a ``MockOutputStream`` for the size, and one into the destination;
    * message framing of a smaller batch: the stream is written once into memory and the region is its
      middle part, copied by ``write``; below the limit the copy costs less than a second pass would.
    """

    batch: pa.RecordBatch
    size: int
    framing: Framing
    region: pa.Buffer | None = None

    def write(self, dest: pa.Buffer) -> int:
        """Write the region into the mutable buffer ``dest``; returns bytes written.

        ``dest`` is fixed-size, so nothing is written past it (WRITE-3): a short ``dest`` raises.
        """
        if self.region is not None:
            pa.FixedSizeBufferWriter(dest).write(self.region)
            return int(self.region.size)
        if self.framing is Framing.STREAM:
            sink = pa.FixedSizeBufferWriter(dest)
            _write_stream(sink, self.batch, self.batch.schema)
            return int(sink.tell())
        skip = int(self.batch.schema.serialize().size)
        messages = _MessagesSink(dest, skip)
        gathered = pa.BufferedOutputStream(pa.PythonFile(messages, mode="w"), buffer_size=_GATHER)
        _write_stream(gathered, self.batch, self.batch.schema)
        gathered.flush()
        if messages.held != EOS or messages.pos != skip + messages.kept + len(EOS):
            raise IpcError("FRAME-3", "the stream writer's output is not a schema message, messages and EOS")
        return messages.kept


def encode(batch: pa.RecordBatch) -> Encoding:
    """Size ``batch``'s region (FRAME-1, FRAME-3), serialising it at most once (see ``Encoding``)."""
    schema = batch.schema
    kind = framing_of(schema)
    if kind is Framing.STREAM and not any(_has_dictionary(field.type) for field in schema):
        return Encoding(batch, int(schema.serialize().size + ipc.get_record_batch_size(batch) + len(EOS)), kind)
    if kind is Framing.MESSAGES and batch.get_total_buffer_size() <= _SCRATCH_LIMIT:
        sink = pa.BufferOutputStream()
        _write_stream(sink, batch, schema)
        full = sink.getvalue()
        skip = int(schema.serialize().size)
        region = full.slice(skip, full.size - skip - len(EOS))
        return Encoding(batch, int(region.size), kind, region)
    mock = pa.MockOutputStream()
    _write_stream(mock, batch, schema)
    size = int(mock.size())
    if kind is Framing.MESSAGES:
        size -= int(schema.serialize().size) + len(EOS)
    return Encoding(batch, size, kind)


def region_size(batch: pa.RecordBatch) -> int:
    """Exact byte length of ``batch``'s region."""
    return encode(batch).size


def write_region(dest: pa.Buffer, batch: pa.RecordBatch) -> int:
    """Encode ``batch`` into the mutable buffer ``dest``; returns bytes written (``Encoding.write``)."""
    return encode(batch).write(dest)


def encode_region(batch: pa.RecordBatch) -> bytes:
    """The region bytes of ``batch`` as a standalone ``bytes`` (for fixtures)."""
    out = bytearray(region_size(batch))
    written = write_region(pa.py_buffer(out), batch)
    assert written == len(out)
    return bytes(out)


class _Concatenation:
    """A read-only file over the schema message then the region, read without joining them.

    ``ipc.open_stream`` over ``pa.PythonFile(this)`` reads the dictionary-framed region zero-copy:
    ``read`` hands back memoryview slices, which Arrow wraps as buffers without copying, so the decoded
    arrays point into the region as the stream framing's do. Reads end at the region's end, so a truncated
    last message fails instead of borrowing bytes (no EOS is appended: the first record batch ends the read).
    """

    def __init__(self, head: pa.Buffer, region: pa.Buffer) -> None:
        self._parts = [memoryview(head), memoryview(region)]
        self._pos = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, nbytes: int = -1) -> memoryview | bytes:
        head = len(self._parts[0])
        total = head + len(self._parts[1])
        start = self._pos
        end = total if nbytes < 0 else min(total, start + nbytes)
        self._pos = end
        if end <= head:
            return self._parts[0][start:end]
        if start >= head:
            return self._parts[1][start - head : end - head]
        return bytes(self._parts[0][start:]) + bytes(self._parts[1][: end - head])

    def close(self) -> None:
        self.closed = True


_TEXT_AS_BYTES = {pa.utf8(): pa.binary(), pa.large_utf8(): pa.large_binary(), pa.string_view(): pa.binary_view()}


@functools.lru_cache(maxsize=1024)
def _text_as_bytes(datatype: pa.DataType) -> pa.DataType:
    """``datatype`` with every text type replaced by the binary type of its layout, for ``Array.view``.

    Types this does not know how to rebuild (extension types among them) come back unchanged, so their
    columns get full validation, UTF-8 included: never less than SAFE promises. Dictionaries also stay
    as they are: their values are usually few, and viewing a dictionary array costs more (measured) than
    the UTF-8 scan of its values saves.
    """
    if datatype in _TEXT_AS_BYTES:
        return _TEXT_AS_BYTES[datatype]
    if pa.types.is_dictionary(datatype):
        return datatype
    if pa.types.is_run_end_encoded(datatype):
        return pa.run_end_encoded(datatype.run_end_type, _text_as_bytes(datatype.value_type))
    if pa.types.is_map(datatype):
        key, item = datatype.key_field, datatype.item_field
        return pa.map_(
            key.with_type(_text_as_bytes(key.type)), item.with_type(_text_as_bytes(item.type)), datatype.keys_sorted
        )
    if datatype.num_fields == 0 or isinstance(datatype, pa.ExtensionType):
        return datatype
    fields = [f.with_type(_text_as_bytes(f.type)) for f in (datatype.field(i) for i in range(datatype.num_fields))]
    if pa.types.is_struct(datatype):
        return pa.struct(fields)
    if pa.types.is_list(datatype):
        return pa.list_(fields[0])
    if pa.types.is_large_list(datatype):
        return pa.large_list(fields[0])
    if pa.types.is_fixed_size_list(datatype):
        return pa.list_(fields[0], datatype.list_size)
    if pa.types.is_list_view(datatype):
        return pa.list_view(fields[0])
    if pa.types.is_large_list_view(datatype):
        return pa.large_list_view(fields[0])
    if pa.types.is_union(datatype):
        return pa.union(fields, datatype.mode, datatype.type_codes)
    return datatype


def validate(batch: pa.RecordBatch, validation: Validation) -> None:
    """Run ``validation``'s checks on ``batch`` (see ``Validation``); raises ``pa.ArrowInvalid``."""
    validation = Validation(validation)
    if validation is Validation.FULL:
        batch.validate(full=True)
        return
    batch.validate()
    if validation is Validation.TRUSTED:
        return
    for column in batch.columns:
        unchecked = _text_as_bytes(column.type)
        (column if unchecked == column.type else column.view(unchecked)).validate(full=True)


def decode_region(region: pa.Buffer, schema: pa.Schema, validation: Validation = Validation.SAFE) -> pa.RecordBatch:
    """Decode the first record batch of a region, given the pointer batch's schema.

    Bytes after the first record batch (and its EOS) are ignored (FRAME-6). The stream framing is decoded
    zero-copy: the result's buffers point into ``region``. So is the message framing of a region of at
    least ``_ZERO_COPY_FROM`` bytes, read through ``_Concatenation``; a smaller one is copied after the
    schema message, since a copy of it costs less than the reader's calls into Python (measured: 15 us
    against 34 us at 16 KiB, 31 us against 68 us at 1 MiB). ``validation`` says how much of Arrow's
    validation runs on the result (``Validation``): SAFE by default, FULL for an oracle, TRUSTED only
    where the caller vouches for the writer.
    """
    if framing_of(schema) is Framing.STREAM:
        source: pa.Buffer | pa.NativeFile = region
        clause = "FRAME-1"
    else:
        # pyarrow cannot decode the messages alone: ipc.read_record_batch(message, schema, memo) needs a
        # DictionaryMemo holding the dictionaries, and pyarrow binds no call that reads a dictionary
        # message into one (DictionaryMemo has no methods; only a stream or file reader fills it).
        clause = "FRAME-3"
        if region.size < _ZERO_COPY_FROM:
            source = pa.py_buffer(schema.serialize().to_pybytes() + region.to_pybytes())
        else:
            source = pa.PythonFile(_Concatenation(schema.serialize(), region), mode="r")
    try:
        reader = ipc.open_stream(source)
        if not reader.schema.equals(schema):
            raise SchemaMismatch("PTR-11", f"region schema {reader.schema} differs from pointer schema {schema}")
        batch = reader.read_next_batch()
        validate(batch, validation)
    except StopIteration:
        raise IpcError(clause, "region holds no record batch") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise IpcError(clause, f"region is not valid {framing_of(schema).value} framing: {exc}") from exc
    return batch


@dataclass(frozen=True)
class Message:
    """One encapsulated message found in a region."""

    offset: int
    prefix: int
    metadata_length: int
    body_length: int
    kind: str

    @property
    def end(self) -> int:
        """Offset just past the message's body."""
        return self.offset + self.prefix + self.metadata_length + self.body_length


def walk(region: bytes) -> tuple[list[Message], int]:
    """Every message in ``region`` up to EOS, and the offset where walking stopped.

    Used by byte-level conformance checks; raises ``IpcError`` when the bytes
    are not a sequence of encapsulated messages.
    """
    messages: list[Message] = []
    pos = 0
    while pos < len(region):
        prefix = 8 if region[pos : pos + 4] == CONTINUATION else 4
        if pos + prefix > len(region):
            raise IpcError("FRAME-2", f"truncated message prefix at byte {pos}")
        (length,) = struct.unpack_from("<i", region, pos + prefix - 4)
        if length == 0:
            messages.append(Message(pos, prefix, 0, 0, "eos"))
            return messages, pos + prefix
        if length < 0 or pos + prefix + length > len(region):
            raise IpcError("FRAME-2", f"message at byte {pos} claims {length} metadata bytes")
        try:
            message = ipc.read_message(pa.py_buffer(region[pos:]))
        except (pa.ArrowException, OSError) as exc:
            raise IpcError("FRAME-2", f"message at byte {pos} is not valid: {exc}") from exc
        body = 0 if message.body is None else int(message.body.size)
        messages.append(Message(pos, prefix, length, body, str(message.type)))
        pos += prefix + length + body
    return messages, pos
