"""``pytest conformance``: the suite's plugin lives in vgis_conformance.plugin."""

from collections.abc import Iterator

import pytest

from vgis_conformance.kit import Kit
from vgis_conformance.plugin import *  # noqa: F403  (hooks and fixtures)


@pytest.fixture
def kit(request: pytest.FixtureRequest, workdir) -> Iterator[Kit]:  # type: ignore[no-untyped-def]
    """Per-case segments and files, released when the case ends."""
    k = Kit(workdir, request.node)
    yield k
    k.finish(getattr(request.node, "vgis_peers", []))
