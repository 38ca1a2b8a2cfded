"""claude: how the tests run it against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from . import AgentRun, _base_env


def env(home: Path, url: str) -> dict[str, str]:
    """The environment Claude Code runs with; a resume must pass it again (values are never
    stored), and a test reading usage live needs its CLAUDE_CONFIG_DIR."""
    return _base_env(home) | {
        "CLAUDE_CONFIG_DIR": str(home / ".claude"), "ANTHROPIC_BASE_URL": url,
        # A bearer token, not ANTHROPIC_API_KEY: an API key from the environment opens an
        # approval dialog on first use.
        "ANTHROPIC_AUTH_TOKEN": "stand-in-token",
        "ANTHROPIC_MODEL": "claude-sonnet-4-5", "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-4-5",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}


def write_config(home: Path, cwd: Path, onboarded: bool = True, trusted: bool = True) -> None:
    """The global config: onboarding done and `cwd` trusted, so Claude Code opens at its
    prompt. Without them it shows its first-run screens (for the captures)."""
    cfg = home / ".claude"
    cfg.mkdir(parents=True, exist_ok=True)
    conf: dict[str, object] = {}
    if onboarded:
        conf |= {"hasCompletedOnboarding": True, "lastOnboardingVersion": "2.1.197"}
    if trusted:
        conf["projects"] = {str(cwd): {"hasTrustDialogAccepted": True,
                                       "hasCompletedProjectOnboarding": True}}
    (cfg / ".claude.json").write_text(json.dumps(conf))


def setup(exe: str, home: Path, cwd: Path, url: str) -> AgentRun:
    write_config(home, cwd)
    return AgentRun("claude", [], env(home, url), "AGENT_SESSIONS_CLAUDE_BIN", exe)
