"""``vgis-conformance bench``: throughput of the peers' write and resolve paths, and the harness's own speed.

Every figure that says GB/s is timed *inside* the peer (the ``bench`` op of
docs/peer-protocol.md), so the JSON-lines protocol costs nothing in it. For
each schema and batch size the peers are measured in rounds: each round asks
every peer for each action once, the peers back to back (their order rotating),
so that a ratio between two peers, or a peer and its own memcpy, is taken round
by round and the load drifting on a shared machine hits both sides of it:

- ``write``: the peer's own write path into a segment sized for the batch (made
  afresh for each stretch of rounds; each repetition's region is freed);
- ``resolve``: a region the peer wrote is resolved through a pointer batch and
  every byte of every buffer is read; ``resolve_trusted`` the same in the
  peer's mode for a writer it trusts, where it has one (the reference);
- ``memcpy``: the same number of bytes copied from private memory into the
  segment, the ceiling for ``write``;
- ``pipe``: the batch as an IPC stream through a FIFO from a second process of
  the same peer (``pipe_write``) to the first (``pipe_read``), the reader's time:
  what shared memory replaces (in the first ``--repeat`` rounds only: context,
  not a target).

``shm`` is write and resolve together (bytes / (median write + median resolve)),
the figure the pipe is compared with. The harness's own cost is measured as
requests per second of a trivial ``header`` request, and ``--suite`` times the
full conformance suite with ``-n auto --require-all-peers`` for 1, 2, ... peers (serially
too with ``--suite-serial``), and the kit's own tests.

Outputs: a table on stdout, ``benchmarks/out/bench.json``, ``benchmarks/out/bench.png``
and, with ``--suite``, ``benchmarks/out/suite.json`` and ``suite.png`` (seconds against peers).

Issue 13's ratio targets are verdicts per row (:mod:`.targets`): the median of
the per-round ratios with a distribution-free interval (:mod:`.interval`), met
or missed only when the interval lies on one side of the floor, undecidable
otherwise. After ``--repeat`` rounds everywhere, rounds are added where a target
ratio is widest (:mod:`.schedule`) until each is within ``--bound`` or
``--budget`` seconds are spent; ``--check`` exits 2 on a decidable miss. Every
table is printed with the load average while it was measured.

The parts, one idea each: :mod:`.batches` (batches and sizes), :mod:`.driver`
(starting peers, running rounds), :mod:`.schedule` (how many rounds where),
:mod:`.stats` (samples, ratios, crossovers, the non-ratio checks),
:mod:`.interval` (paired ratios and their intervals), :mod:`.targets` (issue 13's
targets and their verdicts), :mod:`.machine` (what it ran on), :mod:`.figures`
(the PNG), :mod:`.render` (every table, console and markdown, from the JSON),
:mod:`.suite` (suite timing), :mod:`.memory` (a reader's memory) and
:mod:`.command` (the CLI glue re-exported here, where ``cli.py`` imports it).
"""

from vgis_conformance.bench.command import add_arguments, main

__all__ = ["add_arguments", "main"]
