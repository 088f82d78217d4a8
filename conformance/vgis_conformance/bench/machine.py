"""What the numbers ran on: recorded in bench.json and suite.json because GB/s mean nothing without it."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
from pathlib import Path

import pyarrow as pa

from vgis_conformance.protocol import Json


def machine() -> Json:
    """CPU, RAM, versions, date and the load average at the start of a run."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    return {
        "nproc": os.cpu_count(),
        "ram_bytes": ram,
        "ram_gib": round(ram / 2**30, 1),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "loadavg": list(os.getloadavg()),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def machine_after() -> Json:
    """The load average at the end: a run whose load rose meanwhile shared the CPUs with something."""
    return {"loadavg": list(os.getloadavg())}
