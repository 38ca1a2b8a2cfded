"""Shared runner of the ready hooks: stdin in, one JSON line out, exit status 0 always."""

from __future__ import annotations

import sys


def run(name: str) -> int:
    try:
        data = sys.stdin.buffer.read()
    except Exception:  # closed or unreadable stdin: answered as empty input
        data = b""
    try:
        from agent_sessions import _native

        out = _native.run_hook(name, data)
    except Exception as e:  # a broken installation: still answer, never block
        import json

        out = json.dumps({"reason": "error", "error": f"agent_sessions hook failed: {e}"})
        try:
            sys.stderr.write(f"agent_sessions {name}: {e}\n")
        except Exception:
            pass
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
    return 0
