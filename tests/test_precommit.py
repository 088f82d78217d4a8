""".pre-commit-config.yaml runs the fast checks of ``tox -e tests`` with the same tools.

A hook that pinned another ruff than tox installs would pass a commit that CI
then refuses (formatting changes between ruff releases), so the pins must agree.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(text: str, package: str) -> set[str]:
    """The versions ``package==X`` is pinned to in a file's text."""
    return set(re.findall(rf"\b{re.escape(package)}==([\w.]+)", text))


def test_precommit_ruff_is_the_ruff_tox_installs() -> None:
    hooks = pins((ROOT / ".pre-commit-config.yaml").read_text(), "ruff")
    tox = pins((ROOT / "constraints.txt").read_text(), "ruff")
    assert len(tox) == 1, f"constraints.txt must pin one ruff, pins {sorted(tox)}"
    assert hooks == tox, f".pre-commit-config.yaml pins ruff {sorted(hooks)}, constraints.txt {sorted(tox)}"


def test_precommit_ruff_hooks_are_tox_checks() -> None:
    """Each ruff hook's command stands in tox's tests env, so the hook checks what CI checks."""
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    tox = (ROOT / "tox.ini").read_text()
    entries = re.findall(r"entry: (ruff [\w -]+?)(?: --force-exclude)?\n", config)
    assert {"ruff check", "ruff format --check"} <= set(entries), entries
    for entry in entries:
        assert f"{entry} ." in tox, f"pre-commit runs `{entry}`, tox.ini does not"
