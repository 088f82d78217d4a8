"""``vgis-conformance new-peer --lang LANG DIR``: the smallest peer that passes doctor's handshake.

A port in a language the kit has no peer for starts from the same few lines
every time: a read loop, a JSON library that keeps 64-bit integers exact,
``hello``, ``shutdown`` and ``unsupported`` for the rest. The templates under
``templates/<lang>/`` are those lines, with a peer.toml in the registry's
format (so ``doctor --peer-dir`` builds it through the kit's cached builder)
and a README that says what to implement next, in the order the suite's
groups go (``templates/NEXT_STEPS.md``, shared by every language).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from vgis_conformance.layout import PACKAGE_DIR

TEMPLATES_DIR = PACKAGE_DIR / "templates"
NEXT_STEPS = TEMPLATES_DIR / "NEXT_STEPS.md"
LANGUAGES = ("python", "go", "js", "cpp", "rust", "java")

RUN_CMD = {
    "python": "python3 peer.py",
    "go": "./vgis-peer",
    "js": "node peer.js",
    "cpp": "./vgis-peer",
    "rust": "./vgis-peer",
    "java": "java --add-opens=java.base/java.nio=ALL-UNNAMED -cp target/classes:target/lib/* vgis.peer.Main",
}
"""How to start the peer by hand from its folder, after the build its README shows (for ``--peer-cmd``)."""

IMPLEMENT = {
    "python": "Each operation is one `op_<name>(req)` method of `Peer` in `peer.py`, which the Python peer"
    " SDK's `serve` dispatches to; an operation without one answers `unsupported`.",
    "go": "Each operation is a method of the Go peer SDK's interfaces in `main.go`: `Create` and `Attach` of"
    " `port` (a `peersdk.Port`), then `segment`'s `Header`, `Write`, `Resolve`, `Close` and `Unlink` (a"
    " `peersdk.Segment`); each capability is one more interface of `vgis.dev/peersdk` (`Allocator` for allocate"
    " and free, `Lister`, `Shrinker`, `Resetter`, `Reader`, `MaybeWriter`, `Advertiser` on the segment,"
    " `PointerMaker` on the port).",
    "js": "Each operation is one entry of `OPS` in `peer.js` (there is no JavaScript peer SDK yet).",
    "cpp": "Each operation is a virtual method of the C++ peer SDK in `peer.cc`: `Create` and `Attach` of"
    " `vgis_peer::Backend`, then a `vgis_peer::Segment` of your library; each capability is an optional method"
    " that answers `unsupported` until you override it.",
    "rust": "Each operation is a method of the Rust peer SDK's traits in `src/main.rs`: `create` and `attach` of"
    " `Backend`, then the `Segment` methods of `Shm`; each capability is an optional method that answers"
    " `unsupported` until you implement it.",
    "java": "Each operation is a method of the Java peer SDK's interfaces in `Main.java`: `create` and `attach`"
    " of the `Adapter`, then `Shm`'s `header`, `write`, `resolve`, `close` and `unlink` (a `Segment`); each"
    " capability is a default method of `Segment` to override (`allocate` and `free`, `allocations`, `shrink`,"
    " `reset`, `read`, `maybeWrite`, `advertise`; `makePointer` of the `Adapter`).",
}
"""What "implement an operation" means in each template: the SDK interface's methods, or the template's own table."""

_SKIP = {"__pycache__", "target", "node_modules"}


def peer_name(folder: Path, name: str | None) -> str:
    """``name``, or the folder's name made into a peer name (lowercase letters, digits, dashes)."""
    raw = name if name is not None else folder.resolve().name
    cleaned = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    if not cleaned:
        raise ValueError(f"cannot make a peer name of {raw!r}: give --name")
    return cleaned


def template_files(lang: str) -> list[Path]:
    """Every file of the template, relative to its folder, without build leftovers."""
    root = TEMPLATES_DIR / lang
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and not _SKIP.intersection(p.relative_to(root).parts)
    )


def render(text: str, lang: str, name: str) -> str:
    """Fill the placeholders: the peer's name, the shared next steps, the command that starts it."""
    steps = NEXT_STEPS.read_text()
    return (
        text.replace("@NEXT_STEPS@", steps.rstrip("\n"))
        .replace("@PEER_NAME@", name)
        .replace("@RUN_CMD@", RUN_CMD[lang])
        .replace("@IMPLEMENT@", IMPLEMENT[lang])
    )


def write_template(lang: str, folder: Path, name: str) -> list[Path]:
    """Write the rendered template into ``folder``; returns the files written."""
    written = []
    for rel in template_files(lang):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        source = TEMPLATES_DIR / lang / rel
        target.write_text(render(source.read_text(), lang, name))
        target.chmod(source.stat().st_mode & 0o777)
        written.append(target)
    return written


def new_peer(lang: str, folder: Path, name: str | None = None, force: bool = False) -> int:
    """The ``new-peer`` command: refuse a non-empty folder unless ``force``, write, say what to run next."""
    if lang not in LANGUAGES:
        print(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}", file=sys.stderr)
        return 2
    if folder.exists() and any(folder.iterdir()) and not force:
        print(f"{folder} is not empty: choose a new folder, or --force to write into it", file=sys.stderr)
        return 2
    try:
        peer = peer_name(folder, name)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    files = write_template(lang, folder, peer)
    print(f"wrote a {lang} peer {peer!r} to {folder}: {', '.join(str(f.relative_to(folder)) for f in files)}")
    print(f"next: vgis-conformance doctor --peer-dir {folder} --handshake-only   (then read {folder / 'README.md'})")
    return 0
