"""The adversarial corpus under the import name the cases and tests use; it lives in ``fixtures/adversarial/``.

A star import keeps every public name of the corpus (its ``__all__``) importable from here without a
second list of them.
"""

from __future__ import annotations

from vgis_conformance.fixtures.adversarial import *  # noqa: F403
