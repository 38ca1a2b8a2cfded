"""How each real agent CLI is run in the tests: its pinned executable (installed by
scripts/install_agents.sh), a private config home, and the documented settings that point
it at the stand-in API. Nothing here reads or writes the machine user's own files."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[3]


def installed() -> dict[str, str]:
    """Runs the install script (it installs what is missing) and returns name → executable.
    Raises when an install fails: the real-agent tests fail then, they never skip."""
    out = subprocess.run([str(REPO / "scripts" / "install_agents.sh")], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/install_agents.sh failed:\n{out.stderr}")
    return dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)


@dataclass
class AgentRun:
    """What `SessionManager.start` needs to run one agent against the stand-in."""

    agent: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: The environment variable naming the agent's executable for agent-sessions.
    bin_env: str = ""
    bin: str = ""


def _base_env(home: Path) -> dict[str, str]:
    # A private HOME and XDG folders: whatever an agent writes lands in the test's folder.
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_STATE_HOME": str(home / ".local/state"),
           "XDG_CACHE_HOME": str(home / ".cache"), "TERM": "xterm-256color", "NO_BROWSER": "1"}
    for d in (".config", ".local/share", ".local/state", ".cache"):
        (home / d).mkdir(parents=True, exist_ok=True)
    return env



def setups() -> dict[str, Callable[[str, Path, Path, str], AgentRun]]:
    """name → function(executable, private home, working folder, stand-in URL) → AgentRun."""
    from . import claude, codex, gemini, opencode

    return {"claude": claude.setup, "codex": codex.setup, "gemini": gemini.setup,
            "opencode": opencode.setup}
