"""How a batch is laid out as bytes in a region (FRAME-*): which framing a schema's regions use, and the
walk over a region's encapsulated messages that the byte-level checks use.

Two framings: a complete IPC stream for schemas without a top-level
dictionary field, and only the dictionary and record-batch messages for
schemas with one (the reader rebuilds the stream from the pointer batch's
schema). Arrow itself does the encoding (``vgis.encoding``) and the decoding
(``vgis.decoding``); this module only names the framing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa
import pyarrow.ipc as ipc

from vgis.errors import IpcError

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
