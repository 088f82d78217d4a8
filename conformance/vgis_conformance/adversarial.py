"""The adversarial corpus under the import name the cases and tests use; it lives in ``fixtures/adversarial.py``."""

from __future__ import annotations

from vgis_conformance.fixtures.adversarial import (
    CORPUS_DIR,
    GRID_OBJECTS,
    GROUPS,
    HOSTILE_TABLES,
    OPS,
    OUTCOMES,
    SEED,
    SHRUNK_ERRORS,
    TIERS,
    WIDE_BATCHES,
    Case,
    advertisements,
    data_sizes,
    free_runs,
    grid_expect,
    load_cases,
    record_batch_field,
    validate_recipe,
)

__all__ = [
    "CORPUS_DIR",
    "GRID_OBJECTS",
    "GROUPS",
    "HOSTILE_TABLES",
    "OPS",
    "OUTCOMES",
    "SEED",
    "SHRUNK_ERRORS",
    "TIERS",
    "WIDE_BATCHES",
    "Case",
    "advertisements",
    "data_sizes",
    "free_runs",
    "grid_expect",
    "load_cases",
    "record_batch_field",
    "validate_recipe",
]
