"""Finds the ``agent-sessions`` executable installed with this package, which also hosts
sessions (its hidden ``__host`` mode).

The wheel installs it as a script (``<prefix>/bin/agent-sessions``, from the wheel's
``agent_sessions.data/scripts``); a Python extension module cannot carry an executable
itself. ``$AGENT_SESSIONS_HOST_BIN`` overrides everything (the core reads it).
"""

from __future__ import annotations

import os
import sys

_NAME = "agent-sessions"
_cache: list[str | None] = []


def _candidates() -> list[str]:
    import sysconfig

    out: list[str] = []
    # The interpreter's own scripts folder (the venv's bin, even when not activated).
    try:
        out.append(sysconfig.get_path("scripts"))
    except KeyError:
        pass
    out.append(os.path.dirname(sys.executable))
    # `pip install --user`.
    try:
        out.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    return [os.path.join(d, _NAME) for d in out if d]


def _from_record() -> str | None:
    """The script's path as recorded by the installer (covers --prefix and --target)."""
    try:
        from importlib import metadata

        files = metadata.files("agent-sessions") or []
    except Exception:
        return None
    for f in files:
        if f.name == _NAME:
            p = str(f.locate())
            if os.path.isfile(p):
                return os.path.realpath(p)
    return None


def host_binary() -> str | None:
    """Path of the installed ``agent-sessions`` executable, or None to let the core search
    (``$AGENT_SESSIONS_HOST_BIN``, beside the running program, then PATH)."""
    if os.environ.get("AGENT_SESSIONS_HOST_BIN"):
        return None
    if _cache:
        return _cache[0]
    found: str | None = None
    for c in _candidates():
        if os.path.isfile(c) and os.access(c, os.X_OK):
            found = c
            break
    if found is None:
        found = _from_record()
    _cache.append(found)
    return found
