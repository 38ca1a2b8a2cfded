"""codex: how the tests run it against the stand-in."""

from __future__ import annotations

from pathlib import Path

from . import AgentRun, _base_env


def args(cwd: Path, url: str, trusted: bool = True, provider: bool = True) -> list[str]:
    """Codex's settings as `-c` flags (nothing is written to its config.toml). Without the
    provider Codex asks to sign in; without the trust entry it asks to trust the folder."""
    a: list[str] = []
    if provider:
        a += ["-c", 'model_provider="standin"',
              "-c", ('model_providers.standin={name="standin",base_url="%s/v1",'
                     'wire_api="responses",env_key="STANDIN_KEY"}' % url),
              "-c", 'model="gpt-standin"']
    if trusted:
        a += ["-c", 'projects={"%s"={trust_level="trusted"}}' % cwd]
    # on-request + read-only: a command the model asks to run outside the sandbox
    # (`require_escalated`) opens the approval dialog.
    a += ["-c", 'approval_policy="on-request"', "-c", 'sandbox_mode="read-only"',
          "-c", "check_for_update_on_startup=false"]
    return a


def env(home: Path, url: str) -> dict[str, str]:
    """The environment Codex runs with; a resume must pass it again, and a test reading
    usage live needs its CODEX_HOME."""
    return _base_env(home) | {"CODEX_HOME": str(home / ".codex"), "STANDIN_KEY": "stand-in-key"}


def setup(exe: str, home: Path, cwd: Path, url: str) -> AgentRun:
    (home / ".codex").mkdir(parents=True, exist_ok=True)
    return AgentRun("codex", args(cwd, url), env(home, url), "AGENT_SESSIONS_CODEX_BIN", exe)
