"""Reference implementation of the VGIS v1 shared-memory segment format.

Each module holds one part of docs/SPEC.md: ``header`` (HDR), ``segment``
(LIFE), ``allocator`` (ALLOC), ``framing`` (FRAME: which framing, and the walk over
messages), ``encoding`` and ``decoding`` (FRAME: a region written, and read back
with a validation policy), ``region`` (WRITE) and ``pointer`` (PTR); ``errors``
holds the typed rejections.
"""

from vgis.errors import VgisError
from vgis.header import HEADER_SIZE, MAX_ALLOCS
from vgis.segment import Segment

__version__ = "0.1.0"
__all__ = ["HEADER_SIZE", "MAX_ALLOCS", "Segment", "VgisError", "__version__"]
