"""Build the vgi-rpc-python peer: a Python >= 3.13 virtualenv in BUILD_DIR/venv with the pinned vgi-rpc.

The harness runs this with its own interpreter (any Python 3), in this folder,
as ``python build.py BUILD_DIR``. What goes into the venv:

* by default, requirements.txt (vgi-rpc 0.52.2 from PyPI and its pins);
* with ``VGIS_PEER_SOURCE_DIR`` (the harness sets it from
  ``--peer-source vgi-rpc-python=PATH``), the pins without vgi-rpc, then the
  checkout at PATH, installed (not editable) by pip;
* with ``VGIS_PEER_VERSION`` (``--peer vgi-rpc-python@0.40.0``), that release
  of vgi-rpc from PyPI instead of the pinned one.

vgi-rpc 0.52.2 requires Python >= 3.13, so the venv is made with another
interpreter, found in this order:

1. the environment variable VGIS_PYTHON313 (a path to a python >= 3.13);
2. ``python3.13`` or ``python3.14`` on PATH (pyenv shims that are not active
   are skipped: every candidate is run and its version checked);
3. pyenv: ``$(pyenv root)/versions/3.13*/bin/python3`` (and 3.14*), then
   ``~/.pyenv/versions/3.13*``.

The venv is reused while requirements.txt is unchanged and it still imports
vgi_rpc.shm; otherwise it is recreated. What pip installed is recorded in
BUILD_DIR/venv/pip-freeze.txt and printed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = (Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE) / "venv"
CHECKOUT = os.environ.get("VGIS_PEER_SOURCE_DIR")
RELEASE = os.environ.get("VGIS_PEER_VERSION")
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = HERE / "requirements.txt"
STAMP = VENV / ".vgis-build.json"
FREEZE = VENV / "pip-freeze.txt"
MIN_VERSION = (3, 13)
PROBE = "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"
HELP = """\
vgi-rpc-python peer: no Python >= 3.13 interpreter found (vgi-rpc 0.52.2 requires one).
Get one and build again, for example:
  pyenv install 3.13          # then build.py finds $(pyenv root)/versions/3.13*/bin/python3
or point the build at an existing interpreter:
  export VGIS_PYTHON313=/path/to/python3.13
(other options: your distribution's python3.13 package, or `uv python install 3.13`
and VGIS_PYTHON313=$(uv python find 3.13))."""


def log(message: str) -> None:
    print(f"[vgi-rpc-python build] {message}", flush=True)


def probe(candidate: str) -> tuple[str, tuple[int, ...]] | None:
    """The real executable and version of ``candidate``, or None if it does not run."""
    try:
        proc = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != 2:
        return None
    return lines[0], tuple(int(p) for p in lines[1].split("."))


def candidates() -> list[tuple[str, str]]:
    """(where it came from, path or command) in search order."""
    found: list[tuple[str, str]] = []
    env = os.environ.get("VGIS_PYTHON313")
    if env:
        found.append(("VGIS_PYTHON313", env))
    for command in ("python3.13", "python3.14"):
        path = shutil.which(command)
        if path:
            found.append(("PATH", path))
    roots: list[str] = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            out = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30, check=False)
            if out.returncode == 0 and out.stdout.strip():
                roots.append(out.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in dict.fromkeys(roots):
        for series in ("3.13", "3.14"):
            for folder in sorted(glob.glob(os.path.join(root, "versions", f"{series}*")), reverse=True):
                found.append(("pyenv", os.path.join(folder, "bin", "python3")))
    return found


def find_python() -> tuple[str, str]:
    """(executable, version) of the first usable interpreter; exits with help when none."""
    env = os.environ.get("VGIS_PYTHON313")
    for source, candidate in candidates():
        result = probe(candidate)
        if result is None:
            if source == "VGIS_PYTHON313":
                log(f"VGIS_PYTHON313={env} does not run; looking elsewhere")
            continue
        executable, version = result
        if version[:2] < MIN_VERSION:
            if source == "VGIS_PYTHON313":
                log(f"VGIS_PYTHON313={env} is Python {'.'.join(map(str, version))}, need >= 3.13")
            continue
        return executable, ".".join(map(str, version))
    print(HELP, file=sys.stderr, flush=True)
    sys.exit(2)


def requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def up_to_date() -> bool:
    """The venv exists, was built from these requirements and imports the package (never for a checkout)."""
    if CHECKOUT or RELEASE:
        return False
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return False
    if stamp.get("requirements_sha256") != requirements_hash():
        log("requirements.txt changed; recreating .venv")
        return False
    check = "import sys, vgi_rpc.shm, pyarrow; assert sys.version_info >= (3, 13)"
    try:
        ok = subprocess.run([str(VENV_PYTHON), "-c", check], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if ok.returncode != 0:
        log(".venv does not import vgi_rpc.shm any more; recreating it")
        return False
    return True


def pins() -> dict[str, str]:
    """requirements.txt's pins; vgi-rpc's only when neither a checkout nor another release replaces it."""
    out: dict[str, str] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[name.strip().lower().replace("_", "-")] = version.strip()
    if CHECKOUT or RELEASE:
        out.pop("vgi-rpc")
    if RELEASE:
        out["vgi-rpc"] = RELEASE
    return out


def run(argv: list[str]) -> None:
    log("$ " + " ".join(argv))
    proc = subprocess.run(argv, cwd=HERE, check=False)
    if proc.returncode != 0:
        log(f"failed with status {proc.returncode}")
        sys.exit(proc.returncode or 1)


def build() -> None:
    python, version = find_python()
    log(f"using Python {version} at {python}")
    if VENV.exists():
        shutil.rmtree(VENV)
    run([python, "-m", "venv", str(VENV)])
    pip = [
        str(VENV_PYTHON),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=pyarrow",
    ]
    if CHECKOUT:
        run(pip + [f"{n}=={v}" for n, v in pins().items()])
        log(f"installing vgi-rpc from the checkout {CHECKOUT}")
        run([*pip, CHECKOUT])
    elif RELEASE:
        run(pip + [f"{n}=={v}" for n, v in pins().items()])
    else:
        run([*pip, "-r", str(REQUIREMENTS)])
    freeze = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout
    FREEZE.write_text(freeze)
    resolved = {}
    for line in freeze.splitlines():
        if "==" in line:
            name, ver = line.split("==", 1)
            resolved[name.strip().lower().replace("_", "-")] = ver.strip()
    log("pip resolved: " + ", ".join(f"{n}=={v}" for n, v in sorted(resolved.items())))
    wrong = {n: (v, resolved.get(n)) for n, v in pins().items() if resolved.get(n) != v}
    if wrong:
        log(f"installed versions differ from the pins: {wrong}")
        sys.exit(1)
    extra = sorted(set(resolved) - set(pins()) - {"pip", "setuptools", "wheel"})
    if extra:
        log(f"note: unpinned packages installed: {extra} (consider pinning them in requirements.txt)")
    STAMP.write_text(
        json.dumps(
            {
                "requirements_sha256": requirements_hash(),
                "python": python,
                "python_version": version,
                "checkout": CHECKOUT,
                "release": RELEASE,
            },
            indent=1,
        )
        + "\n"
    )
    log(f"built {VENV}")


def main() -> None:
    if up_to_date():
        log(f".venv is up to date ({VENV_PYTHON})")
        return
    build()


if __name__ == "__main__":
    main()
