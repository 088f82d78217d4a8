"""The commands docs/ci.md and its workflow tell a port's CI to run are commands the kit accepts.

A port copies them as they stand, so an option renamed in the CLI must fail
here, not in someone else's CI.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from vgis_conformance.cli import build_parser
from vgis_conformance.layout import DOCS_DIR

SOURCES = [DOCS_DIR / "ci.md", DOCS_DIR / "ci" / "github-actions.yml"]


def commands(path: Path) -> list[str]:
    """Every ``vgis-conformance ...`` command in a file, continuation lines and folded YAML joined."""
    text = path.read_text().replace("\\\n", " ")
    text = re.sub(r"run: >-\n((?:\s{10,}.*\n)+)", lambda m: "run: " + " ".join(m.group(1).split()) + "\n", text)
    found = re.findall(r"(?:^|run: |\n)\s*(vgis-conformance [^\n#`]+)", text)
    return [c.strip() for c in found]


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_every_documented_command_parses(path: Path) -> None:
    found = commands(path)
    assert len(found) >= 2, f"no vgis-conformance commands found in {path}"
    parser = build_parser()
    for command in found:
        argv = shlex.split(command)[1:]
        try:
            _, unknown = parser.parse_known_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{path.name}: `{command}` is refused by the CLI (exit {exc.code})")
        assert not unknown, f"{path.name}: `{command}` has options the CLI does not know: {unknown}"
