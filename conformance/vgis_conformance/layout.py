"""Where the kit's own files are, in a clone and in an installed wheel.

A clone keeps the peers, fixtures, docs and cases at the top of the tree; the
wheel carries the same folders inside the package, under ``_kit/`` (and the
cases as ``vgis_conformance.cases``), so an installed kit runs from any folder
with no source tree present. Everything else reads these paths, never
``__file__`` arithmetic of its own. Nothing here is ever written to: builds go
to the cache (``manifest.cache_root``), reports to the current folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED = PACKAGE_DIR / "_kit"

INSTALLED = _INSTALLED.is_dir()
"""True in an installed wheel, False in a clone (an editable install is a clone)."""

KIT_ROOT = _INSTALLED if INSTALLED else PACKAGE_DIR.parents[1]
"""The folder holding ``peers/``, ``fixtures/`` and ``docs/``."""

PEERS_DIR = KIT_ROOT / "peers"
FIXTURES_DIR = KIT_ROOT / "fixtures"
DOCS_DIR = KIT_ROOT / "docs"
CASES_DIR = PACKAGE_DIR / "cases" if INSTALLED else KIT_ROOT / "conformance" / "cases"
"""The suite: what ``pytest conformance``, ``pytest --pyargs vgis_conformance.cases`` and ``vgis-conformance run``
all collect."""


def default_report_dir() -> Path:
    """``./reports`` of the folder the command runs in (never the installed package)."""
    return Path.cwd() / "reports"


def suite_argv() -> list[str]:
    """The pytest command that runs the suite from any folder (what ``vgis-conformance run`` and bench start)."""
    return [sys.executable, "-m", "pytest", str(CASES_DIR), "-p", "no:cacheprovider"]
