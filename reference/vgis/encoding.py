"""Writing a batch's region (FRAME-1, FRAME-3, WRITE-1): sized exactly, serialised once.

A writer must know the region's size before it allocates, and then write it into the allocation without
passing its end; ``encode`` does the first with the least serialisation and ``Encoding.write`` the second.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.ipc as ipc

from vgis.errors import IpcError
from vgis.framing import EOS, Framing, framing_of

# The options ``ipc.new_stream`` would derive, stated once: a writer built with them skips new_stream's
# per-call environment lookups (ARROW_PRE_0_15_IPC_FORMAT), which cost as much as writing a 16 KiB batch.
_WRITE_OPTIONS = ipc.IpcWriteOptions()

# What BufferedOutputStream gathers before the message-framing sink sees it: metadata, padding and small
# buffers reach Python as one write, and buffers at least this large go straight through uncopied.
_GATHER = 64 * 1024

# Message framing of a batch up to this many bytes is written once into memory and copied, not sized by
# a mock pass and then streamed through Python (``Encoding``): measured, the crossover lies near 1 MiB.
_SCRATCH_LIMIT = 512 * 1024


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
