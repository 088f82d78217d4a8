"""The ``pytest11`` entry point: the suite's options everywhere, its hooks only where the suite runs.

Installing the kit puts this module into every pytest session of that
environment (a port's own tests included). It only adds the ``--peer``
family of options; the hooks that build peers, map known failures and write
reports (``vgis_conformance.plugin``) are registered when the session
collects the suite: a path in or above ``layout.CASES_DIR``, or
``--pyargs vgis_conformance[.cases]``. So ``pytest conformance`` in a clone,
``pytest --pyargs vgis_conformance.cases`` and ``vgis-conformance run`` run
the same suite, and any other session is left alone.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from vgis_conformance import layout, sources

PLUGIN_NAME = "vgis-conformance-suite"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vgis", "VGIS conformance")
    group.addoption("--peer", action="append", default=[], help="run this registered peer (repeatable)")
    group.addoption(
        "--peer-cmd", action="append", default=[], help='run an unregistered peer: "CMD" or "NAME=CMD" (repeatable)'
    )
    group.addoption(
        "--peer-source",
        action="append",
        default=[],
        help=f"NAME=PATH: build upstream peer NAME from a checkout of its port (repeatable; "
        f"also {sources.ENV}=NAME=PATH[,NAME=PATH...])",
    )
    group.addoption(
        "--known-failures",
        action="append",
        default=[],
        help="NAME=FILE or FILE (for the only --peer-cmd peer): known-failures list to use",
    )
    group.addoption(
        "--require-all-peers",
        action="store_true",
        help="a peer that cannot be built or started is an error, not a loud skip",
    )
    group.addoption("--peer-timeout", type=float, default=10.0, help="seconds per request before the peer is killed")
    group.addoption("--report-dir", default=None, help="where JSON, JUnit and HTML go (default: ./reports)")
    group.addoption(
        "--case",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only the cases whose case ID matches this glob (repeatable), e.g. 'adversarial/*'",
    )
    group.addoption(
        "--stateful-examples",
        type=int,
        default=15,
        help="hypothesis examples per peer pair in cases/test_stateful.py (nightly: e.g. 500)",
    )


def _arg_path(config: pytest.Config, arg: str) -> Path | None:
    target = arg.split("::", 1)[0]
    if config.option.pyargs and not target.endswith(".py") and "/" not in target:
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            locations = list(spec.submodule_search_locations or [])
            origin = locations[0] if locations else spec.origin
            return Path(origin).resolve() if origin else None
    return (config.invocation_params.dir / target).resolve()


def runs_suite(config: pytest.Config) -> bool:
    """True when the session collects the suite's cases (a path in or above the cases folder)."""
    cases = layout.CASES_DIR.resolve()
    for arg in config.args:
        path = _arg_path(config, arg)
        if path is not None and (path == cases or cases in path.parents or path in cases.parents):
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if runs_suite(config) and not config.pluginmanager.has_plugin(PLUGIN_NAME):
        from vgis_conformance import plugin
        from vgis_conformance.manifest import cache_root

        if layout.INSTALLED and sys.pycache_prefix is None:
            # pytest writes its rewritten case modules here, not into site-packages
            sys.pycache_prefix = str(cache_root() / "pycache")

        config.pluginmanager.register(plugin, PLUGIN_NAME)
