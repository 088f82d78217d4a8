"""Typed rejections, one class per error kind of the peer protocol.

Every rejection names the spec clause it enforces, so that a failure seen in a
conformance report points straight at the rule in docs/SPEC.md.
"""

from __future__ import annotations

from typing import ClassVar


class VgisError(Exception):
    """Base of every rejection; ``kind`` is the peer-protocol error kind."""

    kind: ClassVar[str] = "internal"

    def __init__(self, clause: str, message: str) -> None:
        super().__init__(f"[{clause}] {message}")
        self.clause = clause
        self.message = message


class BadHeader(VgisError):
    """The segment header is not a valid VGIS v1 header."""

    kind = "bad_header"


class BadName(VgisError):
    """The segment name cannot be opened (missing, malformed, forbidden)."""

    kind = "bad_name"


class OutOfBounds(VgisError):
    """A region reaches into the header, past the segment, or overflows."""

    kind = "out_of_bounds"


class BadPointer(VgisError):
    """Pointer metadata is missing or not canonical decimal."""

    kind = "bad_pointer"


class NoAllocation(VgisError):
    """No allocation entry starts at the given offset."""

    kind = "no_allocation"


class IpcError(VgisError):
    """A region is not a valid framed Arrow IPC payload."""

    kind = "ipc_error"


class SchemaMismatch(VgisError):
    """A region's schema disagrees with the pointer batch's schema."""

    kind = "schema_mismatch"


class InvalidArgument(VgisError):
    """A request the format forbids (zero-size allocation, zero-row write, ...)."""

    kind = "bad_request"


class Unsupported(VgisError):
    """An optional operation this implementation does not provide."""

    kind = "unsupported"


ERROR_KINDS: tuple[str, ...] = (
    "bad_header",
    "bad_name",
    "out_of_bounds",
    "bad_pointer",
    "no_allocation",
    "ipc_error",
    "schema_mismatch",
    "bad_request",
    "unsupported",
    "internal",
)
