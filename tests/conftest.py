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
import os
import re
from collections.abc import Iterator

import pytest

from vgis.segment import Segment, unlink_name
from vgis_conformance.fixtures import header as header_kind
from vgis_conformance.fixtures.header import HeaderRecipe
from vgis_conformance.manifest import cache_root
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
    if "PYTHONPYCACHEPREFIX" not in os.environ:
        os.environ["PYTHONPYCACHEPREFIX"] = str(cache_root() / "pycache")
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


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
_RECIPE_RUNS: dict[tuple[int, tuple[tuple[str | int, ...], ...]], RecipeRun] = {}
"""The reference's replay of each header recipe, by size and ops, in this process (one xdist worker)."""


@pytest.fixture(scope="module")
def header_recipes_replayed_once() -> Iterator[None]:
    """While a module runs, the fixtures generator replays each header recipe once per worker, not once per call.

    Every fixtures ``check``, ``regenerate`` and ``adopt`` generates the whole tree, and replaying
    ``full-table``'s 4,094 allocations on the reference's allocator is nearly all of a generation's time (about
    4 s here; tests/test_fixtures.py alone generated ten times). A replay is a pure function of the recipe's
    size and ops on a fresh segment, so its result is kept by those; everything else (ipc, pointer and
    adversarial bytes, the manifest, every comparison with a tree) is still generated afresh by each call. The
    first replay of each recipe is a real one, which test_regenerating_reproduces_every_file compares with the
    checked-in bytes, and test_header_recipe_replays_on_the_reference replays every recipe itself.
    """
    real = header_kind.run_recipe

    def once(recipe: HeaderRecipe) -> RecipeRun:
        key = (recipe.segment_size, recipe.ops)
        if key not in _RECIPE_RUNS:
            _RECIPE_RUNS[key] = real(recipe)
        results, raw, expected = _RECIPE_RUNS[key]
        return list(results), raw, copy.deepcopy(expected)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(header_kind, "run_recipe", once)
        yield
