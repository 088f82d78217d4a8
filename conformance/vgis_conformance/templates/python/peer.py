"""A VGIS peer: one JSON request per line on stdin, one response per line on stdout (docs/peer-protocol.md).

It answers ``hello`` and ``shutdown``; every other op is ``unsupported`` until
you implement it. Logs go to stderr: stdout carries responses only.
"""

from __future__ import annotations

import json
import sys
from typing import Any

Json = dict[str, Any]
NAME = "@PEER_NAME@"
CAPABILITIES: list[str] = []  # keep equal to peer.toml's list


class Rejected(Exception):
    """An error answer: ``kind`` is one of the protocol's error kinds."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def hello(req: Json) -> Json:
    """Who this peer is; ``arrow`` names the Arrow library once you use one."""
    return {"name": NAME, "version": "0.1.0", "language": "python", "protocol": 1,
            "arrow": {"library": "none", "version": "0"}, "capabilities": CAPABILITIES}


def shutdown(req: Json) -> Json:
    """Close and unlink what this peer holds (nothing yet); the loop then exits."""
    return {}


OPS = {"hello": hello, "shutdown": shutdown}


def answer(line: str) -> tuple[Json, bool]:
    """The response to one request line, and whether the peer should stop."""
    try:
        req = json.loads(line)
    except ValueError as exc:
        return {"id": None, "ok": False, "error": {"kind": "bad_request", "message": f"not JSON: {exc}"}}, False
    op = req.get("op") if isinstance(req, dict) else None
    rid = req.get("id") if isinstance(req, dict) else None
    try:
        handler = OPS.get(str(op))
        if handler is None:
            raise Rejected("unsupported", f"op {op!r} is not implemented yet")
        return {"id": rid, "ok": True, **handler(req)}, op == "shutdown"
    except Rejected as exc:
        return {"id": rid, "ok": False, "error": {"kind": exc.kind, "message": str(exc)}}, False
    except Exception as exc:  # a peer never crashes on a request
        return {"id": rid, "ok": False, "error": {"kind": "internal", "message": repr(exc)}}, False


def main() -> None:
    """Answer requests until shutdown or end of stdin."""
    for line in sys.stdin:
        if not line.strip():
            continue
        response, stop = answer(line)
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()
        if stop:
            break


if __name__ == "__main__":
    main()
