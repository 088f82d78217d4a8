"""The harness side of the peer protocol: one peer process, many requests.

A peer is a separate process in its own language. Everything that can go wrong
with it (crash, hang, garbage on stdout, a wrong id) becomes a typed exception
naming the peer and the request, and the process is killed with its whole
process group so a hung peer cannot outlive the case.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from vgis_conformance.outcomes import CRASH, TIMEOUT

PROTOCOL_VERSION = 1
Json = dict[str, Any]


class PeerFailure(Exception):
    """The peer process misbehaved; the case fails with this outcome label."""

    outcome = CRASH


class PeerCrashed(PeerFailure):
    """The peer exited or closed stdout while a request was pending."""

    outcome = CRASH


class PeerKilled(PeerCrashed):
    """The harness killed the peer with SIGKILL while a request was in flight (stress cases)."""

    outcome = CRASH


def exit_description(code: int) -> str:
    """``exited with status 3``, or ``was killed by SIGKILL`` for a signal."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (exit status {code})"
    return f"exited with status {code}"


class PeerTimeout(PeerFailure):
    """The peer did not answer within the per-request timeout."""

    outcome = TIMEOUT


class PeerGarbage(PeerFailure):
    """The peer wrote something that is not a protocol response."""

    outcome = CRASH


class PeerError(Exception):
    """A well-formed error response: the peer rejected the request."""

    def __init__(self, peer: str, request: Json, kind: str, message: str) -> None:
        super().__init__(f"{peer} answered {request.get('op')} with {kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass
class Exchange:
    """One request and what came back, kept for replay recipes."""

    request: Json
    response: Json | None = None


@dataclass
class PeerProcess:
    """A running peer; ``request`` sends one request and waits for its answer."""

    name: str
    argv: Sequence[str]
    cwd: Path
    log_path: Path
    timeout: float = 10.0
    env: dict[str, str] | None = None
    history: list[Exchange] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None
    _next_id: int = 0
    _buffer: bytes = b""
    _pending: list[Exchange] = field(default_factory=list)

    def start(self) -> None:
        """Spawn the process in its own process group, stderr to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env={**os.environ, **(self.env or {})},
            )
        except OSError as exc:
            raise PeerCrashed(f"{self.name}: cannot start {' '.join(self.argv)}: {exc}") from exc
        finally:
            log.close()
        self._buffer = b""

    @property
    def pid(self) -> int | None:
        """The process id, while running."""
        return None if self._proc is None else self._proc.pid

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._proc is not None and self._proc.poll() is None

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the peer wrote to stderr, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """Kill the whole process group and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        proc.wait()

    def stop(self) -> None:
        """Ask politely (``shutdown``), then kill whatever is left."""
        if self.alive:
            try:
                self.request("shutdown", _timeout=3.0)
            except (PeerFailure, PeerError):
                pass
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=3.0)
                except subprocess.TimeoutExpired:
                    pass
        self.kill()

    def _fail(self, exc_type: type[PeerFailure], what: str) -> PeerFailure:
        tail = self.stderr_tail()
        self.kill()
        detail = f"\n--- {self.name} stderr (tail) ---\n{tail}" if tail else ""
        return exc_type(f"{self.name}: {what}{detail}")

    def _read_line(self, deadline: float, request: Json) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(PeerTimeout, f"no answer to {request['op']} within the timeout")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = self._proc.wait()
                raise self._fail(PeerCrashed, f"{exit_description(code)} during {request['op']}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _send(self, op: str, args: dict[str, Any]) -> tuple[Json, Exchange]:
        if not self.alive or self._proc is None or self._proc.stdin is None:
            raise PeerCrashed(f"{self.name}: not running (request {op})")
        self._next_id += 1
        request: Json = {"id": self._next_id, "op": op, **args}
        exchange = Exchange(request)
        self.history.append(exchange)
        try:
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
        except OSError:
            code = self._proc.wait()
            raise self._fail(PeerCrashed, f"{exit_description(code)} before {op}") from None
        return request, exchange

    def request_and_kill(
        self, op: str, *, when: Callable[[], bool] | None = None, within: float = 5.0, **args: Any
    ) -> NoReturn:
        """Send ``op``, then SIGKILL the process group while the request is in flight.

        The kill comes as soon as the request is written, or once ``when()``
        holds (polled every millisecond, at most ``within`` seconds, and no
        longer than until an answer is waiting). Whatever the peer did
        meanwhile, this raises ``PeerKilled`` (outcome crash), saying how far
        into the request the kill came and whether an answer was waiting.
        """
        request, _ = self._send(op, args)
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()

        def answered() -> bool:
            return b"\n" in self._buffer or bool(select.select([fd], [], [], 0)[0])

        started = time.monotonic()
        deadline = started + within
        while when is not None and self.alive and time.monotonic() < deadline and not answered() and not when():
            time.sleep(0.001)
        elapsed = time.monotonic() - started
        exited, waiting = self._proc.poll(), answered()
        self.kill()
        state = (
            f"it had {exit_description(exited)} already"
            if exited is not None
            else "it had answered already"
            if waiting
            else "no answer yet"
        )
        raise PeerKilled(
            f"{self.name}: killed with SIGKILL by the harness {elapsed * 1000:.0f} ms into {op} "
            f"(request id {request['id']}; {state})"
        )

    def request(self, op: str, _timeout: float | None = None, **args: Any) -> Json:
        """Send ``op`` with ``args``; return the result fields or raise ``PeerError``."""
        _, exchange = self._send(op, args)
        return self._answer(exchange, _timeout)

    def _answer(self, exchange: Exchange, timeout: float | None) -> Json:
        """Read and check the answer to ``exchange``: one JSON object echoing its id."""
        request = exchange.request
        op = request["op"]
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        line = self._read_line(deadline, request)
        try:
            response = json.loads(line)
        except ValueError:
            raise self._fail(PeerGarbage, f"wrote a non-JSON line in answer to {op}: {line[:200]!r}") from None
        if not isinstance(response, dict):
            raise self._fail(PeerGarbage, f"answered {op} with a non-object: {line[:200]!r}")
        exchange.response = response
        if response.get("id") != request["id"]:
            raise self._fail(PeerGarbage, f"answered request id {request['id']} ({op}) with id {response.get('id')!r}")
        if response.get("ok") is True:
            return {k: v for k, v in response.items() if k not in ("id", "ok")}
        error = response.get("error")
        if response.get("ok") is not False or not isinstance(error, dict) or "kind" not in error:
            raise self._fail(PeerGarbage, f"answered {op} with a malformed response: {line[:200]!r}")
        raise PeerError(self.name, request, str(error["kind"]), str(error.get("message", "")))

    def send(self, op: str, **args: Any) -> int:
        """Send ``op`` without waiting for its answer; returns the request id for ``receive``.

        For requests that block until another process acts (the bench op's
        ``pipe_read``). Answers come in order: ``receive`` them in the order
        sent, and before any ``request``.
        """
        request, exchange = self._send(op, args)
        self._pending.append(exchange)
        return int(request["id"])

    def receive(self, request_id: int, timeout: float | None = None) -> Json:
        """Wait for the answer to a request made with ``send``; result fields, or raise ``PeerError``."""
        if not self._pending or self._pending[0].request["id"] != request_id:
            waiting = [e.request["id"] for e in self._pending]
            raise ValueError(f"{self.name}: receive({request_id}) out of order; pending ids {waiting}")
        exchange = self._pending.pop(0)
        if self._proc is None:
            raise PeerCrashed(f"{self.name}: not running (answer to {exchange.request['op']})")
        return self._answer(exchange, timeout)
