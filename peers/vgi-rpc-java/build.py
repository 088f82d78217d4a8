"""Build the vgi-rpc-java peer: ``python build.py BUILD_DIR`` (or ``--toolchain-version``).

The port, farm.query:vgirpc 0.22.0, is not served by Maven Central here, so it
is compiled from a source tree (a vgi-rpc-java checkout) named by the
environment variable VGIS_PEER_SOURCE_DIR, which the harness sets from
``--peer-source vgi-rpc-java=PATH`` or ``VGIS_PEER_SOURCE=vgi-rpc-java=PATH``.

Steps:
1. find a JDK >= 22 (its FFM API carries the port's shared memory): JAVA_HOME
   if it is one, else the newest under /usr/lib/jvm;
2. run Maven on pom.xml with that JAVA_HOME, offline first (when the local
   repository already holds every dependency), online otherwise; every output
   goes under BUILD_DIR/target, and the runtime classpath to BUILD_DIR/classpath.txt;
3. write the launcher BUILD_DIR/vgis-peer-vgi-rpc-java, which execs that JDK's java.

Nothing is written to this folder or to the source tree.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
MIN_JDK = 22
JVM_DIRS = [Path("/usr/lib/jvm")]
LAUNCHER = "vgis-peer-vgi-rpc-java"
MAIN_CLASS = "dev.vgis.peer.vgirpcjava.Main"
# --enable-native-access: the port's FfmShm binds shm_open/mmap through FFM.
# --add-opens java.nio: Arrow Java's memory module reads direct buffers' addresses.
# VGI_RPC_SHM_MIN_BATCH_BYTES=0: the port's size gate off (as its own java22Test task
# sets it), so that `write` reaches the segment for every batch; hello reports it.
JVM_FLAGS = [
    "--enable-native-access=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss4m",
]
NO_SOURCE = """\
vgi-rpc-java peer: no source tree given.
The port (Maven artifact farm.query:vgirpc 0.22.0) is not served by Maven Central here,
so this peer is built from a vgi-rpc-java checkout. Name it with
  --peer-source vgi-rpc-java=PATH        (pytest conformance / vgis-conformance)
or  VGIS_PEER_SOURCE=vgi-rpc-java=PATH   (environment),
for example PATH=/work/shared/upstream/vgi-rpc-java; the harness passes it to this
build as VGIS_PEER_SOURCE_DIR."""
NO_JDK = f"""\
vgi-rpc-java peer: no JDK >= {MIN_JDK} found (the port's shared memory is the java.lang.foreign
FFM API, final in JDK 22). Looked at JAVA_HOME and {", ".join(map(str, JVM_DIRS))}/*.
Get one and build again, for example:
  apt-get install temurin-25-jdk     (Adoptium's apt repository), or openjdk-25-jdk
  sdk install java 25-tem            (SDKMAN)
or point the build at an existing JDK: export JAVA_HOME=/path/to/jdk-25"""


def log(message: str) -> None:
    print(f"[vgi-rpc-java build] {message}", flush=True)


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    sys.exit(2)


def jdk_version(home: Path) -> int | None:
    """The feature version of the JDK at ``home`` (from its release file), or None if it is not a JDK."""
    release = home / "release"
    if not (home / "bin" / "javac").is_file() or not release.is_file():
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(encoding="utf-8", errors="replace"), re.M)
    return int(match.group(1)) if match else None


def find_jdk() -> tuple[Path, int] | None:
    env = os.environ.get("JAVA_HOME")
    if env:
        home = Path(env).resolve()
        version = jdk_version(home)
        if version is not None and version >= MIN_JDK:
            return home, version
        what = "not a JDK" if version is None else f"JDK {version}"
        log(f"JAVA_HOME={env} is {what}; looking for a JDK >= {MIN_JDK}")
    found: list[tuple[int, Path]] = []
    for root in JVM_DIRS:
        if root.is_dir():
            for home in sorted(root.iterdir()):
                if home.is_symlink():
                    continue
                version = jdk_version(home)
                if version is not None and version >= MIN_JDK:
                    found.append((version, home))
    if not found:
        return None
    version, home = max(found)
    return home, version


def java_version_line(home: Path) -> str:
    proc = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True, check=False)
    return (proc.stderr or proc.stdout).strip().splitlines()[0] if (proc.stderr or proc.stdout) else "?"


def upstream_version(source: Path) -> str:
    """The version the upstream build declares (its root build.gradle.kts)."""
    script = source / "build.gradle.kts"
    if script.is_file():
        match = re.search(r'^\s*version\s*=\s*"([^"]+)"', script.read_text(encoding="utf-8"), re.M)
        if match:
            return match.group(1)
    return "unknown"


def run_maven(jdk: Path, source: Path, build: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        fail("vgi-rpc-java peer: `mvn` is not on PATH (apt-get install maven).")
    env = {**os.environ, "JAVA_HOME": str(jdk), "PATH": f"{jdk / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    base = [mvn, "-B", "-q", "-f", str(POM), f"-Dvgis.source={source}", f"-Dvgis.build={build}", "package"]
    for offline in (True, False):
        cmd = base[:2] + (["-o"] if offline else []) + base[2:]
        log(f"JAVA_HOME={jdk} {shlex.join(cmd)}")
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=build, env=env, capture_output=True, text=True, check=False)
        took = time.monotonic() - start
        if proc.returncode == 0:
            log(f"maven {'offline' if offline else 'online'}: ok in {took:.1f}s")
            return
        output = (proc.stdout + proc.stderr).strip().splitlines()
        if offline and any("offline" in line.lower() or "resolve" in line.lower() for line in output):
            log(f"maven offline: dependencies missing from the local repository ({took:.1f}s); retrying online")
            continue
        tail = "\n".join(output[-60:])
        fail(f"vgi-rpc-java peer: maven failed (exit {proc.returncode}, {took:.1f}s):\n{tail}")


def write_launcher(jdk: Path, source: Path, build: Path) -> Path:
    classes = build / "target" / "classes"
    classpath = (build / "classpath.txt").read_text(encoding="utf-8").strip()
    java = jdk / "bin" / "java"
    # JDK >= 23 warns on stderr when Netty (under Arrow's allocator) calls sun.misc.Unsafe; allow it quietly.
    quiet = ["--sun-misc-unsafe-memory-access=allow"] if jdk_version(jdk) and (jdk_version(jdk) or 0) >= 23 else []
    argv = [
        str(java),
        *JVM_FLAGS,
        *quiet,
        f"-Dvgis.upstream.version={upstream_version(source)}",
        f"-Dvgis.upstream.source={source}",
        "-cp",
        f"{classes}{os.pathsep}{classpath}",
        MAIN_CLASS,
    ]
    launcher = build / LAUNCHER
    launcher.write_text(
        "#!/bin/sh\n"
        "# The vgi-rpc-java peer, written by peers/vgi-rpc-java/build.py.\n"
        "VGI_RPC_SHM_MIN_BATCH_BYTES=0\nexport VGI_RPC_SHM_MIN_BATCH_BYTES\n"
        f'exec {shlex.join(argv)} "$@"\n',
        encoding="utf-8",
    )
    launcher.chmod(0o755)
    return launcher


def main(argv: list[str]) -> int:
    found = find_jdk()
    if len(argv) == 2 and argv[1] == "--toolchain-version":
        if found is None:
            fail(NO_JDK)
        print(f"jdk {found[0]} {java_version_line(found[0])}")
        return 0
    if len(argv) != 2:
        fail(f"usage: {argv[0]} BUILD_DIR | --toolchain-version")
    build = Path(argv[1]).resolve()
    raw = os.environ.get("VGIS_PEER_SOURCE_DIR")
    if not raw:
        fail(NO_SOURCE)
    source = Path(raw).resolve()
    if not (source / "vgirpc" / "src" / "main" / "java22" / "farm" / "query" / "vgirpc" / "shm").is_dir():
        fail(
            f"vgi-rpc-java peer: VGIS_PEER_SOURCE_DIR={raw} is not a vgi-rpc-java checkout "
            "(no vgirpc/src/main/java22/farm/query/vgirpc/shm)"
        )
    if found is None:
        fail(NO_JDK)
    jdk, version = found
    log(f"source {source} (vgirpc {upstream_version(source)}), JDK {version} at {jdk}")
    build.mkdir(parents=True, exist_ok=True)
    run_maven(jdk, source, build)
    launcher = write_launcher(jdk, source, build)
    log(f"launcher {launcher}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
