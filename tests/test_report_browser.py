"""report.html as a reader sees it: rendered by headless Chromium, not parsed as text.

A run against the reference and a broken peer (big-endian num_allocs, given as
``--peer-cmd``) produces failures in both matrices. The page is opened in
Chromium through its DevTools protocol over ``--remote-debugging-pipe`` (no
driver, no Python dependency), and the test asserts that the peer matrix, the
producer x consumer grid, one failure's field-by-field diff and its replay
command are rendered, non-empty and not covered; that the matrices name the
language the ``--peer-cmd`` peer's ``hello`` gave (its manifest knows none); and
keeps a full-page screenshot as ``reports/report-html.png`` (the folder CI
keeps; ``VGIS_SCREENSHOT_DIR`` moves it).

Chromium is Debian's ``chromium`` package. Without it the test skips, except
under CI (``CI`` set), where it fails with the command that installs it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_broken_peers import assert_clean, run_broken

DEFECT = "big-endian-num-allocs"
BROKEN = f"broken-{DEFECT}"
SELECT = "(test_recipe and no-gap) or test_attach_sees_header"
FAILING_CASE = "header/recipe/no-gap"
INSTALL = "apt-get install -y --no-install-recommends chromium"
VIEWPORT = (1280, 900)
SCREENSHOT_MAX_HEIGHT = 6000
TIMEOUT = 60.0

# What a reader sees of one element: rendered (checkVisibility, with opacity and visibility), a box of
# non-zero size, and, once scrolled into view, the element itself (or its content) at the middle of
# its box, so nothing is drawn over it. innerText is the rendered text only.
VISIBILITY_JS = """
(selector) => {
  const el = document.querySelector(selector);
  if (!el) return {found: false};
  el.scrollIntoView({block: "center", inline: "nearest"});
  const r = el.getBoundingClientRect();
  const x = Math.min(Math.max(r.left + Math.min(r.width, 200) / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(r.top + Math.min(r.height, 40) / 2, 0), innerHeight - 1);
  const hit = document.elementFromPoint(x, y);
  return {found: true,
          rendered: el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}),
          width: r.width, height: r.height,
          uncovered: hit !== null && (hit === el || el.contains(hit)),
          text: el.innerText};
}
"""

# The middle of the <summary> of the closest closed <details> around the element, or null.
CLOSED_SUMMARY_JS = """
(selector) => {
  const el = document.querySelector(selector);
  const closed = el && el.parentElement ? el.parentElement.closest("details:not([open])") : null;
  const summary = closed ? closed.querySelector(":scope > summary") : null;
  if (!summary) return null;
  summary.scrollIntoView({block: "center"});
  const r = summary.getBoundingClientRect();
  return {x: r.left + r.width / 2, y: r.top + r.height / 2};
}
"""


def chromium_binary() -> str:
    """Chromium, or a loud failure under CI and a skip elsewhere."""
    found = os.environ.get("VGIS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    why = f"headless Chromium is not installed; install it with: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the browser check must run: {why}", pytrace=False)
    pytest.skip(why)


def _high_fd(fd: int) -> int:
    """The same pipe end at a number above 4, so moving the child's ends onto 3 and 4 clobbers nothing."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """Headless Chromium driven over the DevTools pipe: requests are NUL-terminated JSON on fd 3, answers on fd 4.

    The pipe spares a websocket client and a matching chromedriver; every
    command used here (Target, Page, Runtime, Input) is the stable protocol.
    """

    def __init__(self, binary: str, profile: Path) -> None:
        to_child_r, self._to_child = map(_high_fd, os.pipe())
        self._from_child, from_child_w = map(_high_fd, os.pipe())

        def onto_3_and_4() -> None:
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        argv = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            argv, preexec_fn=onto_3_and_4, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._ids = iter(range(1, 1 << 30))
        self.events: list[dict[str, Any]] = []
        self.session = ""
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
            self.send("Page.enable")
            self.send(
                "Emulation.setDeviceMetricsOverride",
                width=VIEWPORT[0],
                height=VIEWPORT[1],
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self.close()
            raise

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit {self.process.poll()}): {err[-2000:]}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, *, session: bool = True, **params: Any) -> dict[str, Any]:
        """One command, to the page's session unless ``session=False``; returns its result."""
        ident = next(self._ids)
        request: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session and self.session:
            request["sessionId"] = self.session
        os.write(self._to_child, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._message(deadline)
            if message.get("id") != ident:
                self.events.append(message)
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def wait_for(self, event: str) -> None:
        """Until ``event`` arrives (events already seen count)."""
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._message(deadline))

    def open(self, path: Path) -> None:
        """Load a file and wait until it has loaded."""
        self.events.clear()
        self.send("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def call(self, function: str, *args: Any) -> Any:
        """Evaluate a JavaScript function with JSON arguments in the page; returns its JSON value."""
        expression = f"({function})(...{json.dumps(list(args))})"
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A left click at viewport coordinates, as the mouse sends it."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def visible(self, selector: str) -> dict[str, Any]:
        """What a reader sees of ``selector``, after opening any collapsed <details> around it by clicking."""
        for _ in range(10):
            summary = self.call(CLOSED_SUMMARY_JS, selector)
            if summary is None:
                break
            self.click(summary["x"], summary["y"])
        seen: dict[str, Any] = self.call(VISIBILITY_JS, selector)
        return seen

    def screenshot(self, path: Path) -> bytes:
        """The whole page (up to ``SCREENSHOT_MAX_HEIGHT`` px tall) as PNG."""
        self.call("() => window.scrollTo(0, 0)")
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": VIEWPORT[0], "height": min(size["height"], SCREENSHOT_MAX_HEIGHT), "scale": 1}
        data = base64.b64decode(
            self.send("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def close(self) -> None:
        """Ask Chromium to quit, then make sure it did."""
        try:
            self.send("Browser.close", session=False)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_child, self._from_child):
            os.close(fd)
        if self.process.stderr:
            self.process.stderr.close()


def assert_visible(browser: Browser, selector: str, what: str) -> str:
    """Fail unless ``selector`` is on screen as a reader sees it; returns its rendered text."""
    seen = browser.visible(selector)
    shown = {k: v[:200] if isinstance(v, str) else v for k, v in seen.items()}
    assert seen["found"], f"report.html has no {what} ({selector})"
    assert seen["rendered"], f"the {what} ({selector}) is in the page but not rendered: {shown}"
    assert seen["width"] > 0 and seen["height"] > 0, f"the {what} ({selector}) has no size: {shown}"
    assert seen["uncovered"], f"something is drawn over the {what} ({selector}): {shown}"
    assert seen["text"].strip(), f"the {what} ({selector}) shows no text"
    return str(seen["text"])


def screenshot_path() -> Path:
    """``reports/report-html.png`` of the folder the tests run in, or under ``VGIS_SCREENSHOT_DIR``."""
    return Path(os.environ.get("VGIS_SCREENSHOT_DIR") or "reports") / "report-html.png"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "the screenshot is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_html_shows_matrices_failure_diff_and_replay_in_chromium(tmp_path: Path) -> None:
    binary = chromium_binary()
    run = run_broken(DEFECT, SELECT, tmp_path, "--peer", "python-reference")
    assert run.returncode == 1, run.output[-3000:]
    outcomes = {(c["case_id"], tuple(c["peers"])): c["outcome"] for c in run.report["cases"]}
    assert outcomes[(FAILING_CASE, (BROKEN,))] == "failed", outcomes
    assert outcomes[(FAILING_CASE, ("python-reference",))] == "passed", outcomes
    assert {p["name"]: p["language"] for p in run.report["peers"]} == {BROKEN: "python", "python-reference": "python"}
    assert_clean(run)

    browser = Browser(binary, tmp_path / "chromium-profile")
    try:
        browser.open(tmp_path / "report" / "report.html")
        matrix = assert_visible(browser, "#peer-matrix", "peer x case group matrix")
        assert f"{BROKEN} (python)" in matrix, f"the matrix does not name hello's language: {matrix!r}"
        assert "BAD" in matrix and "ok" in matrix, matrix
        grid = assert_visible(browser, "#pair-grid", "producer x consumer grid")
        assert f"{BROKEN} (python)" in grid and "python-reference (python)" in grid, grid
        assert "BAD" in grid and "1 ok" in grid, grid
        problem = f'.problem[data-case="{FAILING_CASE}"][data-peers="{BROKEN}"]'
        title = assert_visible(browser, f"{problem} h3", "failure's title")
        assert FAILING_CASE in title, title
        diff = assert_visible(browser, f"{problem} .diff", "failure's diff")
        assert "num_allocs @ byte 16 (HDR-5)" in diff, f"the diff does not name the field and clause: {diff!r}"
        replay = assert_visible(browser, f"{problem} .replay", "failure's replay command")
        assert f"vgis-conformance replay --report {tmp_path / 'report' / 'report.json'}" in replay, replay
        assert f"--case {FAILING_CASE}" in replay and f"--peer-cmd '{BROKEN}=" in replay, replay
        png = browser.screenshot(screenshot_path())
    finally:
        browser.close()
    width, height = png_size(png)
    assert width == VIEWPORT[0] and height > VIEWPORT[1] // 2, (width, height)
