"""Shared fixtures: leak detection in /dev/shm and uniquely named segments; the ``toolchain`` marker.

Every segment a test creates goes through ``ShmFactory``, whose names start
with ``/vgis-test-<pid>-``. The session fixture fails the run if any file
appeared in /dev/shm during it, except files whose names carry the pid of
another live process (a concurrent session's own, still in use).

Tests marked ``toolchain`` are the peers' own lint and tests run with their
toolchains (cargo, go, mvn, g++, mypy in a peer's venv), not checks of the
kit: ``tox -e tests`` runs them as a line of their own, ``pytest tests -m
toolchain``, after the kit's tests (``pytest tests -m "not toolchain"``).
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from vgis.segment import Segment, unlink_name
from vgis_conformance.fixtures import header as header_kind
from vgis_conformance.fixtures.header import HeaderRecipe
from vgis_conformance.manifest import keep_bytecode
from vgis_conformance.testkit import ShmFactory, name_prefix, shm_listing

PREFIX = name_prefix()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``toolchain`` marker; let the Python subprocesses of this session keep their bytecode.

    Many tests start a Python subprocess (``pytest conformance`` against a broken peer, the CLI, doctor, the
    Python peers). With ``PYTHONDONTWRITEBYTECODE`` set, each one compiled and assertion-rewrote about 150
    modules from source again (about 2 s of a 4.6 s conformance run here). The subprocesses (and xdist's
    workers, started after this hook) write their bytecode under the kit's cache instead, as the installed
    kit's own runs do (vgis_conformance.pytest_entry), never into the tree; pyc files are checked against
    their source's mtime and size, so an edited module is still compiled afresh.
    """
    config.addinivalue_line(
        "markers",
        "toolchain: the peers' own checks with their toolchains (cargo, go, mvn, g++, mypy in a peer venv); "
        "tox -e tests runs them as `pytest tests -m toolchain`",
    )
    keep_bytecode(os.environ)


def _foreign(name: str) -> bool:
    """True for a name that carries the pid of another live process.

    Kit sessions (this suite under other pids, the conformance harness,
    fixture builders) put their pid in their names; while they run next to
    this session, their files are theirs, not leaks of this one.
    """
    for pid in (int(p) for p in re.findall(r"(?<![0-9])([0-9]{2,9})(?![0-9])", name)):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return True
        return True
    return False


@pytest.fixture(scope="session", autouse=True)
def no_shm_leaks() -> Iterator[None]:
    """Fail the run if this session left anything in /dev/shm."""
    before = shm_listing()
    yield
    appeared = shm_listing() - before
    ours = sorted(n for n in appeared if n.startswith(PREFIX))
    # Another kit session (a different pid) may be running next to this one;
    # its files are its own business. Anything else that appeared is a leak.
    unknown = sorted(n for n in appeared if not n.startswith(PREFIX) and not _foreign(n))
    for name in ours:
        unlink_name("/" + name)
    if ours or unknown:
        pytest.fail(f"/dev/shm leak: left by this session {ours}; appeared meanwhile {unknown}")


@pytest.fixture(scope="session")
def shm_session() -> Iterator[ShmFactory]:
    """A factory for tests under hypothesis (which rejects function-scoped fixtures)."""
    factory = ShmFactory()
    yield factory
    factory.cleanup()


@pytest.fixture
def shm() -> Iterator[ShmFactory]:
    """A factory whose segments are closed and unlinked when the test ends."""
    factory = ShmFactory()
    yield factory
    factory.cleanup()


@pytest.fixture
def segment(shm: ShmFactory) -> Segment:
    """One fresh owned segment of ``DEFAULT_SIZE`` bytes."""
    return shm.create()


RecipeRun = tuple[list[int | None], bytes, dict[str, object]]
_RECIPE_RUNS: dict[str, RecipeRun] = {}
"""The reference's replay of each header recipe, by the digest of its size and ops, in this process."""


def _session_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this session that every xdist worker shares (the workers' basetemps are its children)."""
    base = factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def header_recipes_replayed_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """While a module runs, the fixtures generator replays each header recipe once per session, not once per call.

    Every fixtures ``check``, ``regenerate`` and ``adopt`` generates the whole tree, and replaying
    ``full-table``'s 4,094 allocations on the reference's allocator is nearly all of a generation's time (about
    4 s here; tests/test_fixtures.py alone generated ten times). A replay is a pure function of the recipe's
    size and ops on a fresh segment, so its result is kept by those, in this process and in a folder of the
    session the xdist workers share (under a lock, so one worker replays and the other reads); everything else
    (ipc, pointer and adversarial bytes, the manifest, every comparison with a tree) is still generated afresh
    by each call. The first replay of each recipe is a real one, which test_regenerating_reproduces_every_file
    compares with the checked-in bytes, and test_header_recipe_replays_on_the_reference replays every recipe
    itself.
    """
    real = header_kind.run_recipe
    shared = _session_dir(tmp_path_factory, "header-recipe-replays")

    def once(recipe: HeaderRecipe) -> RecipeRun:
        key = hashlib.sha256(json.dumps([recipe.segment_size, recipe.ops]).encode()).hexdigest()
        if key not in _RECIPE_RUNS:
            stored = shared / f"{key}.json"
            with (shared / f"{key}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if stored.is_file():
                    doc = json.loads(stored.read_text())
                    _RECIPE_RUNS[key] = (doc["results"], bytes.fromhex(doc["raw"]), doc["expected"])
                else:
                    results, raw, expected = real(recipe)
                    _RECIPE_RUNS[key] = (results, raw, expected)
                    partial = stored.with_suffix(".partial")
                    partial.write_text(json.dumps({"results": results, "raw": raw.hex(), "expected": expected}))
                    partial.rename(stored)
        results, raw, expected = _RECIPE_RUNS[key]
        return list(results), raw, copy.deepcopy(expected)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(header_kind, "run_recipe", once)
        yield
