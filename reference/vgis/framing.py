"""How a batch is laid out as bytes in a region (FRAME-*).

Two framings: a complete IPC stream for schemas without a top-level
dictionary field, and only the dictionary and record-batch messages for
schemas with one (the reader rebuilds the stream from the pointer batch's
schema). Arrow itself does the encoding; this module only frames it.
"""

from __future__ import annotations

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


def _write_stream(sink: pa.NativeFile, batch: pa.RecordBatch | None, schema: pa.Schema) -> None:
    with ipc.new_stream(sink, schema) as writer:
        if batch is not None:
            writer.write_batch(batch)


def _stream_size(batch: pa.RecordBatch | None, schema: pa.Schema) -> int:
    mock = pa.MockOutputStream()
    _write_stream(mock, batch, schema)
    return int(mock.size())


def schema_message(schema: pa.Schema) -> bytes:
    """The encapsulated schema message alone, as a dictionary-framing reader rebuilds it."""
    sink = pa.BufferOutputStream()
    _write_stream(sink, None, schema)
    return bytes(sink.getvalue().to_pybytes()[: -len(EOS)])


def region_size(batch: pa.RecordBatch) -> int:
    """Exact byte length of ``batch``'s region, computed without writing its data."""
    full = _stream_size(batch, batch.schema)
    if framing_of(batch.schema) is Framing.STREAM:
        return full
    return full - _stream_size(None, batch.schema)


def write_region(dest: pa.Buffer, batch: pa.RecordBatch) -> int:
    """Encode ``batch`` into the mutable buffer ``dest``; returns bytes written.

    The stream framing is written straight into ``dest`` by Arrow's writer
    (no intermediate whole-stream buffer); ``dest`` is fixed-size, so nothing
    can be written past it (WRITE-3).
    """
    if framing_of(batch.schema) is Framing.STREAM:
        sink = pa.FixedSizeBufferWriter(dest)
        _write_stream(sink, batch, batch.schema)
        return int(sink.tell())
    sink = pa.BufferOutputStream()
    _write_stream(sink, batch, batch.schema)
    full = sink.getvalue()
    start = len(schema_message(batch.schema))
    body = full.slice(start, full.size - start - len(EOS))
    pa.FixedSizeBufferWriter(dest).write(body)
    return int(body.size)


def encode_region(batch: pa.RecordBatch) -> bytes:
    """The region bytes of ``batch`` as a standalone ``bytes`` (for fixtures)."""
    out = bytearray(region_size(batch))
    written = write_region(pa.py_buffer(out), batch)
    assert written == len(out)
    return bytes(out)


def decode_region(region: pa.Buffer, schema: pa.Schema) -> pa.RecordBatch:
    """Decode the first record batch of a region, given the pointer batch's schema.

    Bytes after the first record batch (and its EOS) are ignored (FRAME-6).
    The stream framing is decoded zero-copy: the result's buffers point into
    ``region``.
    """
    if framing_of(schema) is Framing.STREAM:
        source = region
        clause = "FRAME-1"
    else:
        # No EOS appended: a truncated last message must fail, not borrow the EOS bytes as body.
        source = pa.py_buffer(schema_message(schema) + region.to_pybytes())
        clause = "FRAME-3"
    try:
        reader = ipc.open_stream(source)
        if not reader.schema.equals(schema):
            raise SchemaMismatch("PTR-11", f"region schema {reader.schema} differs from pointer schema {schema}")
        batch = reader.read_next_batch()
        batch.validate(full=True)
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
