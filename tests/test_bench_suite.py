"""``bench --suite``'s table, figure and target-4 checks, from a made-up suite.json (no suite is run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vgis_conformance.bench import render
from vgis_conformance.bench.figures import plot_suite
from vgis_conformance.bench.stats import Run, checks
from vgis_conformance.bench.suite import added_seconds

LOAD = {"loadavg": [0.1, 0.2, 0.3]}


def suite(seconds: list[float], kit: float | None, serial: list[float] | None = None) -> dict[str, Any]:
    names = [f"peer{i}" for i in range(1, len(seconds) + 1)]
    runs = [
        {"peers": names[:n], "mode": "-n auto", "seconds": s, "exit": 0, "summary": ""}
        for n, s in enumerate(seconds, 1)
    ]
    runs += [
        {"peers": names[:n], "mode": "serial", "seconds": s, "exit": 0, "summary": ""}
        for n, s in enumerate(serial or [], 1)
    ]
    return {
        "peers": names,
        "runs": runs,
        "kit_tests": None if kit is None else {"command": "pytest tests", "seconds": kit, "exit": 0, "summary": "ok"},
        "machine": {**LOAD, "date": "2026-12-06T00:00:00+00:00", "nproc": 2},
        "machine_after": LOAD,
    }


def test_added_seconds_is_the_difference_to_one_peer_fewer() -> None:
    assert added_seconds(suite([10.0, 14.5, 22.0], None)) == [(1, 10.0, None), (2, 14.5, 4.5), (3, 22.0, 7.5)]


def test_console_shows_what_each_peer_adds_and_the_kit_tests() -> None:
    text = "\n".join(render.suite_console(suite([10.0, 14.5], 42.0, serial=[12.0, 20.0])))
    row = next(line for line in text.splitlines() if "peer1, peer2" in line)
    assert "14.5" in row and "+4.5" in row and "20.0" in row
    assert "the kit's own tests (`pytest tests`): 42.0 s" in text
    assert "+4.5" in render.markdown(None, suite([10.0, 14.5], None))


@pytest.mark.parametrize(("full", "kit", "met"), [(59.0, 59.0, (True, True)), (61.0, 75.0, (False, False))])
def test_target_4_checks(full: float, kit: float, met: tuple[bool, bool]) -> None:
    got = {c["target"]: c["met"] for c in checks(Run(), {}, suite([20.0, full], kit))}
    suite_check = next(v for k, v in got.items() if k.startswith("full suite"))
    kit_check = next(v for k, v in got.items() if k.startswith("the kit's own tests"))
    assert (suite_check, kit_check) == met


def test_figure_is_drawn(tmp_path: Path) -> None:
    path = tmp_path / "suite.png"
    assert plot_suite(suite([10.0, 14.5, 22.0], None, serial=[11.0, 18.0, 30.0]), path)
    assert path.stat().st_size > 1000
