"""``vgis-conformance bench``: throughput of the peers' write and resolve paths, and the harness's own speed.

Every figure that says GB/s is timed *inside* the peer (the ``bench`` op of
docs/peer-protocol.md), so the JSON-lines protocol costs nothing in it. For
each schema, batch size and peer, in that order (peers side by side, so their
ratios come from the same minute of the same run):

- ``write``: the peer's own write path into a fresh segment sized for the batch;
- ``resolve``: a region the peer wrote is resolved through a pointer batch and
  every byte of every buffer is read;
- ``memcpy``: the same number of bytes copied from private memory into the
  segment, the ceiling for ``write``;
- ``pipe``: the batch as an IPC stream through a FIFO from a second process of
  the same peer (``pipe_write``) to the first (``pipe_read``), the reader's time:
  what shared memory replaces.

``shm`` is write and resolve together (bytes / (median write + median resolve)),
the figure the pipe is compared with. The harness's own cost is measured as
requests per second of a trivial ``header`` request, and ``--suite`` times the
full conformance suite serial and with ``-n auto`` for 1, 2, ... peers.

Outputs: a table on stdout, ``benchmarks/out/bench.json``, ``benchmarks/out/bench.png``
and, with ``--suite``, ``benchmarks/out/suite.json``.

The parts, one idea each: :mod:`.batches` (batches and sizes), :mod:`.driver`
(starting peers, running the samples), :mod:`.stats` (samples, ratios,
crossovers, verdicts), :mod:`.machine` (what it ran on), :mod:`.figures` (the
PNG), :mod:`.render` (every table, console and markdown, from the JSON),
:mod:`.suite` (suite timing) and :mod:`.command` (the CLI glue re-exported here,
where ``cli.py`` imports it).
"""

from vgis_conformance.bench.command import add_arguments, main

__all__ = ["add_arguments", "main"]
